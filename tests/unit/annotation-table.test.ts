/**
 * The annotation list's column model (issue 11): the radix argsort against a
 * comparator sort, area and perimeter per object, the units a cell reads in
 * (µm² / mm² by size, px² without MPP), sort stability, filters by class,
 * author and text, counts per class, following edits, and the bad cases —
 * an empty store, objects without a name, points (no area), NaN keys.
 */
import { describe, expect, it } from 'vitest';
import { rect } from '../helpers/records.js';
import { AnnotationStore, type AnnotationRecord } from '../../src/state/annotation-store.js';
import { AnnotationTable, measure } from '../../src/state/annotation-table.js';
import { sortByKey } from '../../src/state/radix-sort.js';
import { UndoManager } from '../../src/state/undo.js';
import { flatten } from '../../src/core/flat-geometry.js';
import { areaText, lengthText, timeText } from '../../src/viewer/annotation-list-columns.js';
import { viewShowing } from '../../src/viewer/view-transform.js';


function point(x: number, y: number, extra: Partial<AnnotationRecord> = {}): AnnotationRecord {
  return { ...rect(0, 0, 1, 1), kind: 'point', geometry: { type: 'Point', coordinates: [x, y] }, ...extra };
}

function ids(t: AnnotationTable): string[] {
  return Array.from(t.rows, (h) => t.store.idOf(h));
}

describe('radix argsort', () => {
  it('orders like a stable comparator sort, both ways, NaN last, -0 equal to 0', () => {
    let s = 99;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const keys = new Float64Array(5000);
    for (let i = 0; i < keys.length; i++) {
      const r = rnd();
      keys[i] = r < 0.05 ? Number.NaN : r < 0.1 ? -0 : r < 0.15 ? 0 : r < 0.2 ? Infinity : r < 0.3 ? Math.round(rnd() * 10) : (rnd() - 0.5) * 10 ** Math.round(rnd() * 12);
    }
    const items = Uint32Array.from(keys, (_, i) => keys.length - 1 - i); // not in handle order: ties must keep this order
    const rank = (k: number): number => (Number.isNaN(k) ? 1 : 0);
    const asc = Array.from(items).sort((a, b) => rank(keys[a] as number) - rank(keys[b] as number) || ((keys[a] as number) - (keys[b] as number) || 0));
    const desc = Array.from(items).sort((a, b) => rank(keys[a] as number) - rank(keys[b] as number) || ((keys[b] as number) - (keys[a] as number) || 0));
    expect(Array.from(sortByKey(items, keys))).toEqual(asc);
    expect(Array.from(sortByKey(items, keys, true))).toEqual(desc);
  });

  it('orders keys that round to the same float32 by their full value: short runs, and a long run (timestamps a millisecond apart)', () => {
    let s = 7;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const keys = new Float64Array(6000);
    for (let i = 0; i < keys.length; i++) {
      const r = rnd();
      // epoch ms within two minutes (one float32 word for thousands of keys), near-equal areas, a few keys a word, exact ties
      keys[i] = r < 0.4 ? 1.7e12 + Math.floor(rnd() * 120_000) : r < 0.6 ? 300 + Math.floor(rnd() * 40) * 1e-9 : r < 0.85 ? 20 + Math.floor(rnd() * 2000) + rnd() * 1e-6 : 300 + Math.floor(rnd() * 5);
    }
    const items = Uint32Array.from(keys, (_, i) => (i * 7919) % keys.length); // a permutation: ties keep it
    const asc = Array.from(items).sort((a, b) => (keys[a] as number) - (keys[b] as number));
    const desc = Array.from(items).sort((a, b) => (keys[b] as number) - (keys[a] as number));
    expect(Array.from(sortByKey(items, keys))).toEqual(asc);
    expect(Array.from(sortByKey(items, keys, true))).toEqual(desc);
  });

  it('handles nothing and one item', () => {
    expect(Array.from(sortByKey(new Uint32Array(0), []))).toEqual([]);
    expect(Array.from(sortByKey(Uint32Array.of(3), [0, 0, 0, 5]))).toEqual([3]);
  });
});

