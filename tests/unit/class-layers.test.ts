/**
 * Layers per class (issue 11) without a browser: the settings and where
 * they are kept (per user, per project; a damaged entry gives the
 * defaults), the lock as the annotation store's edit guard (a refused edit
 * changes nothing, says why, and undo keeps its step), and the mask's paint
 * job leaving a locked class's pixels as they are (counted directly).
 */
import { describe, expect, it } from 'vitest';
import type { AnnotationRecord } from '../../src/state/annotation-store.js';
import { rect } from '../helpers/records.js';
import { AnnotationStore } from '../../src/state/annotation-store.js';
import { ClassLayers, layersKey, type LayerStorage } from '../../src/state/class-layers.js';
import { UndoManager } from '../../src/state/undo.js';
import { hitTest } from '../../src/state/hit-test.js';
import { SpatialIndex } from '../../src/state/spatial-index.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { decodeTileInto, encodeTile } from '../../src/core/mask/rle.js';
import { paint } from '../../workers/mask-ops.js';

class MemoryStorage implements LayerStorage {
  readonly items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
}

function rec(id: string, classification: string | null): AnnotationRecord {
  return { ...rect(0, 0, 10, 10), id, classification, version: 1 };
}

describe('ClassLayers', () => {
  it('keeps visibility, lock and opacity per user and project, and reads them back', () => {
    const storage = new MemoryStorage();
    const a = new ClassLayers(storage, layersKey('u1', 'p1'));
    expect(a.get('Tumour')).toEqual({ visible: true, locked: false, opacity: 1 });
    a.set('Tumour', { visible: false, opacity: 0.4 });
    a.set('Stroma', { locked: true });
    a.set('Necrosis', { opacity: 7 }); // clamped
    expect(a.alpha('Tumour')).toBe(0);
    expect(a.get('Necrosis').opacity).toBe(1);
    expect(a.lockedNames()).toEqual(['Stroma']);
    const again = new ClassLayers(storage, layersKey('u1', 'p1'));
    expect(again.get('Tumour')).toEqual({ visible: false, locked: false, opacity: 0.4 });
    expect(again.isLocked('Stroma')).toBe(true);
    // another user, another project: their own
    expect(new ClassLayers(storage, layersKey('u2', 'p1')).get('Tumour').visible).toBe(true);
    expect(new ClassLayers(storage, layersKey('u1', 'p2')).isLocked('Stroma')).toBe(false);
    expect(layersKey(null, null)).toBe('wsi-annotate.layers.anonymous.default');
  });

  it('DATA-09: a renamed class keeps its settings under the new name (kept in the storage too); a merge keeps the target\'s own', () => {
    const storage = new MemoryStorage();
    const a = new ClassLayers(storage, layersKey('u1', 'p1'));
    a.set('Necrosis', { visible: false, locked: true, opacity: 0.3 });
    a.set('Tumour', { opacity: 0.5 });
    a.set('Stroma', { locked: true });
    let told = 0;
    a.onChange(() => told++);
    a.rename('Necrosis', 'Necrotic tissue');
    expect(told).toBe(1);
    expect(a.get('Necrotic tissue')).toEqual({ visible: false, locked: true, opacity: 0.3 });
    expect(a.get('Necrosis')).toEqual({ visible: true, locked: false, opacity: 1 });
    expect(a.lockedNames().sort()).toEqual(['Necrotic tissue', 'Stroma']);
    expect(new ClassLayers(storage, layersKey('u1', 'p1')).get('Necrotic tissue')).toEqual({ visible: false, locked: true, opacity: 0.3 });
    // merging Tumour into Stroma: Stroma keeps its own settings, Tumour's go
    a.rename('Tumour', 'Stroma');
    expect(a.get('Stroma')).toEqual({ visible: true, locked: true, opacity: 1 });
    expect(a.get('Tumour').opacity).toBe(1);
    // a class with default settings: nothing to carry, nobody told
    a.rename('Lymphocytes', 'Lymphs');
    expect(told).toBe(2);
  });

  it('reads a damaged or hostile entry as the defaults, and lives on when the storage refuses', () => {
    const storage = new MemoryStorage();
    storage.setItem(layersKey('u', 'p'), '{not json');
    expect(new ClassLayers(storage, layersKey('u', 'p')).get('Tumour')).toEqual({ visible: true, locked: false, opacity: 1 });
    storage.setItem(layersKey('u', 'p'), JSON.stringify({ Tumour: { visible: 'no', locked: 'yes', opacity: 'x' }, Stroma: null }));
    expect(new ClassLayers(storage, layersKey('u', 'p')).get('Tumour')).toEqual({ visible: true, locked: false, opacity: 1 });
    const refusing: LayerStorage = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
    };
    const l = new ClassLayers(refusing, 'k');
    l.set('Tumour', { locked: true });
    expect(l.isLocked('Tumour')).toBe(true);
  });

  it('tells its listeners of a change, and only of a change', () => {
    const l = new ClassLayers();
    let n = 0;
    const off = l.onChange(() => n++);
    l.set('Tumour', { opacity: 0.5 });
    l.set('Tumour', { opacity: 0.5 });
    expect(n).toBe(1);
    off();
    l.set('Tumour', { opacity: 0.2 });
    expect(n).toBe(1);
  });
});

