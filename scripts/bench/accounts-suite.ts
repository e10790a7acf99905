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
import { writeSampleSlide } from '../../tiles-server/sample/sample-slide.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 20);
/** Alternating rounds of each (BENCH_ACCOUNTS_ROUNDS). */
const ROUNDS = Number(process.env['BENCH_ACCOUNTS_ROUNDS'] ?? 3);
const C = 8;
const SESSIONS = 20;
/** Slides each reader opens in a session (BENCH_AUDIT_SLIDES). */
const SLIDES_PER_SESSION = Number(process.env['BENCH_AUDIT_SLIDES'] ?? 5);
/** Which parts run (BENCH_ACCOUNTS=tiles,audit). */
const PARTS = new Set((process.env['BENCH_ACCOUNTS'] ?? 'tiles,audit').split(','));
const TILES_PER_VIEW = 40;

function clients(server: OursStarted, seed: number): string[][] {
  const all = randomMix(SLIDE_SIZE, SLIDE_SIZE, 256, 40_000, seed).map(([l, c, r]) => server.tileUrl(l, c, r));
  return Array.from({ length: C }, (_, i) => all.filter((_, j) => j % C === i));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** Bytes the audit table and its indexes use in their pages (cells and page headers; free space not counted). */
function auditBytes(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.prepare(`SELECT coalesce(sum(pgsize - unused), 0) AS n FROM dbstat WHERE name = 'audit_log' OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'audit_log')`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** How many audit records of each action, and their mean bytes of column data. */
function recordsByAction(dbFile: string): Record<string, { n: number; meanBytes: number }> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const cols = (db.prepare(`SELECT name FROM pragma_table_info('audit_log')`).all() as Array<{ name: string }>).map((c) => `coalesce(length(${c.name}), 0)`);
    const rows = db.prepare(`SELECT action, count(*) AS n, avg(${cols.join(' + ')}) AS b FROM audit_log GROUP BY action`).all() as Array<{ action: string; n: number; b: number }>;
    return Object.fromEntries(rows.map((r) => [r.action, { n: r.n, meanBytes: Math.round(r.b) }]));
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
    for (let round = 0; round < (PARTS.has('tiles') ? ROUNDS : 0); round++) {
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
    if (!PARTS.has('tiles')) {
      // only the audit part
    } else if (!baselineRoot) emit({ suite: 'accounts', metric: 'baseline_missing', note: 'set BENCH_SERVER_ROOT to a built checkout from before accounts to compare tiles/s with accounts off' });
    else emit({ suite: 'accounts', metric: 'tiles_ratio', onMedianTilesPerSec: +median(runs['on'] ?? []).toFixed(1), offMedianTilesPerSec: +median(runs['off'] ?? []).toFixed(1), ratio: +(median(runs['on'] ?? []) / median(runs['off'] ?? [])).toFixed(3) });

    // ---- audit bytes per slide view: SESSIONS readers sign in (their sign-in records are measured apart),
    // then each opens SLIDES_PER_SESSION slides and reads TILES_PER_VIEW tiles of each
    if (PARTS.has('audit')) {
      const slidesDir = join(work, 'audit-slides');
      for (let i = 0; i < SLIDES_PER_SESSION; i++) await writeSampleSlide(join(slidesDir, `audit-${i}.tiff`), { width: 2048, height: 2048 });
      const data = join(work, 'views');
      const server = await startOurs(root, join(slidesDir, 'audit-0.tiff'), data);
      const db = join(data, 'wsi.db');
      let afterSignIn = 0;
      let start = 0;
      try {
        const base = server.base;
        const ids = ((await (await fetch(`${base}/api/slides`)).json()) as { slides: Array<{ id: string }> }).slides.map((x) => x.id);
        if (ids.length !== SLIDES_PER_SESSION) throw new Error(`expected ${SLIDES_PER_SESSION} slides, the server lists ${ids.length}`);
        // the server's own records so far (setup, the bench's token) are not counted
        start = auditBytes(db);
        const sessions = [];
        for (let v = 0; v < SESSIONS; v++) {
          const res = await anonymous(`${base}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: BENCH_PASSWORD }) });
          sessions.push(cookiesOf(res));
          await res.arrayBuffer();
        }
        afterSignIn = auditBytes(db);
        for (const [v, s] of sessions.entries()) {
          for (const id of ids) {
            for (const [l, c, r] of randomMix(2048, 2048, 256, TILES_PER_VIEW, v)) {
              await (await anonymous(`${base}/dzi/${id}_files/${l}/${c}_${r}.jpeg`, { headers: { Cookie: s.cookie } })).arrayBuffer();
            }
          }
        }
      } finally {
        // at shutdown the server writes each session's counts
        await server.stop();
      }
      const views = SESSIONS * SLIDES_PER_SESSION;
      const viewBytes = auditBytes(db) - afterSignIn;
      emit({ suite: 'accounts', metric: 'audit_bytes', sessions: SESSIONS, slidesPerSession: SLIDES_PER_SESSION, tilesPerView: TILES_PER_VIEW, views, bytesPerView: Math.round(viewBytes / views), bytesPerSignIn: Math.round((afterSignIn - start) / SESSIONS), bytesPerViewWithSignIn: Math.round((auditBytes(db) - start) / views), records: recordsByAction(db) });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
