/**
 * Edits of the selected annotations, each one change set (one undo step):
 * union, subtract, lock, set class, delete. Locked objects are left alone.
 * The panel's buttons and the keys both call these.
 */
import { GeomType } from '../core/flat-geometry.js';
import type { AnnotationStore, Handle } from '../state/annotation-store.js';
import type { Selection } from '../state/selection.js';
import { subtract as subtractGeometry, unionAll } from './geometry-ops.js';

export interface SelectionTarget {
  store: AnnotationStore;
  selection: Selection;
}

export function selectedHandles({ store, selection }: SelectionTarget): Handle[] {
  return selection
    .list()
    .map((id) => store.handleOf(id))
    .filter((h): h is Handle => h !== undefined);
}

function isArea(store: AnnotationStore, h: Handle): boolean {
  const t = store.geometry(h).type;
  return t === GeomType.Polygon || t === GeomType.MultiPolygon;
}

/** Merges the selected regions into the first one. */
export function unionSelected(t: SelectionTarget): boolean {
  const store = t.store;
  const hs = selectedHandles(t).filter((h) => isArea(store, h) && !store.lockedOf(h));
  if (hs.length < 2) return false;
  const g = unionAll(hs.map((h) => store.record(h).geometry));
  if (!g) return false;
  const [first, ...rest] = hs as [Handle, ...Handle[]];
  store.apply({ update: [{ id: store.idOf(first), changes: { geometry: g, kind: 'polygon' } }], delete: rest.map((h) => store.idOf(h)) }, 'local', `Union of ${hs.length}`);
  t.selection.set([store.idOf(first)]);
  return true;
}

/** Cuts the other selected regions out of the first selected one. */
export function subtractSelected(t: SelectionTarget): boolean {
  const store = t.store;
  const [first, ...rest] = selectedHandles(t).filter((h) => isArea(store, h));
  if (first === undefined || rest.length === 0 || store.lockedOf(first)) return false;
  const g = subtractGeometry(store.record(first).geometry, rest.map((h) => store.record(h).geometry));
  if (!g) {
    store.apply({ delete: [store.idOf(first)] }, 'local', 'Subtract (nothing left)');
    return true;
  }
  store.apply({ update: [{ id: store.idOf(first), changes: { geometry: g, kind: 'polygon' } }] }, 'local', 'Subtract');
  return true;
}

export function toggleLockSelected(t: SelectionTarget): boolean {
  const store = t.store;
  const hs = selectedHandles(t);
  if (hs.length === 0) return false;
  const lock = hs.some((h) => !store.lockedOf(h));
  store.apply({ update: hs.map((h) => ({ id: store.idOf(h), changes: { locked: lock } })) }, 'local', lock ? 'Lock' : 'Unlock');
  return true;
}

/**
 * "Set class of selection": gives the selected objects (not locked, not of
 * that class already) the class `name`, as one undo step. Picking a class in
 * the palette or with its key never calls this: that only chooses the class
 * of new objects and paint. Returns how many objects changed.
 */
export function classifySelected(t: SelectionTarget, name: string | null): number {
  return classifyHandles(t.store, selectedHandles(t), name);
}

/** Gives objects (not locked, not of that class already) the class `name`, as one undo step; returns how many changed. The annotation list's "Set class" uses it too. */
export function classifyHandles(store: AnnotationStore, handles: Iterable<Handle>, name: string | null): number {
  const hs = [...handles].filter((h) => store.isLive(h) && !store.lockedOf(h) && store.classOf(h) !== name);
  if (hs.length === 0) return 0;
  const cs = store.apply({ update: hs.map((h) => ({ id: store.idOf(h), changes: { classification: name } })) }, 'local', `Set class ${name ?? '(none)'} on ${hs.length} object${hs.length === 1 ? '' : 's'}`);
  return cs.refused === undefined ? hs.length : 0;
}

export function deleteSelected(t: SelectionTarget): boolean {
  return deleteHandles(t.store, selectedHandles(t)) > 0;
}

/** Deletes objects (locked ones are kept) as one undo step; returns how many. The annotation list's "Delete" uses it too. */
export function deleteHandles(store: AnnotationStore, handles: Iterable<Handle>): number {
  const hs = [...handles].filter((h) => store.isLive(h) && !store.lockedOf(h));
  if (hs.length === 0) return 0;
  const cs = store.apply({ delete: hs.map((h) => store.idOf(h)) }, 'local', hs.length > 1 ? `Delete ${hs.length} objects` : 'Delete');
  return cs.refused === undefined ? hs.length : 0;
}
