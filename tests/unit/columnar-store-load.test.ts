/**
 * The client store's bulk load of a columnar frame (issue 13,
 * AnnotationStore.bulkLoadColumns): a frame's columns go into the store
 * with no record per object, and the store then holds exactly what the
 * record path (bulkLoad of the same page, packed from JSON) holds — every
 * geometry type (the catalogue's "geometry round trip is identity",
 * serialize → store → read), class, kind, lock, name and note, version,
 * author and time, bounds — and an object already edited locally before
 * the load finished is left as it is (local wins), as on the record path.
 * A frame whose string indices or codes are out of range is refused before
 * anything reaches the store. The model provenance taken from the frame's
 * columns (ModelProvenance.noteColumns) says what the record path's says.
 */
import { describe, expect, it } from 'vitest';
import type { Annotation, Geometry } from '../../src/core/annotation.js';
import { packPage } from '../../src/core/annotation-pages.js';
import { columnarLayout, decodeColumnarColumns, encodeColumnarPage } from '../../src/core/columnar-pages.js';
import { AnnotationStore } from '../../src/state/annotation-store.js';
import { ModelProvenance } from '../../src/state/model-provenance.js';
import { codeOf as code } from '../helpers/errors.js';
import { listedAnnotation } from '../helpers/listed-annotation.js';

const ann = listedAnnotation;

const square = (x: number, y: number, s: number): Geometry => ({ type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] });

function sample(): Annotation[] {
  const out: Annotation[] = [
    ann({ type: 'Point', coordinates: [1e5 + 0.125, 3.3] }, { kind: 'point', classification: null }),
    ann({ type: 'MultiPoint', coordinates: [[1, 2], [3, 4], [5, 6]] }, { kind: 'point' }),
    ann({ type: 'LineString', coordinates: [[0, 0], [10, 10], [20, 5]] }, { kind: 'ruler', name: 'ruler ✓', note: 'a note\nwith 🧪', objectType: 'annotation' }),
    ann({ type: 'Polygon', coordinates: [[[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]], [[10, 10], [20, 10], [20, 20], [10, 10]]] }, { kind: 'freehand', locked: true, version: 7, createdBy: 'u-2', updatedAt: '2026-12-07T11:00:00.000Z' }),
    ann({ type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 5]], [[5.2, 5.1], [5.5, 5.1], [5.5, 5.4], [5.2, 5.1]]]] }, { classification: 'Stroma', updatedAt: 'not a time' }),
  ];
  for (let i = 0; i < 40; i++) out.push(ann(square(300 + i * 20, 300, 12), { source: 'run-0001', parent: null, score: i / 40, readOnly: true }));
  return out;
}

/** Everything the store says about each object, by id. */
function contents(store: AnnotationStore): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of store.handles()) {
    const g = store.geometry(h);
    out[store.idOf(h)] = {
      record: store.record(h),
      type: g.type,
      coords: Array.from(g.coords),
      parts: Array.from(g.parts),
      bounds: store.bounds(h),
      author: store.authorOf(h),
      updated: store.updatedOf(h),
      objectType: store.objectTypeOf(h),
    };
  }
  return out;
}

function viaRecords(list: Annotation[]): AnnotationStore {
  const p = packPage({ annotations: list, next: null, total: list.length });
  const store = new AnnotationStore();
  store.bulkLoad(
    p.records.map((record, i) => ({
      record: { ...record, properties: {} },
      geometry: { type: p.types[i] as 1 | 2 | 3 | 4 | 5, coords: p.coords.subarray(p.coordAt[i], p.coordAt[i + 1]), parts: p.parts.subarray(p.partAt[i], p.partAt[i + 1]) },
    })),
  );
  return store;
}

