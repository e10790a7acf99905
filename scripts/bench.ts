/**
 * `npm run bench [-- suite…]`: benchmarks, one JSON object per line on
 * stdout. Suites: tiles, jp2k, annotations, raster, masks, load, imports, bombs, accounts, hierarchy, reviews, checkpoints, deid, triage, agreement, predictions, slide-reads, store-pg, store-pg-boxes (default: all). BENCH_PG_OPS, BENCH_PG_ROUNDS (store-pg suite). BENCH_PG_BOXES, BENCH_PG_QUERIES, BENCH_PG_ROUNDS (store-pg-boxes suite: the annotation box index, R*Tree against GiST and B-tree). BENCH_DEID_SIZE, BENCH_DEID_RUNS (deid suite). Environment:
 * BENCH_SECONDS (per load run), BENCH_SLIDE_SIZE (bench slide side),
 * BENCH_CELLS and BENCH_PAN_SECONDS (annotations suite), BENCH_RASTER_CELLS
 * and BENCH_RASTER_ROIS (raster suite: mask rasterizer against PIL), BENCH_LOAD_SECONDS and
 * BENCH_LOAD_SLIDE_SIZE (load suite), BENCH_HIER_CELLS (hierarchy suite), BENCH_REVIEW_OBJECTS and
 * BENCH_REVIEW_ROUNDS (reviews suite), BENCH_CHECKPOINT_SECONDS and BENCH_CHECKPOINT_ROUNDS
 * (checkpoints suite), BENCH_TRIAGE_CELLS (triage suite), BENCH_AGREEMENT_SIDE and BENCH_MAP_TILES
 * (agreement suite), BENCH_PREDICTIONS_N and BENCH_PREDICTIONS_STEPS (predictions suite: import,
 * load as JSON and as columnar frames, triage steps and panning at a million predicted cells).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accountsSuite } from './bench/accounts-suite.js';
import { agreementSuite } from './bench/agreement-suite.js';
import { annotationsSuite } from './bench/annotations-suite.js';
import { bombsSuite } from './bench/bombs-suite.js';
import { checkpointsSuite } from './bench/checkpoints-suite.js';
import { deidSuite } from './bench/deid-suite.js';
import { hierarchySuite } from './bench/hierarchy-suite.js';
import { importsSuite } from './bench/imports-suite.js';
import { jp2kSuite } from './bench/jp2k-suite.js';
import { loadSuite } from './bench/load-suite.js';
import { masksSuite } from './bench/masks-suite.js';
import { predictionsSuite } from './bench/predictions-suite.js';
import { predictionsProfileSuite } from './bench/predictions-profile.js';
import { predictionStoreSuite } from './bench/prediction-store-suite.js';
import { listProfileSuite } from './bench/list-profile.js';
import { rasterSuite } from './bench/raster-suite.js';
import { s3Suite } from './bench/s3-suite.js';
import { reviewsSuite } from './bench/reviews-suite.js';
import { slideReadsSuite } from './bench/slide-reads-suite.js';
import { storePgSuite } from './bench/store-pg-suite.js';
import { storePgBoxesSuite } from './bench/store-pg-boxes-suite.js';
import { tilesSuite, type Emit } from './bench/tiles-suite.js';
import { triageSuite } from './bench/triage-suite.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const suites: Record<string, (root: string, emit: Emit) => Promise<void>> = {
  tiles: tilesSuite,
  jp2k: jp2kSuite,
  annotations: annotationsSuite,
  raster: rasterSuite,
  masks: masksSuite,
  load: loadSuite,
  imports: importsSuite,
  bombs: bombsSuite,
  accounts: accountsSuite,
  hierarchy: hierarchySuite,
  reviews: reviewsSuite,
  checkpoints: checkpointsSuite,
  deid: deidSuite,
  triage: triageSuite,
  agreement: agreementSuite,
  predictions: predictionsSuite,
  s3: s3Suite,
  'slide-reads': slideReadsSuite,
  'store-pg': storePgSuite,
  'store-pg-boxes': storePgBoxesSuite,
  // a profile, not a figure: only when named
  'predictions-profile': predictionsProfileSuite,
  // the server's half of `predictions` by CPU time (no browser): only when named
  'predictions-store': predictionStoreSuite,
  'list-profile': listProfileSuite,
};
const ONLY_WHEN_NAMED = new Set(['predictions-profile', 'predictions-store', 'list-profile']);
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const chosen = wanted.length > 0 ? wanted : Object.keys(suites).filter((k) => !ONLY_WHEN_NAMED.has(k));
const emit: Emit = (r) => process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), ...r })}\n`);

for (const name of chosen) {
  const suite = suites[name];
  if (!suite) {
    process.stderr.write(`unknown suite ${name}; known: ${Object.keys(suites).join(', ')}\n`);
    process.exit(2);
  }
  await suite(root, emit);
}
