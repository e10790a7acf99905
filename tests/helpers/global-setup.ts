/**
 * Vitest global setup: generates the fixture corpus once per source version,
 * and starts the one throwaway PostgreSQL cluster of the run, with a
 * database holding the store's schema that each test's store copies, for
 * the tests that run the store on both engines (tests/helpers/store-engines.ts).
 * Each project of vitest.config.ts runs it; the second finds the first's
 * work, and the cluster stops when the last project is done.
 */
import type { TestProject } from 'vitest/node';
import { generateFixtures } from '../../scripts/fixtures/generate.js';
import { pgBinDir, startPgCluster, type PgCluster } from '../../scripts/pg-cluster.js';
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PgDb } from '../../tiles-server/store/pg-db.js';
import { openPgDatabase } from '../../tiles-server/store/pg-schema.js';
import { FIXTURES, HAS_SHARED, SHARED_FIXTURES, VIEWER_SLIDE_FILES, VIEWER_SLIDES } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster's maintenance database URL, or null when PostgreSQL is not installed (outside CI only). */
    pgUrl: string | null;
    /** A database of that cluster with the store's schema, made once for the run: each test's store is a copy of it. */
    pgTemplate: string | null;
  }
}

/** CI (and .ci/run) sets CI=true: there a missing PostgreSQL fails the run instead of skipping its tests. */
export const IN_CI = /^(1|true|yes)$/i.test(process.env['CI'] ?? '');

interface Ready {
  pgUrl: string | null;
  pgTemplate: string | null;
}

interface Shared {
  ready: Promise<Ready>;
  cluster: PgCluster | null;
  users: number;
}
const SHARED = Symbol.for('wsi-annotate.global-setup');
type WithShared = typeof globalThis & { [SHARED]?: Shared };

async function prepare(shared: Shared): Promise<Ready> {
  const t0 = performance.now();
  const m = await generateFixtures(FIXTURES);
  process.stdout.write(`[fixtures] ${m.valid.length} slides + ${m.broken.length} broken files ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${FIXTURES})\n`);
  await linkViewerSlides();
  if (m.dicomMissing) {
    process.stdout.write(`[fixtures] FAIL: DICOM fixtures were not generated (${m.dicomMissing}); the DICOM tests fail until python3-pydicom is installed\n`);
  }
  if (!HAS_SHARED) {
    process.stdout.write(`[fixtures] SKIP: ${SHARED_FIXTURES} is absent, so tests against real third-party slides and annotations are skipped\n`);
  }
  const bin = pgBinDir();
  if (!bin) {
    const why = "PostgreSQL is not installed (apt-get install postgresql, as in the README's test line)";
    if (IN_CI) throw new Error(`[postgres] FAIL: ${why}; the store tests must run on both engines in CI`);
    process.stdout.write(`[postgres] SKIP: ${why}, so the store tests run on SQLite only\n`);
    return { pgUrl: null, pgTemplate: null };
  }
  const t1 = performance.now();
  shared.cluster = await startPgCluster(bin);
  // the store's schema once for the run (the baseline's DDL takes seconds on a loaded machine); tests copy it
  const pgTemplate = 'wsi_store_template';
  const admin = new PgDb(shared.cluster.url);
  try {
    admin.exec(`CREATE DATABASE ${pgTemplate}`);
  } finally {
    admin.close();
  }
  openPgDatabase(shared.cluster.url.replace(/\/[^/]*$/, `/${pgTemplate}`), { allowIncomplete: true }).close();
  process.stdout.write(`[postgres] a throwaway cluster (${bin}) with the store's schema ready in ${((performance.now() - t1) / 1000).toFixed(1)} s\n`);
  return { pgUrl: shared.cluster.url, pgTemplate };
}

/** VIEWER_SLIDES afresh from the generated slides: hard links, or copies where the file system has none. */
async function linkViewerSlides(): Promise<void> {
  await rm(VIEWER_SLIDES, { recursive: true, force: true });
  await mkdir(VIEWER_SLIDES, { recursive: true });
  for (const f of VIEWER_SLIDE_FILES) {
    const from = join(FIXTURES, 'slides', f);
    await link(from, join(VIEWER_SLIDES, f)).catch(() => copyFile(from, join(VIEWER_SLIDES, f)));
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const g = globalThis as WithShared;
  let shared = g[SHARED];
  if (!shared) {
    shared = { ready: Promise.resolve({ pgUrl: null, pgTemplate: null }), cluster: null, users: 0 };
    shared.ready = prepare(shared);
    g[SHARED] = shared;
  }
  const s = shared;
  s.users++;
  const { pgUrl, pgTemplate } = await s.ready;
  project.provide('pgUrl', pgUrl);
  project.provide('pgTemplate', pgTemplate);
  return () => {
    if (--s.users > 0) return;
    s.cluster?.stop();
    s.cluster = null;
  };
}