describe('the store takes a columnar frame in bulk (issue 13)', () => {
  it('holds exactly what the record path holds (every geometry and field; geometry round trip is identity)', () => {
    const list = sample();
    const store = new AnnotationStore();
    const seen: number[] = [];
    store.observe((cs) => seen.push(cs.created.length));
    // two pages, as a load reads them
    const { handles } = store.bulkLoadColumns(decodeColumnarColumns(encodeColumnarPage(list.slice(0, 20), 20, list.length)));
    store.bulkLoadColumns(decodeColumnarColumns(encodeColumnarPage(list.slice(20), null, list.length)));
    expect(seen).toEqual([20, list.length - 20]);
    expect(Array.from(handles)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(store.size).toBe(list.length);
    expect(contents(store)).toEqual(contents(viaRecords(list)));
    expect(Number.isNaN(store.updatedOf(store.handleOf(list[4]?.id as string) as number))).toBe(true);
  });

  it('leaves an object edited locally before the load finished as it is (local wins), and skips it in the handles', () => {
    const list = sample();
    const store = new AnnotationStore();
    const mine = { ...list[1], geometry: square(1, 1, 1), classification: 'Mine', version: 0 } as Annotation;
    store.apply({ create: [mine] }, 'local');
    const { cs, handles } = store.bulkLoadColumns(decodeColumnarColumns(encodeColumnarPage(list, null, list.length)));
    expect(handles[1]).toBe(-1);
    expect(cs.created.length).toBe(list.length - 1);
    const h = store.handleOf(mine.id) as number;
    expect(store.classOf(h)).toBe('Mine');
    expect(store.size).toBe(list.length);
  });

  it('takes in the model provenance from the columns as the record path does: runs, scores, predictions (deleted ones too), parents', () => {
    const list = sample();
    // a corrected object of the first prediction, and a prediction of another run
    const first = list[5] as Annotation;
    list.push(ann(square(5, 900, 10), { source: 'run-0001', parent: first.id, score: null, readOnly: false }));
    list.push(ann(square(50, 900, 10), { source: 'run-0002', parent: null, score: 0.75, readOnly: true }));
    const byColumns = new AnnotationStore();
    const a = new ModelProvenance(byColumns);
    const p = decodeColumnarColumns(encodeColumnarPage(list, null, list.length));
    a.noteColumns(p, byColumns.bulkLoadColumns(p).handles);
    const byRecords = viaRecords(list);
    const b = new ModelProvenance(byRecords);
    for (const r of list) b.note(byRecords.handleOf(r.id) as number, r);
    const last = list[list.length - 1] as Annotation;
    for (const store of [byColumns, byRecords]) store.apply({ delete: [last.id] }, 'local');
    const said = (prov: ModelProvenance, store: AnnotationStore): unknown => ({
      objects: list.map((r) => {
        const h = store.handleOfAny(r.id) as number;
        return [prov.runOf(h), prov.scoreOf(h), prov.isPrediction(r.id), prov.predictionHandle(r.id) === h, prov.parentOf(r.id), prov.correctedOf(r.id)];
      }),
      runs: prov.runs(),
      untouched: prov.untouchedPredictions('run-0001', store)?.map((h) => store.idOf(h)),
      // the deleted prediction of the other run: the queue reads that run from the server
      other: prov.untouchedPredictions('run-0002', store),
      live: prov.livePredictions(store).length,
    });
    expect(said(a, byColumns)).toEqual(said(b, byRecords));
    expect(a.isPrediction(last.id)).toBe(true);
    expect(a.correctedOf(first.id)).toBe(list[list.length - 2]?.id);
    expect(a.untouchedPredictions('run-0002', byColumns)).toBeNull();
    expect(a.untouchedPredictions('run-0001', byColumns)).toHaveLength(40);
  });

  it('refuses a frame whose string index or kind is out of range before anything is stored (COLUMNAR_INVALID)', () => {
    const list = sample().slice(0, 3);
    const frame = encodeColumnarPage(list, null, 3);
    const dv = new DataView(frame.buffer, frame.byteOffset);
    const L = columnarLayout(3, dv.getUint32(32, true), dv.getUint32(36, true), dv.getUint32(40, true), 0);
    const badIndex = frame.slice();
    new DataView(badIndex.buffer).setInt32((L['classification'] as number) + 4, 9999, true);
    expect(code(() => decodeColumnarColumns(badIndex))).toBe('COLUMNAR_INVALID');
    const badKind = frame.slice();
    badKind[(L['kind'] as number) + 2] = 200;
    expect(code(() => decodeColumnarColumns(badKind))).toBe('COLUMNAR_INVALID');
  });
});
