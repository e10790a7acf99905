/**
 * The client side of painting, in Node: the resident tile form, the mask
 * worker's operations (strokes, ROI-clipped strokes, fills, flood fills,
 * the pyramid reduction, colouring, the wire format), the mask store and
 * pyramid, and the mask session end to end with undo and the outbox sync
 * against a fake server — including conflicts, offline queues and reloads.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { zlibSync } from 'fflate';
import { downsample2 } from '../../src/core/mask/downsample.js';
import { MASK_TILE, MASK_TILE_PIXELS, tileKey } from '../../src/core/mask/mask-grid.js';
import { polygonSpans, strokeSpans } from '../../src/core/mask/raster.js';
import { decodeTile, encodeTile, isUniform, tileCounts, type EncodedTile } from '../../src/core/mask/rle.js';
import { MaskApi, type MaskBatchResponse, type MaskTileWireOp } from '../../src/services/mask-api.js';
import { MemoryOutbox, type OutboxEntry } from '../../src/services/outbox.js';
import { AnnotationStore } from '../../src/state/annotation-store.js';
import { MaskPyramid } from '../../src/state/mask-pyramid.js';
import { MaskStore } from '../../src/state/mask-store.js';
import { UndoManager } from '../../src/state/undo.js';
import { MaskSession, type MaskWorker } from '../../src/session/mask-session.js';
import { colourTile, compressEncoded, decompressTile, paint, readPack, reduceTiles } from '../../workers/mask-ops.js';
import type { PaintJob } from '../../workers/protocol.js';


/** A dense raster of a box, painted with spans the reference way. */
function reference(w: number, h: number, fill: (emit: (y: number, x0: number, x1: number) => void) => void, value: number, base?: Uint8Array): Uint8Array {
  const out = base ? base.slice() : new Uint8Array(w * h);
  fill((y, x0, x1) => out.fill(value, y * w + x0, y * w + x1));
  return out;
}

/** The level-0 pixels of a box from a set of tiles. */
function window(tiles: Map<string, EncodedTile>, x0: number, y0: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let ty = Math.floor(y0 / MASK_TILE); ty * MASK_TILE < y0 + h; ty++) {
    for (let tx = Math.floor(x0 / MASK_TILE); tx * MASK_TILE < x0 + w; tx++) {
      const t = tiles.get(tileKey(tx, ty));
      if (!t) continue;
      const d = decodeTile(t);
      const ax = Math.max(x0, tx * MASK_TILE);
      const bx = Math.min(x0 + w, (tx + 1) * MASK_TILE);
      for (let y = Math.max(y0, ty * MASK_TILE); y < Math.min(y0 + h, (ty + 1) * MASK_TILE); y++) {
        const src = (y - ty * MASK_TILE) * MASK_TILE + (ax - tx * MASK_TILE);
        out.set(d.subarray(src, src + (bx - ax)), (y - y0) * w + (ax - x0));
      }
    }
  }
  return out;
}

const SLIDE = { x0: 0, y0: 0, x1: 4000, y1: 3000 };

