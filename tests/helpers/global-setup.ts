/**
 * Vitest global setup: generates the fixture corpus once per source version.
 * Each project of vitest.config.ts runs it; the second finds the first's work.
 */
import { generateFixtures, type Manifest } from '../../scripts/fixtures/generate.js';
import { FIXTURES, HAS_SHARED, SHARED_FIXTURES } from './paths.js';

const READY = Symbol.for('wsi-annotate.fixtures-ready');
type WithFixtures = typeof globalThis & { [READY]?: Promise<Manifest> };

export default async function setup(): Promise<void> {
  const g = globalThis as WithFixtures;
  if (g[READY]) {
    await g[READY];
    return;
  }
  const t0 = performance.now();
  const made = generateFixtures(FIXTURES);
  g[READY] = made;
  const m = await made;
  process.stdout.write(`[fixtures] ${m.valid.length} slides + ${m.broken.length} broken files ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${FIXTURES})\n`);
  if (m.dicomMissing) {
    process.stdout.write(`[fixtures] FAIL: DICOM fixtures were not generated (${m.dicomMissing}); the DICOM tests fail until python3-pydicom is installed\n`);
  }
  if (!HAS_SHARED) {
    process.stdout.write(`[fixtures] SKIP: ${SHARED_FIXTURES} is absent, so tests against real third-party slides and annotations are skipped\n`);
  }
}
