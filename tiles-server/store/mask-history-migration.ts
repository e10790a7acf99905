/**
 * Schema 3 for a store written before the mask history kept deltas: every
 * version of every tile is stored whole. Each tile's versions are rewritten
 * in order as keyframes and deltas (store/mask-history.ts), then replayed
 * and compared with the originals pixel for pixel before the migration's
 * transaction may commit — a version that would not come back exactly
 * stops the migration and leaves the store as it was.
 */
import { WsiError } from '../../src/core/errors.js';
import type { LogLine } from '../private-files.js';
import type { Db } from './database.js';
import { decodeKeyframe, encodeVersion, replay, type HistoryRow } from './mask-history.js';

const APPEND_ONLY = `CREATE TRIGGER mask_history_append_only_update BEFORE UPDATE ON mask_history BEGIN SELECT RAISE(ABORT, 'mask history is append-only'); END;`;

export function compactMaskHistory(db: Db, log: LogLine): void {
  const total = (db.prepare('SELECT count(*) AS n FROM mask_history').get() as { n: number }).n;
  if (total === 0) return;
  const t0 = performance.now();
  log(`converting the mask history (${total} tile versions) to keyframes and deltas; this runs once`);
  // the migration is the one writer allowed to rewrite history rows
  db.exec('DROP TRIGGER mask_history_append_only_update');
  const tiles = db.prepare('SELECT DISTINCT slide_id, annotator, tx, ty FROM mask_history').all() as Array<{ slide_id: string; annotator: string; tx: number; ty: number }>;
  const rowsOf = db.prepare<[string, string, number, number], { seq: number; version: number; data: Buffer }>(
    'SELECT seq, version, data FROM mask_history WHERE slide_id = ? AND annotator = ? AND tx = ? AND ty = ? ORDER BY version',
  );
  const update = db.prepare('UPDATE mask_history SET encoding = ?, data = ? WHERE seq = ?');
  let before = 0;
  let after = 0;
  for (const t of tiles) {
    const rows = rowsOf.all(t.slide_id, t.annotator, t.tx, t.ty);
    const originals: Uint8Array[] = [];
    const stored: HistoryRow[] = [];
    let prev: Uint8Array | null = null;
    let prevVersion = 0;
    for (const r of rows) {
      const tile = decodeKeyframe(r.data);
      const s = encodeVersion(r.version, r.version === prevVersion + 1 ? prev : null, tile, r.data);
      originals.push(tile);
      stored.push({ version: r.version, ...s });
      before += r.data.length;
      after += s.data.byteLength;
      prev = tile;
      prevVersion = r.version;
    }
    let i = 0;
    for (const { tile, row } of replay(stored)) {
      if (!Buffer.from(tile).equals(originals[i++] as Uint8Array)) {
        throw new WsiError('INTERNAL', `converting the mask history: version ${row.version} of tile (${t.tx}, ${t.ty}) would not come back exactly; nothing was changed`);
      }
    }
    stored.forEach((s, k) => {
      if (s.encoding !== 'zlib') update.run(s.encoding, s.data, (rows[k] as { seq: number }).seq);
    });
  }
  db.exec(APPEND_ONLY);
  log(`mask history converted in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${before} → ${after} bytes of tile data (the freed pages are reused by new writes)`);
}
