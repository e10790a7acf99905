/**
 * The triage tool's score colours traced once per cell (src/tools/score-overlay.ts,
 * issue 13): each object of the queue is stroked exactly once per frame in its
 * score's colour, a frame over cells already traced traces nothing, and a
 * change set re-traces only the cells of the objects it touched. Node has no
 * Path2D: a recording stand-in counts the outlines each path holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnotationStore, type AnnotationRecord, type Handle } from '../../src/state/annotation-store.js';
import { SpatialIndex } from '../../src/state/spatial-index.js';
import { CELL, ScoreOverlay } from '../../src/tools/score-overlay.js';

class FakePath {
  outlines = 0;
  arcs = 0;
  moveTo(): void {
    this.outlines++;
  }
  lineTo(): void {}
  closePath(): void {}
  arc(): void {
    this.arcs++;
  }
}

function fakeContext(): { g: CanvasRenderingContext2D; strokes: Array<{ colour: string; outlines: number; arcs: number }> } {
  const strokes: Array<{ colour: string; outlines: number; arcs: number }> = [];
  const g = {
    strokeStyle: '',
    lineWidth: 1,
    save: () => undefined,
    restore: () => undefined,
    setTransform: () => undefined,
    stroke(p: FakePath) {
      strokes.push({ colour: String(this.strokeStyle), outlines: p.outlines, arcs: p.arcs });
    },
  };
  return { g: g as unknown as CanvasRenderingContext2D, strokes };
}

const COLOURS = ['c0', 'c1', 'c2'];

function square(id: string, x: number, y: number, s = 10): AnnotationRecord {
  return { id, kind: 'polygon', classification: 'Tumour', name: null, note: null, locked: false, objectType: 'detection', properties: {}, version: 1, geometry: { type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] } };
}

describe('score overlay', () => {
  const saved = (globalThis as { Path2D?: unknown }).Path2D;
  beforeAll(() => {
    (globalThis as { Path2D?: unknown }).Path2D = FakePath;
  });
  afterAll(() => {
    (globalThis as { Path2D?: unknown }).Path2D = saved;
  });

  /** A clock that stands still unless the test moves it: a frame's budget never runs out by the machine being slow. */
  const clock = { t: 0 };
  async function setUp(now: () => number = () => clock.t) {
    const store = new AnnotationStore();
    const index = new SpatialIndex(store);
    // 3 × 3 cells with 4 objects each (one across a cell border), colours by the id's number; 'other' is not of the queue
    const recs: AnnotationRecord[] = [];
    for (let cy = 0; cy < 3; cy++)
      for (let cx = 0; cx < 3; cx++)
        for (let k = 0; k < 4; k++) recs.push(square(`p${recs.length}`, cx * CELL + (k === 3 ? CELL - 6 : 100 + k * 300), cy * CELL + 200));
    recs.push(square('other', 500, 500));
    store.apply({ create: recs }, 'remote', 'Load');
    await index.rebuild();
    const colourOf = (h: Handle): number => {
      const id = store.idOf(h);
      return id.startsWith('p') ? Number(id.slice(1)) % 3 : -1;
    };
    const overlay = new ScoreOverlay(store, index, COLOURS, colourOf, now);
    const queued = recs.filter((r) => r.id !== 'other').map((r) => store.bounds(store.handleOf(r.id) as Handle));
    overlay.reset(queued);
    return { store, index, overlay };
  }
  const everything = { x0: 0, y0: 0, x1: 3 * CELL, y1: 3 * CELL };

  it('strokes each queued object once a frame, in its colour, and traces a cell only once', async () => {
    const { overlay } = await setUp();
    const f1 = fakeContext();
    const r1 = overlay.draw(f1.g, everything, 0, 0, 0.1, 1000);
    expect(r1).toEqual({ drawn: true, complete: true });
    expect(f1.strokes.reduce((n, s) => n + s.outlines, 0)).toBe(36);
    for (let c = 0; c < 3; c++) expect(f1.strokes.filter((s) => s.colour === `c${c}`).reduce((n, s) => n + s.outlines, 0)).toBe(12);
    const traced = overlay.traced;
    const f2 = fakeContext();
    overlay.draw(f2.g, everything, 5, 5, 0.2, 1000);
    expect(overlay.traced).toBe(traced);
    expect(f2.strokes.reduce((n, s) => n + s.outlines, 0)).toBe(36);
  });

  it('draws only the cells in view, and nothing when more than the limit are in view', async () => {
    const { overlay } = await setUp();
    const f = fakeContext();
    overlay.draw(f.g, { x0: 0, y0: 0, x1: CELL - 20, y1: CELL - 20 }, 0, 0, 1, 1000);
    // the first cell's 4 (the one across its border belongs to it: its centre is in it)
    expect(f.strokes.reduce((n, s) => n + s.outlines, 0)).toBe(4);
    const none = fakeContext();
    expect(overlay.draw(none.g, everything, 0, 0, 0.1, 35)).toEqual({ drawn: false, complete: true });
    expect(none.strokes).toHaveLength(0);
  });

  it('traces within the frame budget and leaves the rest, complete: false, for the next frames', async () => {
    // every reading of the clock moves it 3 ms: the budget (4 ms) lets a frame trace a cell or two, never all nine
    let t = 0;
    const { overlay } = await setUp(() => (t += 3));
    const first = overlay.draw(fakeContext().g, everything, 0, 0, 0.1, 1000);
    expect(first).toEqual({ drawn: true, complete: false });
    expect(overlay.traced).toBeGreaterThan(0);
    expect(overlay.traced).toBeLessThan(9);
    let frames = 1;
    let r = first;
    while (!r.complete && frames < 20) {
      r = overlay.draw(fakeContext().g, everything, 0, 0, 0.1, 1000);
      frames++;
    }
    expect(r.complete).toBe(true);
    expect(overlay.traced).toBe(9);
    expect(frames).toBeGreaterThan(1);
    const f = fakeContext();
    expect(overlay.draw(f.g, everything, 0, 0, 0.1, 1000)).toEqual({ drawn: true, complete: true });
    expect(f.strokes.reduce((n, s) => n + s.outlines, 0)).toBe(36);
  });

  it('a change re-traces the cells it touched only; a deleted object is no longer stroked', async () => {
    const { store, overlay } = await setUp();
    overlay.draw(fakeContext().g, everything, 0, 0, 0.1, 1000);
    const traced = overlay.traced;
    const cs = store.apply({ delete: ['p0'] }, 'local');
    overlay.changed(cs);
    const f = fakeContext();
    overlay.draw(f.g, everything, 0, 0, 0.1, 1000);
    expect(overlay.traced).toBe(traced + 1);
    expect(f.strokes.reduce((n, s) => n + s.outlines, 0)).toBe(35);
    // moved into a cell with no queued object: that cell is traced too
    overlay.changed(store.apply({ update: [{ id: 'p1', changes: { geometry: square('p1', 5 * CELL + 10, 10).geometry } }] }, 'local'));
    const g = fakeContext();
    overlay.draw(g.g, { x0: 0, y0: 0, x1: 6 * CELL, y1: 3 * CELL }, 0, 0, 0.1, 1000);
    expect(g.strokes.reduce((n, s) => n + s.outlines, 0)).toBe(35);
  });
});
