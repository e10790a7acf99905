import { describe, expect, it } from 'vitest';
import { rect } from '../helpers/records.js';
import type { Geometry } from '../../src/core/annotation.js';
import { flatten, unflatten } from '../../src/core/flat-geometry.js';
import { AnnotationStore, type AnnotationRecord, type ChangeSet } from '../../src/state/annotation-store.js';
import { hitTest } from '../../src/state/hit-test.js';
import { SpatialIndex, localBuilder } from '../../src/state/spatial-index.js';
import { UndoManager } from '../../src/state/undo.js';


describe('flat geometry', () => {
  it.each<Geometry>([
    { type: 'Point', coordinates: [1.5, 2.25] },
    { type: 'MultiPoint', coordinates: [[1, 2], [3, 4]] },
    { type: 'LineString', coordinates: [[0, 0], [10, 5], [20, 0]] },
    { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 0]], [[2, 2], [3, 2], [3, 3], [2, 2]]] },
    { type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 5]], [[5.2, 5.2], [5.3, 5.2], [5.3, 5.3], [5.2, 5.2]]]] },
  ])('round-trips %j', (g) => {
    expect(unflatten(flatten(g))).toEqual(g);
  });
});

describe('client annotation store', () => {
  it('applies edits as change sets tagged with their origin', () => {
    const store = new AnnotationStore();
    const seen: ChangeSet[] = [];
    store.observe((cs) => seen.push(cs));
    const a = rect(0, 0, 10, 10, { name: 'a', properties: { x: 1 } });
    store.apply({ create: [a] }, 'local', 'Draw');
    store.apply({ update: [{ id: a.id, changes: { classification: 'Stroma' } }] }, 'remote');
    store.apply({ delete: [a.id] }, 'local');
    expect(seen.map((c) => [c.origin, c.created.length, c.updated.length, c.deleted.length])).toEqual([
      ['local', 1, 0, 0],
      ['remote', 0, 1, 0],
      ['local', 0, 0, 1],
    ]);
    expect(seen[1]?.updated[0]?.before.classification).toBe('Tumour');
    expect(seen[2]?.deleted[0]?.before).toMatchObject({ name: 'a', classification: 'Stroma', properties: { x: 1 } });
    expect(store.size).toBe(0);
    expect(store.has(a.id)).toBe(false);
  });

  it('materialises records exactly', () => {
    const store = new AnnotationStore();
    const a = rect(0.1, 0.2, 10.3, 10.4, { name: 'x', note: 'n', locked: true, kind: 'rectangle', version: 3 });
    store.apply({ create: [a] }, 'remote');
    expect(store.record(store.handleOf(a.id) as number)).toEqual(a);
  });

  it('undoes and redoes one gesture at a time, including deletes of many objects', () => {
    const store = new AnnotationStore();
    const undo = new UndoManager(store);
    const many = Array.from({ length: 1000 }, (_, i) => rect(i * 20, 0, 10, 10));
    store.apply({ create: many }, 'local', 'Import');
    const a = many[0] as AnnotationRecord;
    store.apply({ update: [{ id: a.id, changes: { name: 'renamed', geometry: rect(5, 5, 1, 1).geometry } }] }, 'local', 'Edit');
    store.apply({ delete: many.slice(1, 501).map((m) => m.id) }, 'local', 'Delete');
    expect(store.size).toBe(500);
    expect(undo.undo()).toBe(true);
    expect(store.size).toBe(1000);
    expect(undo.undo()).toBe(true);
    expect(store.record(store.handleOf(a.id) as number)).toMatchObject({ name: null, geometry: a.geometry });
    expect(undo.redo()).toBe(true);
    expect(store.record(store.handleOf(a.id) as number).name).toBe('renamed');
    // remote changes are not undo steps
    store.apply({ create: [rect(0, 100, 5, 5)] }, 'remote');
    expect(undo.undoLabel).toBe('Edit');
    expect(undo.undo() && undo.undo()).toBe(true);
    expect(store.size).toBe(1);
    expect(undo.canUndo).toBe(false);
  });
});

describe('undo at scale', () => {
  it('stays on with 200,000 objects: deleting them all is one step, and undo brings every one back', () => {
    const store = new AnnotationStore();
    const undo = new UndoManager(store);
    const cells = Array.from({ length: 200_000 }, (_, i) => rect((i % 500) * 20, Math.floor(i / 500) * 20, 12, 12));
    store.apply({ create: cells }, 'remote');
    const one = cells[123_456] as AnnotationRecord;
    store.apply({ update: [{ id: one.id, changes: { classification: 'Necrosis' } }] }, 'local', 'Classify');
    store.apply({ delete: cells.map((c) => c.id) }, 'local', 'Delete all');
    expect(store.size).toBe(0);
    expect(undo.undoLabel).toBe('Delete all');
    expect(undo.undo()).toBe(true);
    expect(store.size).toBe(200_000);
    expect(store.record(store.handleOf(one.id) as number).classification).toBe('Necrosis');
    expect(undo.undo()).toBe(true);
    expect(store.record(store.handleOf(one.id) as number)).toEqual(one);
    expect(undo.redo() && undo.redo()).toBe(true);
    expect(store.size).toBe(0);
  });
});

