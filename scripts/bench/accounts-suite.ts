/**
 * What accounts cost (issue 12): tiles/s with accounts on (this checkout:
 * every tile request authenticated, authorised and counted for the audit
 * log) against a server without accounts (BENCH_SERVER_ROOT: a checkout
 * from before them), random mix at c=8, alternating in the same run; and
 * the audit log's growth per slide view (a session opening a slide and
 * reading its tiles: bytes of the audit table and its indexes, measured
 * with dbstat after the server has flushed its view counts at shutdown).
 */
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anonymous, cookiesOf } from '../credentials.js';
import { runLoad, type LoadResult } from './load.js';
import { BENCH_PASSWORD, startOurs, type OursStarted } from './peers.js';
import { ensureSlide, SLIDE_SIZE, type Emit } from './tiles-suite.js';
import { randomMix } from './workloads.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 20);
const ROUNDS = 3;
const C = 8;
const VIEWS = 50;
const TILES_PER_VIEW = 40;

function clients(server: OursStarted, seed: number): string[][] {
  const all = randomMix(SLIDE_SIZE, SLIDE_SIZE, 256, 40_000, seed).map(([l, c, r]) => server.tileUrl(l, c, r));
  return Array.from({ length: C }, (_, i) => all.filter((_, j) => j % C === i));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** Bytes of the audit table and its indexes. */
function auditBytes(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.prepare(`SELECT coalesce(sum(pgsize), 0) AS n FROM dbstat WHERE name = 'audit_log' OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'audit_log')`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export async function accountsSuite(root: string, emit: Emit): Promise<void> {
  const slide = await ensureSlide(root, emit);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-accounts-'));
  const baselineRoot = process.env['BENCH_SERVER_ROOT'];
  try {
    // ---- tiles/s, alternating in one run
    const runs: Record<string, number[]> = { on: [], off: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [which, serverRoot] of [['on', root], ['off', baselineRoot]] as const) {
        if (!serverRoot) continue;
        const server = await startOurs(serverRoot, slide, join(work, `${which}-${round}`));
        try {
          if (which === 'on' && !server.session) throw new Error('this checkout has no accounts?');
          if (which === 'off' && server.session) throw new Error('BENCH_SERVER_ROOT must be a checkout from before accounts');
          await runLoad(clients(server, 1000 + round), 3); // warm-up
          const r: LoadResult = await runLoad(clients(server, round), SECONDS);
          runs[which]?.push(r.tilesPerSec);
          emit({ suite: 'accounts', metric: 'tiles', accounts: which, round, concurrency: C, seconds: SECONDS, tilesPerSec: +r.tilesPerSec.toFixed(1), errors: r.errors, p50ms: r.p50ms, p99ms: r.p99ms, firstError: r.firstError });
        } finally {
          await server.stop();
        }
      }
    }
    if (!baselineRoot) emit({ suite: 'accounts', metric: 'baseline_missing', note: 'set BENCH_SERVER_ROOT to a built checkout from before accounts to compare tiles/s with accounts off' });
    else emit({ suite: 'accounts', metric: 'tiles_ratio', onMedianTilesPerSec: +median(runs['on'] ?? []).toFixed(1), offMedianTilesPerSec: +median(runs['off'] ?? []).toFixed(1), ratio: +(median(runs['on'] ?? []) / median(runs['off'] ?? [])).toFixed(3) });

    // ---- audit bytes per slide view: VIEWS sessions each open the slide and read TILES_PER_VIEW tiles
    const data = join(work, 'views');
    const server = await startOurs(root, slide, data);
    const before = auditBytes(join(data, 'wsi.db'));
    try {
      const base = server.base;
      for (let v = 0; v < VIEWS; v++) {
        const res = await anonymous(`${base}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: BENCH_PASSWORD }) });
        const s = cookiesOf(res);
        await res.arrayBuffer();
        for (const [l, c, r] of randomMix(SLIDE_SIZE, SLIDE_SIZE, 256, TILES_PER_VIEW, v)) {
          await (await anonymous(server.tileUrl(l, c, r), { headers: { Cookie: s.cookie } })).arrayBuffer();
        }
      }
    } finally {
      // at shutdown the server writes each session's counts
      await server.stop();
    }
    const after = auditBytes(join(data, 'wsi.db'));
    // each view also made a sign-in record: counted apart
    emit({ suite: 'accounts', metric: 'audit_bytes', views: VIEWS, tilesPerView: TILES_PER_VIEW, bytes: after - before, bytesPerView: Math.round((after - before) / VIEWS), note: 'includes one sign-in record per view (a session per view)' });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