/** Pixels that differ (vitest's deep equality is far too slow for megapixel arrays). */
function differing(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

function run(job: Omit<PaintJob, 'tiles' | 'bounds'>, tiles: Map<string, EncodedTile>, bounds = SLIDE): Map<string, EncodedTile> {
  const r = paint({ ...job, bounds, tiles: [...tiles].map(([key, tile]) => ({ key, tile })) }, SLIDE);
  const next = new Map(tiles);
  for (const c of r.changed) next.set(c.key, c.tile);
  return next;
}

describe('resident tiles', () => {
  it('round-trips random content, finds uniform tiles and counts classes', () => {
    const r = rng(7);
    const dense = new Uint8Array(MASK_TILE_PIXELS);
    for (let i = 0; i < 2000; i++) dense.fill(Math.floor(r() * 6), Math.floor(r() * MASK_TILE_PIXELS), Math.floor(r() * MASK_TILE_PIXELS));
    const t = encodeTile(dense);
    expect(differing(decodeTile(t), dense)).toBe(0);
    const counts = tileCounts(t);
    for (let v = 0; v < 6; v++) expect(counts[v]).toBe(dense.filter((x) => x === v).length);
    expect(encodeTile(new Uint8Array(MASK_TILE_PIXELS).fill(3))).toEqual({ uniform: 3 });
    expect(() => encodeTile(new Uint8Array(10))).toThrow(RangeError);
  });

  it('keeps a brush stroke in far less than a byte per painted pixel', () => {
    const tiles = run({ kind: 'stroke', value: 2, stroke: { path: new Float64Array([0, 256, 511, 300]), radius: 40 } }, new Map());
    const t = tiles.get('0,0') as { rle: Uint16Array };
    const painted = MASK_TILE_PIXELS - (tileCounts(t)[0] as number);
    expect(painted).toBeGreaterThan(35_000);
    expect(t.rle.byteLength / painted).toBeLessThan(0.2);
  });
});

describe('mask operations', () => {
  it('paints a stroke across tiles exactly as the stroke rule says, and reports only changed tiles', () => {
    const path = new Float64Array([400, 300, 700, 620, 1100, 500]);
    const tiles = run({ kind: 'stroke', value: 4, stroke: { path, radius: 30.5 } }, new Map());
    // the tiles the stroke's pixels fall in, and no others
    const touched = new Set<string>();
    strokeSpans(path, 30.5, SLIDE, (y, a, b) => {
      for (let x = a; x < b; x++) touched.add(tileKey(Math.floor(x / MASK_TILE), Math.floor(y / MASK_TILE)));
    });
    expect([...tiles.keys()].sort()).toEqual([...touched].sort());
    const box = { x0: 300, y0: 200, x1: 1200, y1: 700 };
    const want = reference(900, 500, (emit) => strokeSpans(path, 30.5, { x0: 0, y0: 0, x1: 4000, y1: 3000 }, (y, a, b) => {
      if (y >= box.y0 && y < box.y1) emit(y - box.y0, Math.max(0, a - box.x0), Math.min(900, b - box.x0));
    }), 4);
    expect(differing(window(tiles, 300, 200, 900, 500), want)).toBe(0);
    // erasing part of it, and a stroke that changes nothing reports nothing
    const erased = run({ kind: 'stroke', value: 0, stroke: { path: new Float64Array([700, 620]), radius: 50 } }, tiles);
    expect(window(erased, 670, 590, 60, 60).every((v) => v === 0)).toBe(true);
    expect(window(erased, 400, 270, 10, 10).some((v) => v === 4)).toBe(true);
    const r = paint({ kind: 'stroke', value: 0, stroke: { path: new Float64Array([3000, 2500]), radius: 10 }, bounds: SLIDE, tiles: [] }, SLIDE);
    expect(r.changed).toEqual([]);
  });

  it('clips a stroke to the union of the ROIs under it', () => {
    const roi = [new Float64Array([100, 100, 400, 100, 400, 400, 100, 400])];
    const hole = [new Float64Array([300, 300, 600, 300, 600, 600, 300, 600])];
    const path = new Float64Array([50, 250, 650, 250, 650, 450]);
    const tiles = run({ kind: 'stroke', value: 3, stroke: { path, radius: 40 }, clip: [roi, hole] }, new Map());
    const got = window(tiles, 0, 0, 700, 700);
    const stroke = reference(700, 700, (emit) => strokeSpans(path, 40, { x0: 0, y0: 0, x1: 700, y1: 700 }, emit), 1);
    const inside = reference(700, 700, (emit) => {
      polygonSpans(roi, { x0: 0, y0: 0, x1: 700, y1: 700 }, emit);
      polygonSpans(hole, { x0: 0, y0: 0, x1: 700, y1: 700 }, emit);
    }, 1);
    const want = stroke.map((v, i) => (v && inside[i] ? 3 : 0));
    expect(differing(got, want)).toBe(0);
    expect(got.some((v) => v === 3)).toBe(true);
  });

  it('fills polygons with holes across many tiles', () => {
    const outer = new Float64Array([100, 100, 2300, 200, 2100, 1900, 200, 1700]);
    const inner = new Float64Array([800, 800, 1400, 800, 1400, 1300, 800, 1300]);
    const tiles = run({ kind: 'polygons', value: 5, polygons: [[outer, inner]] }, new Map());
    expect(tiles.size).toBeGreaterThan(12);
    const got = window(tiles, 0, 0, 2400, 2000);
    const want = reference(2400, 2000, (emit) => polygonSpans([outer, inner], { x0: 0, y0: 0, x1: 2400, y1: 2000 }, emit), 5);
    expect(differing(got, want)).toBe(0);
  });

  it('flood-fills a closed painted outline, and refuses an open one without writing anything', () => {
    const ring = new Float64Array([600, 600, 900, 600, 900, 900, 600, 900, 600, 600]);
    const outlined = run({ kind: 'stroke', value: 2, stroke: { path: ring, radius: 6 } }, new Map());
    const view = { x0: 400, y0: 400, x1: 1200, y1: 1100 };
    const filled = run({ kind: 'flood', value: 3, flood: { x: 750, y: 750 } }, outlined, view);
    const w = window(filled, 400, 400, 800, 700);
    expect(w[(750 - 400) * 800 + (750 - 400)]).toBe(3);
    expect(w[(500 - 400) * 800 + (500 - 400)]).toBe(0); // outside the ring
    expect(w[(600 - 400) * 800 + (750 - 400)]).toBe(2); // the outline itself
    const open = paint({ kind: 'flood', value: 3, flood: { x: 450, y: 450 }, bounds: view, tiles: [...outlined].map(([key, tile]) => ({ key, tile })) }, SLIDE);
    expect(open.refused).toMatch(/not closed/);
    expect(open.changed).toEqual([]);
    // at the slide's own edge the region is closed by the edge
    const corner = paint({ kind: 'flood', value: 1, flood: { x: 5, y: 5 }, bounds: { x0: 0, y0: 0, x1: 4000, y1: 3000 }, tiles: [] }, SLIDE);
    expect(corner.refused).toBeUndefined();
  });

  it('reduces four children as the pyramid rule says', () => {
    const r = rng(3);
    const children: Array<EncodedTile | null> = [0, 1, 2, 3].map((i) => {
      if (i === 2) return null;
      const d = new Uint8Array(MASK_TILE_PIXELS);
      for (let k = 0; k < 300; k++) d.fill(1 + Math.floor(r() * 4), Math.floor(r() * MASK_TILE_PIXELS), Math.floor(r() * MASK_TILE_PIXELS));
      return encodeTile(d);
    });
    const big = new Uint8Array(4 * MASK_TILE_PIXELS);
    children.forEach((c, i) => {
      if (!c) return;
      const d = decodeTile(c);
      for (let y = 0; y < MASK_TILE; y++) big.set(d.subarray(y * MASK_TILE, (y + 1) * MASK_TILE), ((i >> 1) * MASK_TILE + y) * 2 * MASK_TILE + (i & 1) * MASK_TILE);
    });
    expect(differing(decodeTile(reduceTiles(children)), downsample2(big, 2 * MASK_TILE, 2 * MASK_TILE))).toBe(0);
    expect(reduceTiles([{ uniform: 2 }, { uniform: 2 }, { uniform: 2 }, { uniform: 2 }])).toEqual({ uniform: 2 });
    expect(reduceTiles([null, null, null, null])).toEqual({ uniform: 0 });
  });

  it('colours classes, leaves unlabelled transparent, and outlines only boundaries', () => {
    const d = new Uint8Array(MASK_TILE_PIXELS);
    for (let y = 100; y < 200; y++) d.fill(2, y * MASK_TILE + 100, y * MASK_TILE + 200);
    const lut = new Uint32Array(256);
    lut[2] = 0xff0000ff;
    const full = colourTile(encodeTile(d), lut, false);
    expect(full[150 * MASK_TILE + 150]).toBe(0xff0000ff);
    expect(full[0]).toBe(0);
    const outline = colourTile(encodeTile(d), lut, true);
    expect(outline[150 * MASK_TILE + 150]).toBe(0);
    expect(outline[100 * MASK_TILE + 150]).toBe(0xff0000ff);
    expect(outline[150 * MASK_TILE + 199]).toBe(0xff0000ff);
  });

  it('reads the wire format and refuses damaged tiles and packs', () => {
    const d = new Uint8Array(MASK_TILE_PIXELS);
    d.fill(7, 1000, 90_000);
    const t = encodeTile(d);
    expect(decompressTile(compressEncoded(t))).toEqual(t);
    expect(() => decompressTile(new Uint8Array([1, 2, 3]))).toThrow(/inflated/);
    expect(() => decompressTile(zlibSync(new Uint8Array(MASK_TILE_PIXELS + 1)))).toThrow();
    expect(() => decompressTile(zlibSync(new Uint8Array(100)))).toThrow(/expected 262144/);
    const body = compressEncoded(t);
    const buf = new ArrayBuffer(8 + 16 + body.length);
    const v = new DataView(buf);
    'WSIM'.split('').forEach((c, i) => v.setUint8(i, c.charCodeAt(0)));
    v.setUint32(4, 1, true);
    v.setInt32(8, 3, true);
    v.setInt32(12, 4, true);
    v.setUint32(16, 9, true);
    v.setUint32(20, body.length, true);
    new Uint8Array(buf, 24).set(body);
    expect(readPack(buf)).toEqual([{ tx: 3, ty: 4, version: 9, tile: t }]);
    expect(() => readPack(buf.slice(0, 30))).toThrow(/truncated/);
    expect(() => readPack(new ArrayBuffer(8))).toThrow(/not a mask tile pack/);
  });
});

describe('store and pyramid', () => {
  it('computes upper levels from the tiles below and drops them up the ancestry on change', async () => {
    const store = new MaskStore();
    const pyramid = new MaskPyramid(store, 4000, 3000, (c) => Promise.resolve(reduceTiles(c)));
    expect(pyramid.maxLevel).toBe(3);
    const d = new Uint8Array(MASK_TILE_PIXELS).fill(4);
    store.apply([{ key: '3,2', tile: encodeTile(d) }], 'local', 'Fill');
    expect(pyramid.isEmpty(1, 0, 0)).toBe(true);
    expect(pyramid.isEmpty(1, 1, 1)).toBe(false);
    const l1 = (await pyramid.get(1, 1, 1)) as EncodedTile;
    // the child sits bottom-right... (3,2) is the top-right child of (1,1)
    const dl1 = decodeTile(l1);
    expect(dl1[0 * MASK_TILE + 300]).toBe(4);
    expect(dl1[0]).toBe(0);
    const top = (await pyramid.get(3, 0, 0)) as EncodedTile;
    expect(isUniform(top)).toBe(false);
    const invalidated: string[][] = [];
    pyramid.onInvalidate((k) => invalidated.push(k));
    store.apply([{ key: '3,2', tile: { uniform: 0 } }], 'local', 'Erase');
    expect(invalidated[0]).toEqual(['0/3,2', '1/1,1', '2/0,0', '3/0,0']);
    expect(pyramid.peek(1, 1, 1)).toBeNull();
    expect(decodeTile((await pyramid.get(1, 1, 1)) as EncodedTile).every((v) => v === 0)).toBe(true);
  });
});

/** The mask API on a fake server (versions, If-Match per tile, idempotency, offline). */
class FakeMaskServer {
  tiles = new Map<string, { version: number; data: string }>();
  calls = 0;
  offline = false;
  readonly seen = new Map<string, { body: string; response: string }>();

  api(): MaskApi {
    const api = new MaskApi('', 'slide1', 'dr.a');
    api.batch = async (opId: string, ops: MaskTileWireOp[]): Promise<MaskBatchResponse> => {
      this.calls++;
      if (this.offline) throw new TypeError('fetch failed');
      // as the real server: an operation id keeps its first answer (refusals too) for that exact body
      const body = JSON.stringify(ops);
      const prior = this.seen.get(opId);
      if (prior) {
        if (prior.body !== body) return { status: 422, body: { code: 'IDEMPOTENCY_KEY_REUSED', message: `operation id ${opId} was already used for a different request` } };
        return JSON.parse(prior.response) as MaskBatchResponse;
      }
      for (const [i, op] of ops.entries()) {
        const cur = this.tiles.get(`${op.tx},${op.ty}`)?.version ?? 0;
        if (op.ifMatch !== cur) {
          const refusal: MaskBatchResponse = { status: 412, body: { code: 'PRECONDITION_FAILED', message: 'stale', detail: { index: i, current: { tx: op.tx, ty: op.ty, version: cur } } } };
          this.seen.set(opId, { body, response: JSON.stringify(refusal) });
          return refusal;
        }
      }
      const results = ops.map((op) => {
        const key = `${op.tx},${op.ty}`;
        const version = (this.tiles.get(key)?.version ?? 0) + 1;
        this.tiles.set(key, { version, data: op.data });
        return { tx: op.tx, ty: op.ty, version };
      });
      this.seen.set(opId, { body, response: JSON.stringify({ status: 200, body: { results } }) });
      return { status: 200, body: { results } };
    };
    return api;
  }

  tile(key: string): EncodedTile {
    const t = this.tiles.get(key);
    if (!t) return { uniform: 0 };
    return decompressTile(Uint8Array.from(atob(t.data), (c) => c.charCodeAt(0)));
  }
}

function inProcessWorker(server: FakeMaskServer): MaskWorker {
  return {
    paint: (job, slide) => Promise.resolve(paint(job, slide)),
    reduce: (c) => Promise.resolve(reduceTiles(c)),
    render: () => Promise.reject(new Error('no bitmaps in Node')),
    readPack: () =>
      Promise.resolve(
        [...server.tiles].map(([key, t]) => {
          const [tx, ty] = key.split(',').map(Number) as [number, number];
          return { tx, ty, version: t.version, tile: server.tile(key) };
        }),
      ),
    compress: (t) => Promise.resolve(compressEncoded(t)),
  };
}

async function saved(s: MaskSession): Promise<void> {
  await s.idle();
  for (let i = 0; i < 400; i++) {
    const st = s.sync.snapshot;
    if ((st.status === 'saved' && st.queued === 0) || st.status === 'conflict' || st.status === 'error') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

function session(server: FakeMaskServer, outbox = new MemoryOutbox()): { s: MaskSession; undo: UndoManager; outbox: MemoryOutbox } {
  const undo = new UndoManager(new AnnotationStore());
  const s = MaskSession.create(server.api(), inProcessWorker(server), () => undefined, outbox, undo, 4000, 3000);
  return { s, undo, outbox };
}

/** An outbox whose writes can be held back (each entry stored as it was when the write began, as IndexedDB does). */
class SlowOutbox extends MemoryOutbox {
  gate: Promise<void> | null = null;

  override async add<Op>(e: OutboxEntry<Op>): Promise<number> {
    const seq = await super.add(structuredClone(e));
    if (this.gate) await this.gate;
    return seq;
  }
}

/**
 * A saved stroke on tile (0, 0), which another tab then replaces (version 2),
 * and two more strokes queued offline on top (the second also paints tile
 * (1, 0)); back online the first of them meets the conflict.
 */
async function conflictWithLaterEdits(server: FakeMaskServer, s: MaskSession): Promise<void> {
  await s.load();
  await s.stroke(new Float64Array([100, 100]), 30, 2, null);
  await saved(s);
  server.tiles.set('0,0', { version: 2, data: btoa(String.fromCharCode(...compressEncoded({ uniform: 5 }))) });
  server.offline = true;
  await s.stroke(new Float64Array([300, 300]), 30, 3, null);
  await s.stroke(new Float64Array([480, 200, 560, 200]), 20, 4, null);
  server.offline = false;
  s.sync.retryNow();
  await saved(s);
  expect(s.sync.snapshot.status).toBe('conflict');
}

describe('mask session: strokes, undo, sync', () => {
  it('saves each stroke as one step; undo and redo restore tiles byte for byte and reach the server', async () => {
    const server = new FakeMaskServer();
    const { s, undo } = session(server);
    await s.load();
    const a = await s.stroke(new Float64Array([100, 100, 900, 150]), 20, 2, null);
    expect(a.keys.sort()).toEqual(['0,0', '1,0']);
    const afterA = new Map([...s.store.keys()].map((k) => [k, s.store.get(k)]));
    await s.stroke(new Float64Array([500, 100, 500, 700]), 15, 3, null);
    await saved(s);
    expect(undo.undoLabel).toBe('Brush stroke');
    expect(server.tile('0,1')).toEqual(s.store.get('0,1'));
    undo.undo();
    await saved(s);
    for (const [k, t] of afterA) expect(s.store.get(k)).toEqual(t);
    expect(server.tile('0,0')).toEqual(afterA.get('0,0'));
    expect(server.tile('0,1')).toEqual({ uniform: 0 });
    undo.redo();
    await saved(s);
    expect(differing(decodeTile(server.tile('0,1')), decodeTile(s.store.get('0,1')))).toBe(0);
    // a reload gives the same mask, byte for byte
    const { s: again } = session(server);
    await again.load();
    for (const k of s.store.keys()) expect(differing(decodeTile(again.store.get(k)), decodeTile(s.store.get(k)))).toBe(0);
  });

  it('queues offline, restores unsent strokes after a reload, and sends them once', async () => {
    const server = new FakeMaskServer();
    const outbox = new MemoryOutbox();
    const { s } = session(server, outbox);
    await s.load();
    server.offline = true;
    for (let i = 0; i < 5; i++) await s.stroke(new Float64Array([100 + i * 300, 1000]), 25, 1 + (i % 3), null);
    await new Promise((r) => setTimeout(r, 30));
    expect(s.sync.snapshot.status).toBe('offline');
    expect(s.sync.snapshot.queued).toBe(5);
    const painted = new Map([...s.store.keys()].map((k) => [k, decodeTile(s.store.get(k))]));
    s.sync.stop();
    // the tab is reloaded while offline: the outbox brings the strokes back
    server.offline = false;
    const { s: again } = session(server, outbox);
    await again.load();
    for (const [k, d] of painted) expect(differing(decodeTile(again.store.get(k)), d)).toBe(0);
    await saved(again);
    expect(await outbox.list('slide1#mask:dr.a')).toEqual([]);
    for (const [k, d] of painted) expect(differing(decodeTile(server.tile(k)), d)).toBe(0);
    expect([...server.tiles.values()].every((t) => t.version >= 1)).toBe(true);
  });

  it('a tile changed elsewhere stops the queue; "mine" overwrites it, "theirs" takes the server copy', async () => {
    const server = new FakeMaskServer();
    const { s } = session(server);
    await s.load();
    await s.stroke(new Float64Array([100, 100]), 30, 2, null);
    await saved(s);
    // another tab writes the same tile
    server.tiles.set('0,0', { version: 2, data: btoa(String.fromCharCode(...compressEncoded({ uniform: 5 }))) });
    await s.stroke(new Float64Array([300, 300]), 30, 3, null);
    await saved(s);
    expect(s.sync.snapshot.status).toBe('conflict');
    expect(s.sync.snapshot.conflict).toMatchObject({ tx: 0, ty: 0, current: 2 });
    const mine = decodeTile(s.store.get('0,0'));
    await s.sync.resolve('mine');
    await saved(s);
    expect(server.tiles.get('0,0')?.version).toBe(3);
    expect(differing(decodeTile(server.tile('0,0')), mine)).toBe(0);
    server.tiles.set('0,0', { version: 4, data: btoa(String.fromCharCode(...compressEncoded({ uniform: 6 }))) });
    await s.stroke(new Float64Array([200, 200]), 10, 1, null);
    await saved(s);
    expect(s.sync.snapshot.status).toBe('conflict');
    await s.sync.resolve('theirs');
    await saved(s);
    expect(s.store.get('0,0')).toEqual({ uniform: 6 });
    expect(s.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
  });

  it('fills a large ROI in bands as one undo step, and refuses an open flood fill', async () => {
    const server = new FakeMaskServer();
    const { s, undo } = session(server);
    await s.load();
    const roi = [new Float64Array([10, 10, 3900, 40, 3800, 2950, 30, 2900])];
    const out = await s.fillPolygons([roi], 4, 'Fill 1 region');
    expect(out.keys.length).toBeGreaterThan(40);
    expect(undo.undoLabel).toBe('Fill 1 region');
    // the slack around the ROI is closed by the ROI and the slide's edges
    const flood = await s.flood(3950, 1500, 2, { x0: 0, y0: 0, x1: 4000, y1: 3000 });
    expect(flood.refused).toBeNull();
    expect(flood.pixels).toBeGreaterThan(10_000);
    const open = await s.flood(2000, 1500, 2, { x0: 1500, y0: 1000, x1: 2500, y1: 2000 });
    expect(open.refused).toMatch(/not closed/);
    undo.undo();
    undo.undo();
    await saved(s);
    expect([...s.store.keys()].every((k) => isUniform(s.store.get(k)) && (s.store.get(k) as { uniform: number }).uniform === 0)).toBe(true);
  });

  it('resolving a conflict carries the later unsent edits of the tile: "mine" sends them all on top', async () => {
    const server = new FakeMaskServer();
    const { s } = session(server);
    await conflictWithLaterEdits(server, s);
    await s.sync.resolve('mine');
    await saved(s);
    expect(s.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(server.tiles.get('0,0')?.version).toBe(4);
    for (const k of ['0,0', '1,0']) expect(differing(decodeTile(server.tile(k)), decodeTile(s.store.get(k))), k).toBe(0);
    // and an edit made now builds on the saved version
    await s.stroke(new Float64Array([50, 400]), 10, 1, null);
    await saved(s);
    expect(s.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(server.tiles.get('0,0')?.version).toBe(5);
  });

  it('"theirs" gives up every unsent edit of that tile and keeps the rest', async () => {
    const server = new FakeMaskServer();
    const outbox = new MemoryOutbox();
    const { s } = session(server, outbox);
    await conflictWithLaterEdits(server, s);
    const otherTile = decodeTile(s.store.get('1,0'));
    await s.sync.resolve('theirs');
    await saved(s);
    expect(s.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(s.store.get('0,0')).toEqual({ uniform: 5 });
    expect(server.tile('0,0')).toEqual({ uniform: 5 });
    expect(server.tiles.get('0,0')?.version).toBe(2);
    expect(differing(decodeTile(server.tile('1,0')), otherTile)).toBe(0);
    expect(await outbox.list('slide1#mask:dr.a')).toEqual([]);
  });

  it('an edit whose tiles the server replaced while it was painted is painted again on the new content', async () => {
    const server = new FakeMaskServer();
    const worker = inProcessWorker(server);
    let hold = false;
    let release: () => void = () => undefined;
    const slow: MaskWorker = {
      ...worker,
      paint: async (job, slide) => {
        const r = paint(job, slide);
        if (hold) {
          hold = false;
          await new Promise<void>((res) => (release = res));
        }
        return r;
      },
    };
    const s = MaskSession.create(server.api(), slow, () => undefined, new MemoryOutbox(), new UndoManager(new AnnotationStore()), 4000, 3000);
    await s.load();
    hold = true;
    const pending = s.stroke(new Float64Array([100, 100, 200, 100]), 10, 2, null);
    await new Promise((r) => setTimeout(r, 10));
    // meanwhile the server's copy of the tile arrives (the ROIs were painted on the server)
    server.tiles.set('0,0', { version: 1, data: btoa(String.fromCharCode(...compressEncoded({ uniform: 6 }))) });
    s.store.apply([{ key: '0,0', tile: { uniform: 6 }, version: 1 }], 'remote', 'Regions painted on the server');
    release();
    expect((await pending).refused).toBeNull();
    await saved(s);
    const d = decodeTile(s.store.get('0,0'));
    expect(d[100 * MASK_TILE + 150]).toBe(2);
    expect(d[400 * MASK_TILE + 400]).toBe(6);
    expect(s.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(differing(decodeTile(server.tile('0,0')), d)).toBe(0);
  });

  it('a slide left with unsent strokes ends its worker without stranding them: the next visit loads and sends them', async () => {
    const server = new FakeMaskServer();
    const outbox = new MemoryOutbox();
    const worker = inProcessWorker(server);
    let ended = false;
    // a Comlink call on a terminated worker never settles
    const hanging: MaskWorker = { ...worker, compress: (t) => (ended ? new Promise<Uint8Array>(() => undefined) : worker.compress(t)) };
    const s = MaskSession.create(server.api(), hanging, () => (ended = true), outbox, new UndoManager(new AnnotationStore()), 4000, 3000);
    await s.load();
    server.offline = true;
    await s.stroke(new Float64Array([700, 700]), 25, 3, null);
    await new Promise((r) => setTimeout(r, 30));
    expect(s.sync.snapshot.queued).toBe(1);
    const painted = decodeTile(s.store.get('1,1'));
    s.dispose(50);
    // past the worker's end and the sender's first retry (500 ms), which would call the ended worker
    await new Promise((r) => setTimeout(r, 700));
    expect(ended).toBe(true);
    server.offline = false;
    const { s: again } = session(server, outbox);
    await again.load();
    await saved(again);
    expect(again.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(differing(decodeTile(server.tile('1,1')), painted)).toBe(0);
  });

  it('"theirs" while a later stroke of the tile is still being stored leaves nothing of it in the outbox', async () => {
    const server = new FakeMaskServer();
    const outbox = new SlowOutbox();
    const { s } = session(server, outbox);
    await conflictWithLaterEdits(server, s);
    let open: () => void = () => undefined;
    outbox.gate = new Promise<void>((r) => (open = r));
    await s.stroke(new Float64Array([200, 250]), 10, 1, null); // tile (0, 0) only; its storing is held
    const resolving = s.sync.resolve('theirs');
    await new Promise((r) => setTimeout(r, 10));
    outbox.gate = null;
    open();
    await resolving;
    await saved(s);
    expect(s.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(await outbox.list('slide1#mask:dr.a')).toEqual([]);
    expect(s.store.get('0,0')).toEqual({ uniform: 5 });
    expect(server.tiles.get('0,0')?.version).toBe(2);
  });

  it('undo leaves alone a tile that the server\'s copy replaced since ("theirs"), and says so', async () => {
    const server = new FakeMaskServer();
    const { s, undo } = session(server);
    let skipped = 0;
    s.onReplaySkipped((e) => (skipped += e.tiles));
    await conflictWithLaterEdits(server, s);
    await s.sync.resolve('theirs');
    await saved(s);
    for (let i = 0; i < 3; i++) undo.undo();
    await saved(s);
    expect(skipped).toBe(3);
    expect(s.store.get('0,0')).toEqual({ uniform: 5 });
    expect(server.tile('0,0')).toEqual({ uniform: 5 });
    expect(server.tiles.get('0,0')?.version).toBe(2);
    // the other tile of the last stroke was undone as usual
    expect(s.store.get('1,0')).toEqual({ uniform: 0 });
    expect(server.tile('1,0')).toEqual({ uniform: 0 });
  });

  it('an edit rebased while it was still being stored is stored rebased, so a reload sends it without a conflict', async () => {
    const server = new FakeMaskServer();
    const outbox = new SlowOutbox();
    const { s } = session(server, outbox);
    await s.load();
    server.offline = true;
    await s.stroke(new Float64Array([100, 100]), 20, 2, null); // A: its send fails, a retry is due in 500 ms
    await new Promise((r) => setTimeout(r, 10));
    let stored: () => void = () => undefined;
    outbox.gate = new Promise<void>((r) => (stored = r));
    await s.stroke(new Float64Array([200, 200]), 20, 3, null); // B on the same tile, built on A: its write held
    server.offline = false;
    await new Promise((r) => setTimeout(r, 700)); // the retry sends A; it is acknowledged (version 1), so B now builds on 1
    expect(server.tiles.get('0,0')?.version).toBe(1);
    server.offline = true;
    outbox.gate = null;
    stored();
    await new Promise((r) => setTimeout(r, 10));
    const kept = await outbox.list<{ ifMatch: number }>('slide1#mask:dr.a');
    expect(kept.map((e) => e.ops.map((o) => o.ifMatch))).toEqual([[1]]);
    // the tab is reloaded: B goes out on version 1 and is accepted
    s.sync.stop();
    server.offline = false;
    const { s: again } = session(server, outbox);
    await again.load();
    await saved(again);
    expect(again.sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(server.tiles.get('0,0')?.version).toBe(2);
  });
});