describe('spatial index and hit testing', () => {
  it('finds objects in a box, through changes and rebuilds', async () => {
    const store = new AnnotationStore();
    const index = new SpatialIndex(store, undefined, 50);
    const grid = Array.from({ length: 400 }, (_, i) => rect((i % 20) * 100, Math.floor(i / 20) * 100, 50, 50));
    store.apply({ create: grid }, 'remote');
    await index.rebuild();
    expect(index.query(0, 0, 149, 149)).toHaveLength(4);
    const moved = grid[0] as AnnotationRecord;
    store.apply({ update: [{ id: moved.id, changes: { geometry: rect(5000, 5000, 10, 10).geometry } }] }, 'local');
    expect(index.query(0, 0, 149, 149)).toHaveLength(3);
    expect(index.query(4990, 4990, 5020, 5020).map((h) => store.idOf(h))).toEqual([moved.id]);
    store.apply({ delete: [(grid[1] as AnnotationRecord).id] }, 'local');
    expect(index.query(0, 0, 149, 149)).toHaveLength(2);
    await index.rebuild();
    expect(index.dynamicSize).toBe(0);
    expect(index.query(0, 0, 149, 149)).toHaveLength(2);
    expect(index.query(4990, 4990, 5020, 5020)).toHaveLength(1);
  });

  it('keeps the newest objects (a load page) as a range, through a build that is slow and edits made during it', async () => {
    const store = new AnnotationStore();
    // a builder held open until released, as a worker's build is
    let release: () => void = () => undefined;
    const builder = async (boxes: Float64Array): Promise<ArrayBuffer> => {
      await new Promise<void>((r) => (release = r));
      return localBuilder(boxes);
    };
    const index = new SpatialIndex(store, builder, 1_000_000);
    const grid = Array.from({ length: 400 }, (_, i) => rect((i % 20) * 100, Math.floor(i / 20) * 100, 50, 50));
    store.apply({ create: grid.slice(0, 200) }, 'remote');
    // nothing built yet: found by scanning the newest handles
    expect(index.dynamicSize).toBe(200);
    expect(index.query(0, 0, 149, 149)).toHaveLength(4);
    const building = index.rebuild();
    // during the build: a page more, an edit and a delete of handles the build is taking in
    store.apply({ create: grid.slice(200) }, 'remote');
    const moved = grid[0] as AnnotationRecord;
    store.apply({ update: [{ id: moved.id, changes: { geometry: rect(5000, 5000, 10, 10).geometry } }] }, 'local');
    store.apply({ delete: [(grid[1] as AnnotationRecord).id] }, 'local');
    release();
    await building;
    // the edited one is dynamic again (its static entry is stale), the second page is the tail
    expect(index.dynamicSize).toBe(1 + 200);
    expect(index.query(0, 0, 149, 149)).toHaveLength(2);
    expect(index.query(4990, 4990, 5020, 5020).map((h) => store.idOf(h))).toEqual([moved.id]);
    expect(index.query(0, 1000, 149, 1149)).toHaveLength(4);
    // an edit of a tail handle is read from the store, never found twice
    const late = grid[300] as AnnotationRecord;
    store.apply({ update: [{ id: late.id, changes: { geometry: rect(7000, 7000, 10, 10).geometry } }] }, 'local');
    expect(index.query(6990, 6990, 7020, 7020).map((h) => store.idOf(h))).toEqual([late.id]);
    const again = index.rebuild();
    release();
    await again;
    expect(index.dynamicSize).toBe(0);
    expect(index.query(0, 0, 149, 149)).toHaveLength(2);
    expect(index.query(6990, 6990, 7020, 7020)).toHaveLength(1);
    expect(index.query(-1, -1, 10_000, 10_000)).toHaveLength(399);
  });

  it('picks points and lines first, then the smallest containing polygon, then a nearby outline', async () => {
    const store = new AnnotationStore();
    const index = new SpatialIndex(store);
    const region = rect(0, 0, 1000, 1000);
    const cell = rect(100, 100, 20, 20);
    const dot: AnnotationRecord = { ...rect(0, 0, 1, 1), kind: 'point', geometry: { type: 'Point', coordinates: [500, 500] } };
    store.apply({ create: [region, cell, dot] }, 'remote');
    await index.rebuild();
    const id = (x: number, y: number): string | null => {
      const h = hitTest(store, index, x, y, 3);
      return h ? store.idOf(h.handle) : null;
    };
    expect(id(110, 110)).toBe(cell.id);
    expect(id(300, 300)).toBe(region.id);
    expect(id(501, 501)).toBe(dot.id);
    expect(id(1002, 500)).toBe(region.id);
    expect(id(2000, 2000)).toBeNull();
    expect(hitTest(store, index, 100.5, 100.5, 3)?.vertex).toBe(0);
  });
});
