/**
 * The pure parts of correction counting (issue 13): the correction state
 * table (a label-only change is a correction, AI-02), IoU against areas
 * counted on a pixel grid here, the point-in-area test of misses, and the
 * score reader (keys, QuPath measurement lists, HistomicsTK user data, and
 * scores out of range or not numbers refused), and migration 8 on a store
 * that already holds annotations.
 */
import { describe, expect, it } from 'vitest';
import type { Geometry } from '../../src/core/annotation.js';
import { correctionState, iou, pointInside } from '../../tiles-server/corrections/correction-state.js';
import { FormatError } from '../../tiles-server/formats/types.js';
import { scoreOf } from '../../tiles-server/import/scores.js';

const rect = (x: number, y: number, w: number, h: number): Geometry => ({
  type: 'Polygon',
  coordinates: [
    [
      [x, y],
      [x + w, y],
      [x + w, y + h],
      [x, y + h],
      [x, y],
    ],
  ],
});

describe('correction state', () => {
  const pred = { classification: 'Tumour', geometry: rect(0, 0, 10, 10) };
  it('follows the table', () => {
    expect(correctionState(pred, null)).toBe('untouched');
    expect(correctionState(pred, { ...pred, deleted: false })).toBe('accepted');
    expect(correctionState(pred, { ...pred, deleted: true })).toBe('rejected');
    expect(correctionState(pred, { classification: 'Stroma', geometry: rect(0, 0, 10, 10), deleted: false })).toBe('relabelled');
    expect(correctionState(pred, { classification: 'Tumour', geometry: rect(1, 0, 10, 10), deleted: false })).toBe('edited');
    expect(correctionState(pred, { classification: 'Stroma', geometry: rect(1, 0, 10, 10), deleted: false })).toBe('both');
    // a class removed is a relabel too, and a deleted relabel is a rejection
    expect(correctionState(pred, { classification: null, geometry: rect(0, 0, 10, 10), deleted: false })).toBe('relabelled');
    expect(correctionState(pred, { classification: 'Stroma', geometry: rect(0, 0, 10, 10), deleted: true })).toBe('rejected');
  });
});

/** IoU counted on the integer pixel grid (rectangles with integer corners: exact). */
function gridIou(a: [number, number, number, number], b: [number, number, number, number]): number {
  let inter = 0;
  let union = 0;
  for (let y = -50; y < 100; y++) {
    for (let x = -50; x < 100; x++) {
      const inA = x >= a[0] && x < a[0] + a[2] && y >= a[1] && y < a[1] + a[3];
      const inB = x >= b[0] && x < b[0] + b[2] && y >= b[1] && y < b[1] + b[3];
      if (inA && inB) inter++;
      if (inA || inB) union++;
    }
  }
  return inter / union;
}

describe('IoU', () => {
  it('equals a pixel count for overlapping, nested, disjoint and equal rectangles', () => {
    const cases: Array<[[number, number, number, number], [number, number, number, number]]> = [
      [
        [0, 0, 20, 20],
        [5, 0, 20, 20],
      ],
      [
        [0, 0, 30, 30],
        [10, 10, 5, 5],
      ],
      [
        [0, 0, 10, 10],
        [40, 40, 10, 10],
      ],
      [
        [3, 4, 17, 9],
        [3, 4, 17, 9],
      ],
      [
        [-20, -10, 45, 33],
        [7, -30, 12, 70],
      ],
    ];
    for (const [a, b] of cases) expect(iou(rect(...a), rect(...b))).toBeCloseTo(gridIou(a, b), 12);
  });
  it('takes holes into account and is null for shapes without area', () => {
    const ring: Geometry = {
      type: 'Polygon',
      coordinates: [
        [
          [0, 0],
          [20, 0],
          [20, 20],
          [0, 20],
          [0, 0],
        ],
        [
          [5, 5],
          [15, 5],
          [15, 15],
          [5, 15],
          [5, 5],
        ],
      ],
    };
    // the ring (300 px) against its outer square (400 px): 300 / 400
    expect(iou(ring, rect(0, 0, 20, 20))).toBeCloseTo(0.75, 12);
    expect(iou({ type: 'Point', coordinates: [1, 1] }, rect(0, 0, 2, 2))).toBeNull();
    expect(iou(rect(0, 0, 0, 5), rect(0, 0, 2, 2))).toBeNull();
  });
});