describe('cell text', () => {
  it('reads areas in µm² below 1 mm², mm² from there, px² without MPP, and "—" for no area', () => {
    expect(areaText(10_000, 0.25)).toBe('625 µm²');
    expect(areaText(4_000_000, 0.5)).toBe('1 mm²'); // 1,000,000 µm²
    expect(areaText(3_960_000, 0.5)).toBe('990000 µm²'); // just under 1 mm² stays in µm²
    expect(areaText(50_000_000, 0.5)).toBe('12.5 mm²');
    expect(areaText(10_000, null)).toBe('10,000 px²');
    expect(areaText(0, 0.25)).toBe('—');
    expect(areaText(Number.NaN, 0.25)).toBe('—');
    expect(areaText(10_000, 0)).toBe('10,000 px²'); // a zero MPP is no MPP
  });

  it('reads lengths in µm or mm, px without MPP, "—" for none; unknown times as nothing', () => {
    expect(lengthText(400, 0.25)).toBe('100 µm');
    expect(lengthText(8000, 0.25)).toBe('2 mm');
    expect(lengthText(400, null)).toBe('400 px');
    expect(lengthText(0, 0.25)).toBe('—');
    expect(timeText(Number.NaN)).toBe('');
    const t = new Date(2026, 11, 7, 5, 3).getTime();
    expect(timeText(t, new Date(2026, 11, 7, 23, 59).getTime())).toBe('05:03'); // today: the time
    expect(timeText(t, new Date(2026, 11, 8, 0, 1).getTime())).toBe('2026-12-07'); // before: the date
  });
});