describe('a hidden class in hit testing', () => {
  it('cannot be picked: a click passes through to what is drawn underneath, and is picked again once shown', async () => {
    const store = new AnnotationStore();
    const index = new SpatialIndex(store);
    const region: AnnotationRecord = { ...rect(0, 0, 1000, 1000), id: 'region', classification: 'Stroma', version: 1 };
    const cell: AnnotationRecord = { ...rect(100, 100, 20, 20), id: 'cell', classification: 'Tumour', version: 1 };
    store.apply({ create: [region, cell] }, 'remote');
    await index.rebuild();
    const layers = new ClassLayers();
    const pick = (x: number, y: number): string | null => {
      const h = hitTest(store, index, x, y, 3, layers.shownIn(store));
      return h ? store.idOf(h.handle) : null;
    };
    expect(pick(110, 110)).toBe('cell');
    layers.set('Tumour', { visible: false });
    expect(pick(110, 110)).toBe('region');
    layers.set('Stroma', { opacity: 0 });
    expect(pick(110, 110)).toBeNull();
    layers.set('Tumour', { visible: true });
    expect(pick(110, 110)).toBe('cell');
  });
});

describe('a locked class in the annotation store', () => {
  function setup() {
    const store = new AnnotationStore();
    store.apply({ create: [rec('a', 'Tumour'), rec('b', 'Stroma'), rec('c', null)] }, 'remote');
    const layers = new ClassLayers();
    store.editGuard = (e, s) => layers.refusal(e, s);
    const said: string[] = [];
    store.onRefused((reason) => said.push(reason));
    return { store, layers, said };
  }

  it('refuses a create, an update, a relabel to or from it and a delete, changing nothing and saying why', () => {
    const { store, layers, said } = setup();
    layers.set('Tumour', { locked: true });
    let seen = 0;
    store.observe(() => seen++);
    const tries = [
      { create: [rec('d', 'Tumour')] },
      { update: [{ id: 'a', changes: { name: 'x' } }] },
      { update: [{ id: 'b', changes: { classification: 'Tumour' } }] },
      { update: [{ id: 'a', changes: { classification: 'Stroma' } }] },
      { delete: ['a'] },
      // one locked object in a larger edit refuses all of it (one gesture, one answer)
      { delete: ['b', 'a'] },
    ];
    for (const t of tries) expect(store.apply(t, 'local', 'try').refused).toMatch(/Tumour is locked/);
    expect(said).toHaveLength(tries.length);
    expect(seen).toBe(0);
    expect(store.size).toBe(3);
    expect(store.record(store.handleOf('a') as number).classification).toBe('Tumour');
    expect(store.record(store.handleOf('b') as number).classification).toBe('Stroma');
    // other classes, the unclassified, and the server's own changes go through
    expect(store.apply({ update: [{ id: 'b', changes: { name: 'ok' } }] }, 'local').refused).toBeUndefined();
    expect(store.apply({ update: [{ id: 'c', changes: { name: 'ok' } }] }, 'local').refused).toBeUndefined();
    expect(store.apply({ update: [{ id: 'a', changes: { name: 'server' } }] }, 'remote').refused).toBeUndefined();
    expect(seen).toBe(3);
    // unlocked: allowed again
    layers.set('Tumour', { locked: false });
    expect(store.apply({ delete: ['a'] }, 'local').refused).toBeUndefined();
    expect(store.size).toBe(2);
  });

  it('keeps an undo step that a lock refuses, so it can be undone once unlocked', () => {
    const { store, layers } = setup();
    const undo = new UndoManager(store);
    store.apply({ update: [{ id: 'a', changes: { name: 'renamed' } }] }, 'local', 'Rename');
    expect(undo.canUndo).toBe(true);
    layers.set('Tumour', { locked: true });
    expect(undo.undo()).toBe(false);
    expect(undo.canUndo).toBe(true);
    expect(store.record(store.handleOf('a') as number).name).toBe('renamed');
    layers.set('Tumour', { locked: false });
    expect(undo.undo()).toBe(true);
    expect(store.record(store.handleOf('a') as number).name).toBeNull();
  });
});

describe('a locked class in a paint job', () => {
  it('leaves the protected class pixels as they are and counts them', () => {
    const d = new Uint8Array(MASK_TILE_PIXELS);
    // class 3 on rows 10..19 of columns 0..99, class 5 on rows 20..29
    for (let y = 10; y < 20; y++) d.fill(3, y * MASK_TILE, y * MASK_TILE + 100);
    for (let y = 20; y < 30; y++) d.fill(5, y * MASK_TILE, y * MASK_TILE + 100);
    const tile = encodeTile(d);
    const square = new Float64Array([0, 0, 100, 0, 100, 40, 0, 40]);
    const r = paint({ kind: 'polygons', value: 7, polygons: [[square]], tiles: [{ key: '0,0', tile }], bounds: { x0: 0, y0: 0, x1: MASK_TILE, y1: MASK_TILE }, protect: [3] });
    const out = new Uint8Array(MASK_TILE_PIXELS);
    decodeTileInto((r.changed[0] as { tile: typeof tile }).tile, out);
    // count directly
    let three = 0;
    let seven = 0;
    let five = 0;
    for (const v of out) {
      if (v === 3) three++;
      else if (v === 7) seven++;
      else if (v === 5) five++;
    }
    expect(three).toBe(1000);
    expect(five).toBe(0);
    expect(r.kept).toBe(1000);
    expect(seven).toBe(r.pixels);
    expect(seven + three).toBe(100 * 40);
    // erasing protects the same way
    const e = paint({ kind: 'polygons', value: 0, polygons: [[square]], tiles: [{ key: '0,0', tile }], bounds: { x0: 0, y0: 0, x1: MASK_TILE, y1: MASK_TILE }, protect: [3, 5] });
    expect(e.changed).toHaveLength(0);
    expect(e.pixels).toBe(0);
    expect(e.kept).toBe(2000);
  });
});
