/**
 * The compact mask history (issue 10, finding 11): tile deltas round-trip
 * and refuse damaged streams; the store, driven by random edit sequences
 * against an oracle of every acknowledged version — strokes, erasures,
 * whole-tile replacements, restores of old versions, stale writes (412,
 * nothing stored), imports on top, the same tile twice in one batch, writes
 * whose planned delta went stale, and more than two keyframe intervals per
 * tile — gives every version back byte for byte; and schema 3 converts a
 * store whose history holds whole tiles, checking every version as it goes
 * (TEST-CATALOGUE DATA-11, DATA-12: what was acknowledged stays readable).
 * The store's tests run on both engines (SQLite and PostgreSQL:
 * tests/helpers/store-engines.ts); the schema-3 conversion is SQLite's past
 * only (a PostgreSQL store starts at the baseline).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { edit } from '../helpers/masks.js';
import { MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { countsJson, histogram, TileDataError } from '../../tiles-server/masks/tile-codec.js';
import { applyDelta, encodeDelta, xorRuns } from '../../tiles-server/masks/tile-delta.js';
import { MIGRATIONS, openDatabase, type Db } from '../../tiles-server/store/database.js';
import { KEYFRAME_EVERY } from '../../tiles-server/store/mask-history.js';
import { MaskStore, operationHash, type TileWrite } from '../../tiles-server/store/mask-store.js';
import { describeEachEngine, type StoreUnderTest } from '../helpers/store-engines.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const zlib = (px: Uint8Array): Buffer => deflateSync(px, { level: 6 });

function write(tx: number, ty: number, ifMatch: number | null, px: Uint8Array): TileWrite {
  return { tx, ty, ifMatch, data: zlib(px), pixels: countsJson(histogram(px)) };
}

describe('tile deltas', () => {
  it('round-trip random pairs, both ways', () => {
    const r = rng(3);
    let a: Uint8Array | null = null;
    for (let i = 0; i < 40; i++) {
      const b = edit(a, r);
      const from = a ?? new Uint8Array(MASK_TILE_PIXELS);
      const d = encodeDelta(from, b);
      const t = from.slice();
      applyDelta(t, d);
      expect(Buffer.from(t).equals(Buffer.from(b))).toBe(true);
      applyDelta(t, d);
      expect(Buffer.from(t).equals(Buffer.from(from))).toBe(true);
      a = b;
    }
  });

  it('handles the edges: no change, every pixel changed, a run up to the last pixel, alternating values', () => {
    const zero = new Uint8Array(MASK_TILE_PIXELS);
    const cases: Uint8Array[] = [zero.slice(), new Uint8Array(MASK_TILE_PIXELS).fill(7), zero.slice(), new Uint8Array(MASK_TILE_PIXELS)];
    (cases[2] as Uint8Array).fill(3, MASK_TILE_PIXELS - 1000);
    for (let i = 0; i < MASK_TILE_PIXELS; i++) (cases[3] as Uint8Array)[i] = i % 2 ? 5 : 250;
    for (const c of cases) {
      const t = zero.slice();
      applyDelta(t, encodeDelta(zero, c));
      expect(Buffer.from(t).equals(Buffer.from(c))).toBe(true);
    }
    expect(encodeDelta(zero, zero).length).toBeLessThan(16);
  });

  it('gives the same delta for tiles that do not start on a 4-byte boundary (no word-wise skipping)', () => {
    const r = rng(8);
    const a = edit(null, r);
    const b = edit(a, r);
    const shifted = (t: Uint8Array): Uint8Array => {
      const out = new Uint8Array(t.length + 1).subarray(1);
      out.set(t);
      return out;
    };
    expect(Buffer.from(xorRuns(shifted(a), shifted(b))).equals(Buffer.from(xorRuns(a, b)))).toBe(true);
    for (const [x, y] of [
      [a, shifted(b)],
      [shifted(a), b],
    ] as Array<[Uint8Array, Uint8Array]>) {
      const t = x.slice();
      applyDelta(t, encodeDelta(x, y));
      expect(Buffer.from(t).equals(Buffer.from(y))).toBe(true);
    }
  });

  it('refuses damaged deltas without writing outside the tile', () => {
    const a = new Uint8Array(MASK_TILE_PIXELS);
    const b = a.slice();
    b.fill(2, 1000, 5000);
    const runs = xorRuns(a, b);
    const raw = (bytes: number[] | Uint8Array): Buffer => deflateSync(Uint8Array.from(bytes), { level: 1 }).subarray(2, -4); // raw deflate
    const bad: Array<[string, Buffer]> = [
      ['not deflate', Buffer.from([1, 2, 3, 4, 5])],
      ['ends inside a run', raw(runs.subarray(0, runs.length - 2))],
      ['trailing bytes', raw([...runs, 0])],
      ['runs past the end', raw([0x80, 0x80, 0x20])],
      ['a run of value 0', raw([0, 5, 0, 0xfb, 0xff, 0x0f])],
      ['a run past the end', raw([0xff, 0xff, 0x0f, 0x10, 2])],
    ];
    for (const [what, d] of bad) {
      const t = a.slice();
      expect(() => applyDelta(t, d), what).toThrow(TileDataError);
    }
  });
});

describeEachEngine('MaskStore history', ({ name, make }) => {
  const opened: Array<{ engine: StoreUnderTest; db: Db }> = [];
  const fresh = (): Db => {
    const engine = make();
    const db = engine.open();
    opened.push({ engine, db });
    return db;
  };
  afterEach(() => {
    for (const { engine, db } of opened.splice(0)) {
      if (db.open) db.close();
      engine.dispose();
    }
  });

  it('runs the write guard inside the transaction: a lock that arrives after the first check refuses the batch and stores nothing (REV-01, the race)', () => {
    const store = new MaskStore(fresh());
    const px = new Uint8Array(MASK_TILE_PIXELS).fill(2);
    let locked = false;
    const guard = (): void => {
      if (locked) throw new Error('REVIEW_LOCKED');
    };
    // the service checked before validating; the review locks the region in between
    locked = true;
    const op = randomUUID();
    expect(() => store.applyBatch('s', 'a', op, operationHash(['x']), 'a', [write(0, 0, 0, px)], guard)).toThrow('REVIEW_LOCKED');
    expect(store.head('s', 'a', 0, 0)).toBeNull();
    // the refusal is not recorded as the operation's answer: once reopened, the same key writes
    locked = false;
    expect(store.applyBatch('s', 'a', op, operationHash(['x']), 'a', [write(0, 0, 0, px)], guard).status).toBe(200);
    expect(store.head('s', 'a', 0, 0)?.version).toBe(1);
  });

  it('lists masks, counts pixels per class (all annotators or one), reads ranges and a region as it was', () => {
    const store = new MaskStore(fresh());
    const two = new Uint8Array(MASK_TILE_PIXELS).fill(2);
    const mixed = new Uint8Array(MASK_TILE_PIXELS).fill(3, 0, 1000);
    expect(store.applyBatch('s', 'dr.a', 'op-1', operationHash(['1']), 'dr.a', [write(0, 0, 0, two), write(1, 0, 0, mixed)]).status).toBe(200);
    expect(store.applyBatch('s', 'dr.b', 'op-2', operationHash(['2']), 'dr.b', [write(0, 0, 0, mixed)]).status).toBe(200);
    const seqAfterFirst = store.head('s', 'dr.a', 1, 0)?.seq as number;
    expect(store.applyBatch('s', 'dr.a', 'op-3', operationHash(['3']), 'dr.a', [write(1, 0, 1, two)]).status).toBe(200);
    expect(store.list('s').map((m) => [m.annotator, m.tiles])).toEqual([['dr.a', 2], ['dr.b', 1]]);
    expect(store.classPixels('s')).toEqual({ '2': 2 * MASK_TILE_PIXELS, '3': 1000 });
    expect(store.classPixels('s', 'dr.b')).toEqual({ '3': 1000 });
    expect(store.labelledPixels('s', 'nobody')).toBe(0);
    expect(store.counts('s', 'dr.a')).toEqual({ pixels: { '2': 2 * MASK_TILE_PIXELS }, tiles: 2 });
    expect(store.tiles('s', 'dr.a', { tx0: 1, ty0: 0, tx1: 5, ty1: 5 }).map((t) => [t.tx, t.ty, t.version])).toEqual([[1, 0, 2]]);
    expect(store.snapshot('s', 'dr.a').every((t) => t.bytes > 0)).toBe(true);
    expect(store.regionHistory('s', 'dr.a', 0, 1, 0, 0, 10).map((r) => [r.tx, r.version, r.op_id])).toEqual([[1, 2, 'op-3'], [1, 1, 'op-1'], [0, 1, 'op-1']]);
    const asOf = store.regionAsOf('s', 'dr.a', 0, 1, 0, 0, seqAfterFirst);
    expect(asOf && [...asOf.then]).toEqual([['0,0', 1], ['1,0', 1]]);
    expect(asOf && [...asOf.now].sort()).toEqual([['0,0', 1], ['1,0', 2]]);
    expect(store.regionAsOf('s', 'dr.b', 0, 1, 0, 0, seqAfterFirst)).toBeNull();
    // append-only on both engines
    const db = opened[0]?.db as Db;
    expect(() => db.prepare(`UPDATE mask_history SET author = 'x'`).run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM mask_history').run()).toThrow(/append-only/);
  });

  it('gives back every acknowledged version byte for byte over random edit sequences', async () => {
    const db = fresh();
    const store = new MaskStore(db);
    const r = rng(11);
    const S = 'slide';
    const A = 'dr.a';
    // each statement is a round trip on PostgreSQL: one tile and fewer steps there (the same sequence logic), three tiles on SQLite
    const tiles: Array<[number, number]> = name === 'sqlite' ? [[0, 0], [1, 0], [0, 1]] : [[0, 0]];
    // the oracle: every acknowledged version of every tile, and the exact bytes its writer sent
    const oracle = new Map<string, Uint8Array[]>(tiles.map(([x, y]) => [`${x},${y}`, []]));
    const sent = new Map<string, Buffer[]>(tiles.map(([x, y]) => [`${x},${y}`, []]));
    const current = (k: string): number => (oracle.get(k) as Uint8Array[]).length;
    let refused = 0;
    for (let step = 0; step < (name === 'sqlite' ? 260 : 50); step++) {
      const kind = r();
      const [tx, ty] = tiles[Math.floor(r() * tiles.length)] as [number, number];
      const key = `${tx},${ty}`;
      const versions = oracle.get(key) as Uint8Array[];
      const head = versions[versions.length - 1] ?? null;
      const writes: TileWrite[] = [];
      const expected: Uint8Array[] = [];
      if (kind < 0.08 && versions.length > 0) {
        // a stale write: refused, nothing stored
        writes.push(write(tx, ty, Math.floor(r() * versions.length), edit(head, r)));
      } else if (kind < 0.18 && versions.length > 2) {
        // restore an old version as the newest one
        const old = versions[Math.floor(r() * (versions.length - 1))] as Uint8Array;
        writes.push(write(tx, ty, versions.length, old));
        expected.push(old);
      } else if (kind < 0.26) {
        // the same tile twice in one batch
        const one = edit(head, r);
        const two = edit(one, r);
        writes.push(write(tx, ty, versions.length, one), write(tx, ty, versions.length + 1, two));
        expected.push(one, two);
      } else if (kind < 0.32) {
        // an import on top of whatever is there
        const px = edit(head, r);
        writes.push(write(tx, ty, null, px));
        expected.push(px);
      } else {
        const px = edit(head, r);
        writes.push(write(tx, ty, versions.length, px));
        expected.push(px);
      }
      const mode = r();
      if (mode < 0.7) await store.prepareHistory(S, A, writes);
      else if (mode < 0.8) {
        // planned on top of a version that has moved on since: writeTile must not use it
        await store.prepareHistory(S, A, writes);
        for (const w of writes) if (w.history) w.history = { base: w.history.base + 7, stored: w.history.stored };
      } // else: nothing planned, encoded inside the transaction
      const res = store.applyBatch(S, A, randomUUID(), operationHash([String(step)]), 'dr.a', writes);
      if (expected.length === 0) {
        expect(res.status).toBe(412);
        refused++;
        continue;
      }
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      for (const [i, px] of expected.entries()) {
        versions.push(px);
        (sent.get(key) as Buffer[]).push(writes[i]?.data as Buffer);
      }
      expect((res.body['results'] as Array<{ version: number }>).map((x) => x.version)).toEqual(expected.map((_, i) => current(key) - expected.length + 1 + i));
    }
    expect(refused).toBeGreaterThan(name === 'sqlite' ? 5 : 1);
    for (const [tx, ty] of tiles) {
      const key = `${tx},${ty}`;
      const versions = oracle.get(key) as Uint8Array[];
      // past two keyframe intervals on SQLite, past one (a chain across a keyframe) on PostgreSQL
      expect(versions.length, key).toBeGreaterThan((name === 'sqlite' ? 2 : 1) * KEYFRAME_EVERY + 1);
      // every version through the chain, and as zlib for clients
      for (let v = 1; v <= versions.length; v++) {
        const px = store.pixelsAt(S, A, tx, ty, v);
        expect(px && Buffer.from(px).equals(Buffer.from(versions[v - 1] as Uint8Array)), `${key} v${v}`).toBe(true);
        const z = store.versionData(S, A, tx, ty, v) as Buffer;
        expect(Buffer.from(inflateSync(z)).equals(Buffer.from(versions[v - 1] as Uint8Array)), `${key} v${v} data`).toBe(true);
      }
      expect(store.pixelsAt(S, A, tx, ty, versions.length + 1)).toBeNull();
      expect(store.versionData(S, A, tx, ty, 0)).toBeNull();
      // the head is exactly what its writer sent; so is the head's version read by number
      const head = store.head(S, A, tx, ty);
      expect(head?.version).toBe(versions.length);
      expect(head?.data.equals((sent.get(key) as Buffer[])[versions.length - 1] as Buffer)).toBe(true);
      expect(store.versionData(S, A, tx, ty, versions.length)?.equals(head?.data as Buffer)).toBe(true);
      // the history with data, oldest first
      const h = await store.history(S, A, tx, ty, true);
      expect(h.map((x) => x.version)).toEqual(versions.map((_, i) => i + 1));
      h.forEach((x, i) => expect(Buffer.from(inflateSync(Buffer.from(x.data as string, 'base64'))).equals(Buffer.from(versions[i] as Uint8Array)), `${key} history v${i + 1}`).toBe(true));
      // keyframes where due, deltas for most of the rest
      const rows = db.prepare('SELECT version, encoding FROM mask_history WHERE slide_id = ? AND annotator = ? AND tx = ? AND ty = ? ORDER BY version').all(S, A, tx, ty) as Array<{ version: number; encoding: string }>;
      for (const row of rows) if ((row.version - 1) % KEYFRAME_EVERY === 0) expect(row.encoding, `${key} v${row.version}`).toBe('zlib');
      expect(rows.filter((x) => x.encoding === 'xor-runs').length).toBeGreaterThan(rows.length / 2);
      // an export of an older head still reads its exact version
      const seq = (db.prepare('SELECT seq FROM mask_history WHERE slide_id = ? AND annotator = ? AND tx = ? AND ty = ? AND version = 3').get(S, A, tx, ty) as { seq: number }).seq;
      expect(Buffer.from(inflateSync(store.dataAt(seq))).equals(Buffer.from(versions[2] as Uint8Array))).toBe(true);
    }
  });
});

describe('the mask history conversion', () => {

  it('converts a store whose history holds whole tiles (the schema migration), every version checked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsi-migrate-'));
    dirs.push(dir);
    const path = join(dir, 'wsi.db');
    // a schema-2 store, written the way the server before this change wrote tiles
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    // every migration before the one that brought deltas
    const compacting = MIGRATIONS.find((m) => m.description.startsWith('mask history as keyframes and deltas'))?.version as number;
    for (const m of MIGRATIONS.filter((x) => x.version < compacting)) old.exec(m.sql);
    old.pragma(`user_version = ${compacting - 1}`);
    const r = rng(5);
    const oracle = new Map<string, Uint8Array[]>();
    const ins = old.prepare(`INSERT INTO mask_history (slide_id, annotator, tx, ty, version, op, data, pixels, author, at, op_id) VALUES (?, ?, ?, ?, ?, 'paint', ?, ?, 'dr.old', '2025-01-01T00:00:00Z', ?)`);
    const head = old.prepare(
      `INSERT INTO mask_tiles (slide_id, annotator, tx, ty, version, head_seq, data, pixels, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'dr.old', '2025-01-01T00:00:00Z')
       ON CONFLICT (slide_id, annotator, tx, ty) DO UPDATE SET version = excluded.version, head_seq = excluded.head_seq, data = excluded.data, pixels = excluded.pixels`,
    );
    let wholeBytes = 0;
    for (const [s, a, tx, ty, n] of [
      ['s1', 'dr.old', 0, 0, 70],
      ['s1', 'dr.old', 3, 2, 5],
      ['s2', 'dr.other', 0, 0, 1],
    ] as Array<[string, string, number, number, number]>) {
      const versions: Uint8Array[] = [];
      let px: Uint8Array | null = null;
      for (let v = 1; v <= n; v++) {
        px = edit(px, r);
        versions.push(px);
        const data = zlib(px);
        wholeBytes += data.length;
        const seq = Number(ins.run(s, a, tx, ty, v, data, countsJson(histogram(px)), randomUUID()).lastInsertRowid);
        head.run(s, a, tx, ty, v, seq, data, countsJson(histogram(px)));
      }
      oracle.set(`${s}/${a}/${tx},${ty}`, versions);
    }
    old.close();
    const said: string[] = [];
    const db = openDatabase(path, { log: (l) => said.push(l) });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS[MIGRATIONS.length - 1]?.version);
    expect(said.join('\n')).toMatch(/converting the mask history \(76 tile versions\)/);
    expect(said.join('\n')).toMatch(/mask history converted in/);
    const compact = (db.prepare('SELECT sum(length(data)) AS n FROM mask_history').get() as { n: number }).n;
    expect(compact).toBeLessThan(wholeBytes / 2);
    const store = new MaskStore(db);
    for (const [key, versions] of oracle) {
      const [s, a, xy] = key.split('/') as [string, string, string];
      const [tx, ty] = xy.split(',').map(Number) as [number, number];
      versions.forEach((px, i) => {
        const got = store.pixelsAt(s, a, tx, ty, i + 1);
        expect(got && Buffer.from(got).equals(Buffer.from(px)), `${key} v${i + 1}`).toBe(true);
      });
      // and it goes on: a new version on top of a converted chain
      const next = edit(versions[versions.length - 1] as Uint8Array, r);
      const w = [write(tx, ty, versions.length, next)];
      await store.prepareHistory(s, a, w);
      expect(store.applyBatch(s, a, randomUUID(), operationHash([key]), 'dr.old', w).status).toBe(200);
      expect(Buffer.from(store.pixelsAt(s, a, tx, ty, versions.length + 1) as Uint8Array).equals(Buffer.from(next))).toBe(true);
    }
    // still append-only
    expect(() => db.prepare('UPDATE mask_history SET data = x\'00\'').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM mask_history').run()).toThrow(/append-only/);
    db.close();
  });
});
