/**
 * AGR-02: Cohen's kappa equals scikit-learn's `cohen_kappa_score`, and
 * Fleiss' kappa equals statsmodels' `fleiss_kappa`, within 1e-9, on random
 * masks of 2 and 3 (and 5) readers written here, read by Debian's
 * /usr/bin/python3 (python3-sklearn, python3-statsmodels). Without them the
 * test skips with a message saying what was not checked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { maskAgreement } from '../../src/core/agreement/mask-metrics.js';
import { countTuples } from '../../src/core/agreement/tuples.js';

const PYTHON = '/usr/bin/python3';
const HAS_REFERENCE = existsSync(PYTHON) && (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import sklearn.metrics, statsmodels.stats.inter_rater, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!HAS_REFERENCE) process.stdout.write(`[agreement] SKIP: ${PYTHON} with scikit-learn and statsmodels (python3-sklearn, python3-statsmodels) is absent, so Cohen's and Fleiss' kappa are not checked against them (AGR-02)\n`);

const REFERENCE = `
import json, sys, itertools, numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
out = []
for case in json.loads(sys.argv[1]):
    masks = [np.fromfile(p, dtype=np.uint8) for p in case['files']]
    cohen = {f'{a},{b}': float(cohen_kappa_score(masks[a], masks[b])) for a, b in itertools.combinations(range(len(masks)), 2)}
    fleiss = None
    if len(masks) >= 3:
        table, _ = aggregate_raters(np.stack(masks, axis=1))
        fleiss = float(fleiss_kappa(table, method='fleiss'))
    out.append({'cohen': cohen, 'fleiss': fleiss})
print(json.dumps(out))
`;

function randomMask(r: () => number, n: number, classes: number[], bias: Uint8Array | null, keep: number): Uint8Array {
  const m = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const len = 1 + Math.floor(r() * 60);
    const c = classes[Math.floor(r() * classes.length)] as number;
    for (let k = i; k < Math.min(n, i + len); k++) m[k] = bias && r() < keep ? (bias[k] as number) : c;
    i += len;
  }
  return m;
}

describe.skipIf(!HAS_REFERENCE)('Cohen and Fleiss kappa against scikit-learn and statsmodels (AGR-02)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsi-agreement-ref-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('random masks of 2, 3 and 5 readers, with unlabelled pixels and classes only some readers use: within 1e-9', async () => {
    const r = rng(2026);
    const cases: Array<{ files: string[]; masks: Uint8Array[] }> = [];
    for (const [readers, n, classes, keep] of [
      [2, 50_000, [0, 1, 2, 3], 0.6],
      [2, 20_000, [0, 5], 0.9],
      [3, 60_000, [0, 1, 2, 3, 4], 0.5],
      [3, 10_000, [0, 7, 200, 255], 0.8],
      [5, 30_000, [0, 1, 2], 0.3],
    ] as Array<[number, number, number[], number]>) {
      const truth = randomMask(r, n, classes, null, 0);
      const masks = Array.from({ length: readers }, (_, k) => randomMask(r, n, k === 1 ? [...classes, 9] : classes, truth, keep));
      const files: string[] = [];
      for (const [k, m] of masks.entries()) {
        const f = join(dir, `case${cases.length}-reader${k}.u8`);
        await writeFile(f, m);
        files.push(f);
      }
      cases.push({ files, masks });
    }
    const ref = JSON.parse(execFileSync(PYTHON, ['-c', REFERENCE, JSON.stringify(cases.map((c) => ({ files: c.files })))], { encoding: 'utf8' })) as Array<{ cohen: Record<string, number>; fleiss: number | null }>;
    let checked = 0;
    cases.forEach((c, i) => {
      const ours = maskAgreement(countTuples(c.masks), c.masks.length);
      const theirs = ref[i] as { cohen: Record<string, number>; fleiss: number | null };
      for (const p of ours.pairs) {
        const want = theirs.cohen[`${p.a},${p.b}`] as number;
        expect(Number.isFinite(want)).toBe(true);
        expect(Math.abs((p.cohenKappa as number) - want), `case ${i} pair ${p.a},${p.b}`).toBeLessThan(1e-9);
        checked++;
      }
      if (c.masks.length >= 3) {
        expect(Math.abs((ours.fleissKappa as number) - (theirs.fleiss as number)), `case ${i} Fleiss`).toBeLessThan(1e-9);
        checked++;
      } else expect(ours.fleissKappa).toBeNull();
    });
    expect(checked).toBe(1 + 1 + 4 + 4 + 11);
  });
});