describe('point in a checked area', () => {
  it('counts holes and parts of a MultiPolygon', () => {
    const area: Geometry = {
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [0, 0],
            [10, 0],
            [10, 10],
            [0, 10],
            [0, 0],
          ],
          [
            [4, 4],
            [6, 4],
            [6, 6],
            [4, 6],
            [4, 4],
          ],
        ],
        [
          [
            [20, 20],
            [30, 20],
            [30, 30],
            [20, 30],
            [20, 20],
          ],
        ],
      ],
    };
    expect(pointInside(2, 2, area)).toBe(true);
    expect(pointInside(5, 5, area)).toBe(false);
    expect(pointInside(25, 25, area)).toBe(true);
    expect(pointInside(15, 15, area)).toBe(false);
    expect(pointInside(1, 1, { type: 'Point', coordinates: [1, 1] })).toBe(false);
  });
});

describe('scores', () => {
  it('reads the first known key, a configured key in any case, measurement lists and user data', () => {
    expect(scoreOf({ probability: 0.3, score: 0.9 }, null, 'x')).toBe(0.3);
    expect(scoreOf({ measurements: { Confidence: 0.4 } }, null, 'x')).toBe(0.4);
    expect(scoreOf({ measurements: [{ name: 'Detection probability', value: 0.55 }] }, 'detection PROBABILITY', 'x')).toBe(0.55);
    expect(scoreOf({ user: { score: 1 } }, null, 'x')).toBe(1);
    expect(scoreOf({ score: 0 }, null, 'x')).toBe(0);
    expect(scoreOf({ area: 5 }, null, 'x')).toBeNull();
    // a configured key is the only one read
    expect(scoreOf({ probability: 0.3 }, 'certainty', 'x')).toBeNull();
    // null means "no score"
    expect(scoreOf({ probability: null }, null, 'x')).toBeNull();
  });
  it('refuses scores outside 0..1 and values that are not numbers, naming the object', () => {
    for (const v of [1.0001, -0.5, 'NaN', '0.5', true, [0.5], { v: 1 }]) {
      expect(() => scoreOf({ probability: v }, null, 'object 7'), JSON.stringify(v)).toThrow(FormatError);
    }
    expect(() => scoreOf({ measurements: { score: 2 } }, null, 'object 7')).toThrow(/object 7: the score "score" is 2/);
  });
});

describe('migration 8 (model runs) on a store that has annotations', () => {
  it('keeps every annotation, as manual, and starts with no runs', async () => {
    const Database = (await import('better-sqlite3')).default;
    const { MIGRATIONS, migrate } = await import('../../tiles-server/store/database.js');
    const { AnnotationStore } = await import('../../tiles-server/store/annotation-store.js');
    const runs = MIGRATIONS.find((m) => m.description.startsWith('model runs'))?.version as number;
    const db = new Database(':memory:');
    for (const m of MIGRATIONS.filter((x) => x.version < runs)) {
      db.exec(m.sql);
      m.run?.(db, () => undefined);
    }
    db.pragma(`user_version = ${runs - 1}`);
    // rows as a version-7 server wrote them (its store's statements, by hand: this one's need the new columns)
    const ids = ['a1b2c3d4e5', 'f6g7h8i9j0'];
    for (const id of ids) {
      const state = JSON.stringify({ id, kind: 'polygon', geometry: rect(0, 0, 5, 5), classification: 'Tumour', name: null, note: null, locked: false, objectType: 'annotation', properties: {}, deleted: false });
      const seq = db.prepare(`INSERT INTO history (annotation_id, slide_id, version, op, data, author, at, op_id) VALUES (?, 'slide', 1, 'create', ?, 'u1', 'x', 'op-before-8')`).run(id, state).lastInsertRowid;
      db.prepare(`INSERT INTO annotations (id, slide_id, version, deleted, head_seq, created_by, created_at) VALUES (?, 'slide', 1, 0, ?, 'u1', 'x')`).run(id, seq);
    }
    expect(migrate(db)).toEqual({ from: runs - 1, to: MIGRATIONS[MIGRATIONS.length - 1]?.version });
    const after = new AnnotationStore(db);
    for (const id of ids) expect(after.get(id)).toMatchObject({ id, version: 1, source: 'manual', parent: null, classification: 'Tumour' });
    expect(db.prepare('SELECT count(*) AS n FROM model_runs').get()).toEqual({ n: 0 });
    // an old object is not a prediction: it cannot be a parent
    const derived = after.applyBatch('slide', 'op-after-8', 'u1', [{ op: 'create', parent: ids[0] as string, annotation: { id: 'k1l2m3n4o5', kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation', properties: {} } }]);
    expect(derived.status).toBe(404);
    expect(derived.body['code']).toBe('PREDICTION_NOT_FOUND');
  });
});