describe('annotation table', () => {
  it('an empty store has no rows and no counts', () => {
    const t = new AnnotationTable(new AnnotationStore());
    t.refresh();
    expect(t.rows.length).toBe(0);
    t.setSort('area', true);
    t.setFilter({ text: 'x' });
    t.refresh();
    expect(t.rows.length).toBe(0);
    expect(Array.from(t.classCounts)).toEqual([0]);
  });

  it('measures area and perimeter: polygons with holes, lines by length, points as nothing', () => {
    const store = new AnnotationStore();
    const holed = rect(0, 0, 10, 10);
    holed.geometry = { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]] };
    const line = { ...rect(0, 0, 1, 1), kind: 'polyline' as const, geometry: { type: 'LineString' as const, coordinates: [[0, 0], [3, 4], [3, 10]] as Array<[number, number]> } };
    store.apply({ create: [holed, line, point(5, 5)] }, 'local');
    expect(measure(store, 0)).toEqual([96, 48]);
    expect(measure(store, 1)).toEqual([0, 11]);
    expect(measure(store, 2)).toEqual([0, 0]);
  });

  it('sorts stably: equal areas keep creation order both ways; unnamed objects sort last by name, in the order they had', () => {
    const store = new AnnotationStore();
    const recs = [rect(0, 0, 10, 10, { name: 'b' }), rect(0, 0, 20, 20), rect(0, 0, 10, 10, { name: 'A' }), point(1, 1), rect(0, 0, 10, 10), rect(0, 0, 5, 5, { name: 'a2' })];
    store.apply({ create: recs }, 'local');
    const t = new AnnotationTable(store);
    t.refresh();
    expect(ids(t)).toEqual(recs.map((r) => r.id));
    const [b, big, A, pt, plain, a2] = recs.map((r) => r.id) as [string, string, string, string, string, string];
    t.setSort('area', false);
    t.refresh();
    expect(ids(t)).toEqual([pt, a2, b, A, plain, big]);
    t.setSort('area', true);
    t.refresh();
    expect(ids(t)).toEqual([big, b, A, plain, a2, pt]);
    t.setSort('name', false);
    t.refresh();
    expect(ids(t)).toEqual([A, a2, b, big, plain, pt]); // case folded; ties (the unnamed) keep the order they had (area, largest first)
    t.setSort(null);
    t.refresh();
    expect(ids(t)).toEqual(recs.map((r) => r.id));
  });

  it('filters by class (no class included), author and text in names and notes; counts per class', () => {
    const store = new AnnotationStore();
    store.bulkLoad(
      [
        { r: rect(0, 0, 1, 1, { name: 'Mitosis 1', classification: 'Tumour' }), by: 'ann' },
        { r: rect(0, 0, 1, 1, { note: 'check MITOSIS', classification: 'Stroma' }), by: 'bob' },
        { r: rect(0, 0, 1, 1, { classification: null }), by: 'ann' },
        { r: point(2, 2, { classification: 'Tumour' }), by: null },
      ].map(({ r, by }) => {
        const { geometry, ...record } = r;
        return { record: { ...record, createdBy: by, updatedAt: '2026-12-01T10:00:00.000Z' }, geometry: flatten(geometry) };
      }),
    );
    const t = new AnnotationTable(store);
    t.refresh();
    const all = ids(t);
    const cls = store.classes();
    expect(t.classCounts[cls.indexOf('Tumour') + 1]).toBe(2);
    expect(t.classCounts[0]).toBe(1); // no class
    t.setFilter({ classes: new Set([cls.indexOf('Tumour')]) });
    t.refresh();
    expect(ids(t)).toEqual([all[0], all[3]]);
    t.setFilter({ classes: new Set([-1]) });
    t.refresh();
    expect(ids(t)).toEqual([all[2]]);
    t.setFilter({ classes: null, authors: new Set([store.authorNames().indexOf('ann')]) });
    t.refresh();
    expect(ids(t)).toEqual([all[0], all[2]]);
    t.setFilter({ authors: new Set([-1]) });
    t.refresh();
    expect(ids(t)).toEqual([all[3]]);
    t.setFilter({ authors: null, text: '  mitosis ' });
    t.refresh();
    expect(ids(t)).toEqual([all[0], all[1]]);
    expect(store.updatedOf(0)).toBe(Date.parse('2026-12-01T10:00:00.000Z'));
    t.setSort('author', false);
    t.setFilter({ text: '' });
    t.refresh();
    expect(ids(t)).toEqual([all[0], all[2], all[1], all[3]]); // ann, ann, bob, unknown last
  });

  it('follows edits: a reshaped object is measured again, a deleted one leaves the rows and counts, undo brings it back with its author', () => {
    const store = new AnnotationStore();
    store.localAuthor = 'me';
    const undo = new UndoManager(store);
    const a = rect(0, 0, 10, 10);
    const b = rect(0, 0, 20, 20, { classification: 'Stroma' });
    const before = Date.now();
    store.apply({ create: [a, b] }, 'local');
    expect(store.authorOf(0)).toBe('me');
    expect(store.updatedOf(0)).toBeGreaterThanOrEqual(before);
    const t = new AnnotationTable(store);
    let stale = 0;
    t.onStale(() => stale++);
    t.setSort('area', true);
    t.refresh();
    expect(ids(t)).toEqual([b.id, a.id]);
    store.apply({ update: [{ id: a.id, changes: { geometry: rect(0, 0, 30, 30).geometry } }] }, 'local');
    expect(stale).toBe(1);
    expect(t.dirty).toBe(true);
    t.refresh();
    expect(ids(t)).toEqual([a.id, b.id]);
    expect(t.area[0]).toBe(900);
    store.localAuthor = 'someone else';
    store.apply({ delete: [b.id] }, 'local');
    t.refresh();
    expect(ids(t)).toEqual([a.id]);
    expect(t.classCounts[store.classes().indexOf('Stroma') + 1]).toBe(0);
    undo.undo();
    t.refresh();
    expect(ids(t)).toEqual([a.id, b.id]);
    expect(store.authorOf(store.handleOf(b.id) as number)).toBe('me');
  });
});

describe('fly-to view', () => {
  it('shows a box at a third of the shorter side, a point as a 64-px box, beside what covers the right', () => {
    expect(viewShowing({ x0: 100, y0: 100, x1: 300, y1: 200 }, 1200, 600)).toEqual({ x: 200, y: 150, zoom: 1 });
    expect(viewShowing({ x0: 50, y0: 50, x1: 50, y1: 50 }, 960, 768)).toEqual({ x: 50, y: 50, zoom: 4 });
    // beside a list covering 600 of 1200 px: centred in the 600 px left, zoomed for them
    expect(viewShowing({ x0: 100, y0: 100, x1: 300, y1: 200 }, 1200, 900, 64, 600)).toEqual({ x: 500, y: 150, zoom: 1 });
    // too little left beside it (< 200 px): the list is ignored
    expect(viewShowing({ x0: 100, y0: 100, x1: 300, y1: 200 }, 1200, 600, 64, 1100)).toEqual({ x: 200, y: 150, zoom: 1 });
  });
});
