/**
 * Layers per class: whether a class is shown, locked and how opaque it is,
 * for its objects and its painted pixels alike (issue 11). One home for the
 * decision "may this edit touch a locked class": the annotation store asks
 * `refusal` before a local edit, the mask session asks `lockedNames` before
 * a stroke. The settings are this user's view of this project, kept in a
 * Storage (localStorage in the browser) under a key naming both. They are
 * keyed by class name (a rename gives the class a new mask id, so nothing
 * else stays the same): a rename carries them to the new name (`rename`).
 */
import type { AnnotationStore, Edit, Handle } from './annotation-store.js';

export interface ClassLayer {
  visible: boolean;
  locked: boolean;
  /** 0–1, multiplies the fill and outline of objects and the alpha of painted pixels. */
  opacity: number;
}

/** What a Storage offers that the layers use (localStorage, or a map in tests). */
export interface LayerStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const DEFAULT: ClassLayer = Object.freeze({ visible: true, locked: false, opacity: 1 });

/** The storage key of a user's layers in a project (no PHI: opaque ids only). */
export function layersKey(userId: string | null, projectId: string | null): string {
  return `wsi-annotate.layers.${userId ?? 'anonymous'}.${projectId ?? 'default'}`;
}

function clampOpacity(v: unknown): number {
  const n = typeof v === 'number' && Number.isFinite(v) ? v : 1;
  return Math.max(0, Math.min(1, n));
}

export class ClassLayers {
  private readonly layers = new Map<string, ClassLayer>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly storage: LayerStorage | null = null,
    private readonly key = layersKey(null, null),
  ) {
    this.read();
  }

  private read(): void {
    let raw: string | null = null;
    try {
      raw = this.storage?.getItem(this.key) ?? null;
    } catch {
      raw = null;
    }
    if (!raw) return;
    try {
      const parsed = JSON.parse(raw) as Record<string, Partial<ClassLayer>>;
      for (const [name, l] of Object.entries(parsed)) {
        if (!l || typeof l !== 'object') continue;
        this.layers.set(name, { visible: l.visible !== false, locked: l.locked === true, opacity: clampOpacity(l.opacity) });
      }
    } catch {
      // a damaged entry: the defaults (everything shown, nothing locked)
    }
  }

  private write(): void {
    const out: Record<string, ClassLayer> = {};
    for (const [name, l] of this.layers) if (l.visible !== DEFAULT.visible || l.locked !== DEFAULT.locked || l.opacity !== DEFAULT.opacity) out[name] = l;
    try {
      this.storage?.setItem(this.key, JSON.stringify(out));
    } catch {
      // storage full or refused: the settings last for this page only
    }
  }

  get(name: string | null): ClassLayer {
    return (name !== null ? this.layers.get(name) : undefined) ?? DEFAULT;
  }

  set(name: string, patch: Partial<ClassLayer>): void {
    const cur = this.get(name);
    const next: ClassLayer = {
      visible: patch.visible ?? cur.visible,
      locked: patch.locked ?? cur.locked,
      opacity: patch.opacity === undefined ? cur.opacity : clampOpacity(patch.opacity),
    };
    if (next.visible === cur.visible && next.locked === cur.locked && next.opacity === cur.opacity) return;
    this.layers.set(name, next);
    this.write();
    for (const fn of this.listeners) fn();
  }

  /**
   * A class was renamed (the palette editor's rename): its settings go to
   * the new name, kept at once. A merge (the new name a class already) keeps
   * the target's own settings and drops the merged class's.
   */
  rename(from: string, to: string): void {
    const moved = this.layers.get(from);
    if (from === to || !moved) return;
    this.layers.delete(from);
    if (!this.layers.has(to)) this.layers.set(to, moved);
    this.write();
    for (const fn of this.listeners) fn();
  }

  /** How much of a class is drawn: 0 when hidden, else its opacity. */
  alpha(name: string | null): number {
    const l = this.get(name);
    return l.visible ? l.opacity : 0;
  }

  /** Objects that are drawn but never picked (another reader's read-only layer, src/state/compared-reader.ts); null: none. */
  notPickable: ((h: Handle) => boolean) | null = null;

  /** Whether an object of the store may be picked: drawn at all (a hidden class, or opacity 0: not) and not in a read-only layer. For hit testing. */
  shownIn(store: AnnotationStore): (h: Handle) => boolean {
    return (h) => this.alpha(store.classOf(h)) > 0 && !this.notPickable?.(h);
  }

  isLocked(name: string | null): boolean {
    return this.get(name).locked;
  }

  lockedNames(): string[] {
    return [...this.layers].filter(([, l]) => l.locked).map(([n]) => n);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Why a local edit may not be applied: it creates an object of a locked
   * class, changes or deletes one, or gives one a locked class. Null: allowed.
   */
  refusal(edit: Edit, store: AnnotationStore): string | null {
    const hit = (name: string | null): string | null => (name !== null && this.isLocked(name) ? name : null);
    let locked: string | null = null;
    for (const r of edit.create ?? []) locked ??= hit(r.classification);
    for (const u of edit.update ?? []) {
      const h = store.handleOf(u.id);
      if (h !== undefined) locked ??= hit(store.classOf(h));
      if (u.changes.classification !== undefined) locked ??= hit(u.changes.classification);
    }
    for (const id of edit.delete ?? []) {
      const h = store.handleOf(id);
      if (h !== undefined) locked ??= hit(store.classOf(h));
    }
    return locked === null ? null : lockedMessage(locked);
  }
}

/** What the status line says when a tool meets a locked class. */
export function lockedMessage(name: string): string {
  return `${name} is locked (Layers): nothing was changed. Unlock it in the Layers table to edit it.`;
}
