/**
 * Which browser tab wrote an outbox entry, and whether that tab is still
 * sending that list (TEST-CATALOGUE DATA-19: two tabs of one user on one
 * slide). Every entry records its tab. While a sender is active — from its
 * creation until it stops (its queue is sent, or it is given up after the
 * slide was left) — its tab holds a Web Lock named after the list and the
 * tab. A tab resuming a list adopts its own entries, entries written before
 * owners were kept, and entries of tabs with no active sender for that list
 * (closed, crashed, or gone elsewhere and stopped: DATA-01) — never those of
 * a sender that is still at work, so two tabs never send or re-apply the
 * same queue. Adoption runs under a lock of its own, so two tabs opening at
 * once cannot both adopt the same orphans.
 *
 * Web Locks exist only in secure contexts (HTTPS, localhost). Elsewhere (a
 * server reached over plain HTTP on the LAN) tabs answer a BroadcastChannel
 * roll call instead: a tab that does not answer within ROLL_CALL_MS has no
 * active sender. Without either (Node) every entry is adopted; the server's
 * operation ids still keep a double send from applying twice.
 */
const PREFIX = 'wsi-annotate-sender:';
const ROLL_CALL_MS = 250;

function randomId(): string {
  const c = globalThis.crypto;
  if (c && 'randomUUID' in c) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** This tab's id, written into every outbox entry it makes. */
export const TAB_ID = randomId();

function locks(): LockManager | null {
  const nav = globalThis.navigator as Navigator | undefined;
  return nav?.locks ?? null;
}

/** Lists this tab is sending, with how many senders for each. */
const active = new Map<string, number>();
let channel: BroadcastChannel | null = null;

interface RollCall {
  kind: 'who' | 'here';
  list: string;
  nonce: string;
  tab?: string;
}

/** The roll-call channel, in a browser without Web Locks; null elsewhere. */
function rollCall(): BroadcastChannel | null {
  if (locks() || typeof window === 'undefined' || typeof BroadcastChannel === 'undefined') return null;
  if (!channel) {
    channel = new BroadcastChannel('wsi-annotate-senders');
    channel.onmessage = (e: MessageEvent<RollCall>) => {
      const m = e.data;
      if (m?.kind === 'who' && active.has(m.list)) channel?.postMessage({ kind: 'here', list: m.list, nonce: m.nonce, tab: TAB_ID } satisfies RollCall);
    };
  }
  return channel;
}

/**
 * Marks this tab as sending `list` until the returned function is called.
 * Resolves the returned promise once that is visible to other tabs.
 */
export function announceSender(list: string): { ready: Promise<void>; release: () => void } {
  active.set(list, (active.get(list) ?? 0) + 1);
  let released = false;
  let unlock: () => void = () => undefined;
  const l = locks();
  let ready = Promise.resolve();
  if (l) {
    ready = new Promise<void>((granted) => {
      // several senders of one tab for one list (a leaving one, a new one) share the name: each waits its turn
      void l.request(`${PREFIX}${list}:${TAB_ID}`, { mode: 'shared' }, () => {
        granted();
        return new Promise<void>((r) => {
          unlock = r;
          if (released) r();
        });
      });
    });
  } else rollCall();
  return {
    ready,
    release: () => {
      if (released) return;
      released = true;
      const n = (active.get(list) ?? 1) - 1;
      if (n > 0) active.set(list, n);
      else active.delete(list);
      unlock();
    },
  };
}

/** Tabs other than this one with an active sender for `list`, or null when that cannot be known. */
export async function activeSenders(list: string): Promise<Set<string> | null> {
  const l = locks();
  const tabs = new Set<string>();
  if (l) {
    const q = await l.query();
    const prefix = `${PREFIX}${list}:`;
    for (const h of q.held ?? []) if (h.name?.startsWith(prefix)) tabs.add(h.name.slice(prefix.length));
    tabs.delete(TAB_ID);
    return tabs;
  }
  const ch = rollCall();
  if (!ch) return null;
  const nonce = randomId();
  const listen = (e: MessageEvent<RollCall>): void => {
    if (e.data?.kind === 'here' && e.data.nonce === nonce && e.data.tab) tabs.add(e.data.tab);
  };
  ch.addEventListener('message', listen);
  ch.postMessage({ kind: 'who', list, nonce } satisfies RollCall);
  await new Promise((r) => setTimeout(r, ROLL_CALL_MS));
  ch.removeEventListener('message', listen);
  tabs.delete(TAB_ID);
  return tabs;
}

/** Runs `fn` while holding the named lock (directly, without Web Locks). */
export async function exclusively<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const l = locks();
  if (!l) return fn();
  return l.request(`wsi-annotate:${name}`, fn);
}
