/**
 * Painted masks in the store (SQLite or PostgreSQL). A mask is one slide's and one annotator's sparse
 * grid of 512 × 512 level-0 tiles. Every version of every tile is an
 * append-only `mask_history` row (the version as a keyframe or a delta from
 * the one before — store/mask-history.ts —, pixel counts per class, author,
 * time, operation id); `mask_tiles` holds the head of each tile (its
 * version, the data exactly as its writer sent it, and counts) for fast
 * reads and stats.
 *
 * Writes follow the annotation store: optimistic concurrency per tile (the
 * version the client edited, 0 = a new tile), batches applied in one
 * transaction, and an operation id (Idempotency-Key) in `operations` so a
 * retry replays the first answer and a different request under a used key
 * is refused.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { WsiError, type ErrorCode } from '../../src/core/errors.js';
import { addCounts, deflateTile, inflateTile } from '../masks/tile-codec.js';
import { writeTransaction, type Db } from './database.js';
import { dialectOf, type Inserter } from './dialect.js';
import { decodeKeyframe, encodeVersion, encodeVersionAsync, isKeyframe, rebuild, replay, type EncodedVersion, type HistoryEncoding, type HistoryRow } from './mask-history.js';

export type MaskOp = 'paint' | 'import';

export interface TileWrite {
  tx: number;
  ty: number;
  /** The version the client edited (0 = the tile did not exist); null = on top of whatever is there (imports). */
  ifMatch: number | null;
  data: Uint8Array;
  /** Pixel counts per class id as JSON (countsJson). */
  pixels: string;
  /** How the history stores this write, worked out before the transaction on top of version `base` (used only if the tile is still there). */
  history?: { base: number; stored: EncodedVersion };
}

export interface TileHead {
  tx: number;
  ty: number;
  version: number;
  data: Buffer;
  pixels: string;
  seq: number;
}

export interface TileVersion {
  version: number;
  op: MaskOp;
  author: string;
  at: string;
  opId: string;
  pixels: Record<string, number>;
  data?: string;
}

interface VersionRow {
  version: number;
  op: MaskOp;
  author: string;
  at: string;
  op_id: string;
  pixels: string;
  encoding: HistoryEncoding;
  data: Buffer;
}

/** One tile version written inside a region (regionHistory). */
export interface RegionRow {
  seq: number;
  tx: number;
  ty: number;
  version: number;
  op: MaskOp;
  author: string;
  at: string;
  op_id: string;
}

export interface OperationResult {
  status: number;
  body: Record<string, unknown>;
}

