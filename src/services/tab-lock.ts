/**
 * Which browser tab wrote an outbox entry, and whether that tab is still
 * open (TEST-CATALOGUE DATA-19: two tabs of one user on one slide). Each
 * tab holds a Web Lock named after its id for as long as it lives. A tab
 * resuming a slide adopts unsent entries of its own, of tabs whose lock is
 * free (closed or crashed: DATA-01) and of entries written before owners
 * were recorded — never those of a tab that is still open, which sends them
 * itself. So two tabs never send or re-apply the same queue. Adoption runs
 * under a lock of its own, so two tabs opening at once cannot both adopt
 * the same orphans. Without Web Locks (Node, very old browsers) every entry
 * is adopted, as before.
 */
const PREFIX = 'wsi-annotate-tab:';

function randomId(): string {
  const c = globalThis.crypto;
  if (c && 'randomUUID' in c) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** This tab's id, written into every outbox entry it makes. */
export const TAB_ID = randomId();

type Locks = LockManager;

function locks(): Locks | null {
  const nav = globalThis.navigator as Navigator | undefined;
  return nav?.locks ?? null;
}

let holding: Promise<void> | null = null;

/** Takes this tab's lock (once); it is released only when the tab goes away. */
export function holdTabLock(): Promise<void> {
  const l = locks();
  if (!l) return Promise.resolve();
  holding ??= new Promise<void>((granted) => {
    void l.request(PREFIX + TAB_ID, () => {
      granted();
      return new Promise<void>(() => undefined);
    });
  });
  return holding;
}

/** Ids of the tabs that are open now, or null when Web Locks are not available. */
export async function openTabs(): Promise<Set<string> | null> {
  const l = locks();
  if (!l) return null;
  const q = await l.query();
  const ids = new Set<string>();
  for (const h of q.held ?? []) if (h.name?.startsWith(PREFIX)) ids.add(h.name.slice(PREFIX.length));
  return ids;
}

/** Runs `fn` while holding the named lock (or directly, without Web Locks). */
export async function exclusively<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const l = locks();
  if (!l) return fn();
  return l.request(`wsi-annotate:${name}`, fn);
}