/** A refusal of one operation of a batch: the batch is rolled back and the refusal remembered. */
export class MaskOpError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    readonly detail: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function operationHash(parts: Array<string | Uint8Array>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

export class MaskStore {
  private readonly stmts;
  /** A new history row, giving its seq. */
  private readonly insertHistory: Inserter;
  /** labelledPixels' answers, with the state of the masks they were counted on */
  private readonly labelled = new Map<string, { stamp: string; pixels: Readonly<Record<string, number>> }>();

  constructor(private readonly db: Db) {
    this.insertHistory = dialectOf(db).inserter(
      db,
      `INSERT INTO mask_history (slide_id, annotator, tx, ty, version, op, encoding, data, pixels, author, at, op_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      'seq',
    );
    this.stmts = {
      masks: db.prepare<[string], { annotator: string; tiles: number; updated_at: string }>(
        `SELECT annotator, count(*) AS tiles, max(updated_at) AS updated_at FROM mask_tiles WHERE slide_id = ? GROUP BY annotator ORDER BY annotator`,
      ),
      head: db.prepare<[string, string, number, number], TileHead>(
        `SELECT tx, ty, version, data, pixels, head_seq AS seq FROM mask_tiles WHERE slide_id = ? AND annotator = ? AND tx = ? AND ty = ?`,
      ),
      all: db.prepare<[string, string], TileHead>(`SELECT tx, ty, version, data, pixels, head_seq AS seq FROM mask_tiles WHERE slide_id = ? AND annotator = ? ORDER BY ty, tx`),
      range: db.prepare<[string, string, number, number, number, number], TileHead>(
        `SELECT tx, ty, version, data, pixels, head_seq AS seq FROM mask_tiles
         WHERE slide_id = ? AND annotator = ? AND tx BETWEEN ? AND ? AND ty BETWEEN ? AND ? ORDER BY ty, tx`,
      ),
      index: db.prepare<[string, string], { tx: number; ty: number; seq: number; pixels: string; bytes: number }>(
        `SELECT tx, ty, head_seq AS seq, pixels, length(data) AS bytes FROM mask_tiles WHERE slide_id = ? AND annotator = ?`,
      ),
      counts: db.prepare<[string, string], { pixels: string }>(`SELECT pixels FROM mask_tiles WHERE slide_id = ? AND annotator = ?`),
      // what a slide's (or one annotator's) masks are now: changes when any tile is written
      stamp: db.prepare<[string, string | null, string | null], { n: number; seq: number | null }>(
        `SELECT count(*) AS n, max(head_seq) AS seq FROM mask_tiles WHERE slide_id = ? AND (CAST(? AS TEXT) IS NULL OR annotator = ?)`,
      ),
      labelled: db.prepare<[string, string | null, string | null], { pixels: string }>(
        `SELECT pixels FROM mask_tiles WHERE slide_id = ? AND (CAST(? AS TEXT) IS NULL OR annotator = ?)`,
      ),
      rowAt: db.prepare<[number], { slide_id: string; annotator: string; tx: number; ty: number; version: number }>(`SELECT slide_id, annotator, tx, ty, version FROM mask_history WHERE seq = ?`),
      headAt: db.prepare<[number], { data: Buffer }>(`SELECT data FROM mask_tiles WHERE head_seq = ?`),
      history: db.prepare<[string, string, number, number], VersionRow>(
        `SELECT version, op, author, at, op_id, pixels, encoding, data FROM mask_history WHERE slide_id = ? AND annotator = ? AND tx = ? AND ty = ? ORDER BY version`,
      ),
      // a version and the rows it is rebuilt from: back to the last keyframe at or before it
      chain: db.prepare<{ s: string; a: string; x: number; y: number; v: number }, HistoryRow>(
        `SELECT version, encoding, data FROM mask_history
         WHERE slide_id = @s AND annotator = @a AND tx = @x AND ty = @y AND version <= @v
           AND version >= (SELECT max(version) FROM mask_history
                           WHERE slide_id = @s AND annotator = @a AND tx = @x AND ty = @y AND version <= @v AND encoding = 'zlib')
         ORDER BY version`,
      ),
      // a region's history: every tile version written inside a tile range, newest first (the unique key's prefix serves it)
      regionRows: db.prepare<[string, string, number, number, number, number, number], RegionRow>(
        `SELECT seq, tx, ty, version, op, author, at, op_id FROM mask_history
         WHERE slide_id = ? AND annotator = ? AND tx BETWEEN ? AND ? AND ty BETWEEN ? AND ? ORDER BY seq DESC LIMIT ?`,
      ),
      rangeVersions: db.prepare<[string, string, number, number, number, number], { tx: number; ty: number; version: number }>(
        `SELECT tx, ty, version FROM mask_tiles WHERE slide_id = ? AND annotator = ? AND tx BETWEEN ? AND ? AND ty BETWEEN ? AND ?`,
      ),
      regionAsOf: db.prepare<[string, string, number, number, number, number, number], { tx: number; ty: number; version: number }>(
        `SELECT tx, ty, max(version) AS version FROM mask_history
         WHERE slide_id = ? AND annotator = ? AND tx BETWEEN ? AND ? AND ty BETWEEN ? AND ? AND seq <= ? GROUP BY tx, ty`,
      ),
      upsertHead: db.prepare(
        `INSERT INTO mask_tiles (slide_id, annotator, tx, ty, version, head_seq, data, pixels, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (slide_id, annotator, tx, ty) DO UPDATE SET version = excluded.version, head_seq = excluded.head_seq, data = excluded.data,
           pixels = excluded.pixels, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      ),
      getOp: db.prepare<[string], { slide_id: string; request_hash: string; status: number; response: string }>(`SELECT slide_id, request_hash, status, response FROM operations WHERE op_id = ?`),
      putOp: db.prepare(`INSERT INTO operations (op_id, slide_id, request_hash, status, response, at) VALUES (?, ?, ?, ?, ?, ?)`),
    };
  }

  /** The masks of a slide: one per annotator who painted on it. */
  list(slideId: string): Array<{ annotator: string; tiles: number; updatedAt: string }> {
    return this.stmts.masks.all(slideId).map((r) => ({ annotator: r.annotator, tiles: r.tiles, updatedAt: r.updated_at }));
  }

  head(slideId: string, annotator: string, tx: number, ty: number): TileHead | null {
    return this.stmts.head.get(slideId, annotator, tx, ty) ?? null;
  }

  /** Current tiles, all or those in the inclusive tile range. */
  tiles(slideId: string, annotator: string, range?: { tx0: number; ty0: number; tx1: number; ty1: number }): TileHead[] {
    return range ? this.stmts.range.all(slideId, annotator, range.tx0, range.tx1, range.ty0, range.ty1) : this.stmts.all.all(slideId, annotator);
  }

  /** Where each current tile's data is (history seq) and its counts: a consistent snapshot for exports. */
  snapshot(slideId: string, annotator: string): Array<{ tx: number; ty: number; seq: number; pixels: string; bytes: number }> {
    return this.stmts.index.all(slideId, annotator);
  }

  /**
   * One stored version as a zlib stream (history rows never change): the
   * head's data as its writer sent it while it is the head, else rebuilt.
   */
  dataAt(seq: number): Buffer {
    const head = this.stmts.headAt.get(seq);
    if (head) return head.data;
    const row = this.stmts.rowAt.get(seq);
    if (!row) throw new WsiError('INTERNAL', `mask history row ${seq} is missing`);
    return deflateSync(this.pixelsAt(row.slide_id, row.annotator, row.tx, row.ty, row.version) as Uint8Array);
  }

  /** The class ids of one version of a tile (a fresh buffer), or null if the tile never had that version. */
  pixelsAt(slideId: string, annotator: string, tx: number, ty: number, version: number): Uint8Array | null {
    const rows = this.stmts.chain.all({ s: slideId, a: annotator, x: tx, y: ty, v: version });
    if (rows.length === 0 || rows[rows.length - 1]?.version !== version) return null;
    return rebuild(rows);
  }

  /**
   * One version of a tile as a zlib stream: its writer's own bytes where the
   * store has them (the head, and keyframes), else compressed afresh (quickly:
   * about a millisecond, on the event loop rather than behind the thread
   * pool's queue). Null if the tile never had that version.
   */
  versionData(slideId: string, annotator: string, tx: number, ty: number, version: number): Buffer | null {
    const head = this.head(slideId, annotator, tx, ty);
    if (head?.version === version) return head.data;
    const rows = this.stmts.chain.all({ s: slideId, a: annotator, x: tx, y: ty, v: version });
    const last = rows[rows.length - 1];
    if (!last || last.version !== version) return null;
    if (isKeyframe(last.encoding)) return Buffer.from(last.data);
    return deflateSync(rebuild(rows), { level: 3 });
  }

  /**
   * The tile versions written inside tiles [tx0, tx1] × [ty0, ty1], newest
   * first, at most `limit` rows (the caller groups them by operation).
   */
  regionHistory(slideId: string, annotator: string, tx0: number, tx1: number, ty0: number, ty1: number, limit: number): RegionRow[] {
    return this.stmts.regionRows.all(slideId, annotator, tx0, tx1, ty0, ty1, limit);
  }

  /**
   * The region as it was right after history row `seq` of this mask: each
   * tile's version then (tiles not yet written then are absent), and each
   * tile's version now. Null when `seq` is no row of this slide's and
   * annotator's mask (another slide's, another reader's, or none).
   */
  regionAsOf(slideId: string, annotator: string, tx0: number, tx1: number, ty0: number, ty1: number, seq: number): { then: Map<string, number>; now: Map<string, number> } | null {
    const row = this.stmts.rowAt.get(seq);
    if (!row || row.slide_id !== slideId || row.annotator !== annotator) return null;
    const then = new Map(this.stmts.regionAsOf.all(slideId, annotator, tx0, tx1, ty0, ty1, seq).map((r) => [`${r.tx},${r.ty}`, r.version]));
    const now = new Map(this.stmts.rangeVersions.all(slideId, annotator, tx0, tx1, ty0, ty1).map((r) => [`${r.tx},${r.ty}`, r.version]));
    return { then, now };
  }

  /**
   * Labelled pixels per class id of a slide's masks, summed over every
   * annotator's (or one's): the slide list's badge and the class usage a
   * manager sees before removing a class. Remembered until a tile of the
   * slide changes (its tile count and newest head), so a list of many
   * slides does not parse every tile's counts on every request.
   */
  classPixels(slideId: string, annotator: string | null = null): Readonly<Record<string, number>> {
    const key = `${slideId}|${annotator ?? ''}`;
    const now = this.stmts.stamp.get(slideId, annotator, annotator);
    const stamp = `${now?.n ?? 0}|${now?.seq ?? 0}`;
    const known = this.labelled.get(key);
    if (known && known.stamp === stamp) return known.pixels;
    const pixels: Record<string, number> = {};
    for (const r of this.stmts.labelled.iterate(slideId, annotator, annotator)) addCounts(pixels, r.pixels);
    if (this.labelled.size > 10_000) this.labelled.clear();
    this.labelled.set(key, { stamp, pixels });
    return pixels;
  }

  /** All labelled pixels of a slide's masks (every annotator's, or one's). */
  labelledPixels(slideId: string, annotator: string | null = null): number {
    let n = 0;
    for (const v of Object.values(this.classPixels(slideId, annotator))) n += v;
    return n;
  }

  /** Per-class pixel counts over the whole mask, and its tile count. */
  counts(slideId: string, annotator: string): { pixels: Record<string, number>; tiles: number } {
    const pixels: Record<string, number> = {};
    let tiles = 0;
    for (const r of this.stmts.counts.iterate(slideId, annotator)) {
      tiles++;
      for (const [id, n] of Object.entries(JSON.parse(r.pixels) as Record<string, number>)) pixels[id] = (pixels[id] ?? 0) + n;
    }
    return { pixels, tiles };
  }

  /** Every version of a tile, oldest first; `withData` adds each version's tile as versionData gives it (base64). */
  async history(slideId: string, annotator: string, tx: number, ty: number, withData = false): Promise<TileVersion[]> {
    const rows = this.stmts.history.all(slideId, annotator, tx, ty);
    const out = rows.map((r): TileVersion => ({ version: r.version, op: r.op, author: r.author, at: r.at, opId: r.op_id, pixels: JSON.parse(r.pixels) as Record<string, number> }));
    if (!withData) return out;
    const head = this.head(slideId, annotator, tx, ty);
    // one version at a time: a long history never holds more than one tile uncompressed
    for (const { tile, row } of replay(rows)) {
      const v = out[row.version - 1] as TileVersion;
      if (head?.version === row.version) v.data = head.data.toString('base64');
      else if (isKeyframe(row.encoding)) v.data = Buffer.from(row.data).toString('base64');
      else v.data = (await deflateTile(tile)).toString('base64');
    }
    return out;
  }

  /**
   * Works out, before the transaction, how the history will store each of a
   * batch's writes (inflating and comparing tiles on the thread pool rather
   * than inside the transaction). A write whose tile moved on meanwhile is
   * left for writeTile to encode.
   */
  async prepareHistory(slideId: string, annotator: string, writes: TileWrite[], signal?: AbortSignal): Promise<void> {
    const count = new Map<string, number>();
    for (const w of writes) count.set(`${w.tx},${w.ty}`, (count.get(`${w.tx},${w.ty}`) ?? 0) + 1);
    // the tile each write of the batch leaves, for a later write of the same tile
    const left = new Map<string, { version: number; tile: Uint8Array }>();
    for (const w of writes) {
      signal?.throwIfAborted();
      const key = `${w.tx},${w.ty}`;
      let base: { version: number; tile: Uint8Array | null };
      const earlier = left.get(key);
      if (earlier) base = earlier;
      else {
        const head = this.head(slideId, annotator, w.tx, w.ty);
        base = { version: head?.version ?? 0, tile: head ? await inflateTile(head.data) : null };
      }
      if (w.ifMatch !== null && w.ifMatch !== base.version) return; // refused in the transaction (412)
      const tile = await inflateTile(w.data);
      w.history = { base: base.version, stored: await encodeVersionAsync(base.version + 1, base.tile, tile, w.data) };
      const remaining = (count.get(key) ?? 1) - 1;
      count.set(key, remaining);
      if (remaining > 0) left.set(key, { version: base.version + 1, tile });
      else left.delete(key);
    }
  }

  /** The remembered answer to an operation id, or null; a different request under the key is refused. */
  prior(opId: string, slideId: string, hash: string): OperationResult | null {
    const prior = this.stmts.getOp.get(opId);
    if (!prior) return null;
    if (prior.request_hash !== hash || prior.slide_id !== slideId) {
      throw new WsiError('IDEMPOTENCY_KEY_REUSED', `operation id ${opId} was already used for a different request`);
    }
    return { status: prior.status, body: { ...(JSON.parse(prior.response) as Record<string, unknown>), replayed: true } };
  }

  /**
   * Writes one new version of a tile (inside the caller's transaction) and
   * returns it. `ifMatch` null writes on top of the current version.
   */
  writeTile(slideId: string, annotator: string, w: TileWrite, index: number, op: MaskOp, author: string, at: string, opId: string): number {
    const current = this.stmts.head.get(slideId, annotator, w.tx, w.ty)?.version ?? 0;
    if (w.ifMatch !== null && w.ifMatch !== current) {
      throw new MaskOpError(
        'PRECONDITION_FAILED',
        412,
        current === 0
          ? `tile (${w.tx}, ${w.ty}) does not exist yet; the change was based on version ${w.ifMatch} (send ifMatch 0 for a new tile)`
          : `tile (${w.tx}, ${w.ty}) is at version ${current}, the change was based on version ${w.ifMatch}`,
        { index, current: { tx: w.tx, ty: w.ty, version: current } },
      );
    }
    const version = current + 1;
    const stored = w.history && w.history.base === current ? w.history.stored : this.encodeNow(slideId, annotator, w, current);
    const seq = this.insertHistory(slideId, annotator, w.tx, w.ty, version, op, stored.encoding, stored.data, w.pixels, author, at, opId) as number;
    this.stmts.upsertHead.run(slideId, annotator, w.tx, w.ty, version, seq, w.data, w.pixels, author, at);
    return version;
  }

  /** How the history stores a write on top of version `current`, worked out inside the transaction (when prepareHistory could not). */
  private encodeNow(slideId: string, annotator: string, w: TileWrite, current: number): EncodedVersion {
    const head = current === 0 ? null : this.stmts.head.get(slideId, annotator, w.tx, w.ty);
    return encodeVersion(current + 1, head ? decodeKeyframe(head.data) : null, decodeKeyframe(w.data), w.data);
  }

  /**
   * Runs an operation under its id, atomically: `work` writes inside one
   * transaction and returns the answer, which is remembered. A MaskOpError
   * rolls back everything `work` wrote, and the refusal is remembered too so
   * a retry gets the same answer. Other errors leave no trace.
   */
  /**
   * Runs one recorded operation in a write transaction. `guard` runs inside
   * it, before the work, so a check it makes (a review lock) cannot be
   * overtaken by a change committed between the check and the write.
   */
  runOperation(opId: string, slideId: string, hash: string, status: number, work: (at: string) => Record<string, unknown>, guard?: () => void): OperationResult {
    const at = new Date().toISOString();
    try {
      return writeTransaction(this.db, (): OperationResult => {
        // checked again inside the transaction: the same key may have arrived twice concurrently
        const prior = this.prior(opId, slideId, hash);
        if (prior) return prior;
        guard?.();
        const body = { opId, ...work(at) };
        this.stmts.putOp.run(opId, slideId, hash, status, JSON.stringify(body), at);
        return { status, body };
      });
    } catch (err) {
      if (!(err instanceof MaskOpError)) throw err;
      const body = { code: err.code, message: err.message, detail: { opId, ...err.detail } };
      this.stmts.putOp.run(opId, slideId, hash, err.status, JSON.stringify(body), at);
      return { status: err.status, body };
    }
  }

  /** A batch of tile writes from a client (all or none). */
  applyBatch(slideId: string, annotator: string, opId: string, hash: string, author: string, writes: TileWrite[], guard?: () => void): OperationResult {
    return this.runOperation(opId, slideId, hash, 200, (at) => ({
      results: writes.map((w, i) => ({ tx: w.tx, ty: w.ty, version: this.writeTile(slideId, annotator, w, i, 'paint', author, at, opId) })),
    }), guard);
  }
}
