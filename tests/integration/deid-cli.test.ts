/**
 * `npm run deid -- IN OUT [--rules FILE] [--strict]` (the built CLI): the
 * same code and report as the server's jobs, its exit codes, the report
 * next to the output (JSON and HTML, also for a refused file), project rule
 * files and their mistakes (DEID-05 through the CLI, DEID-13 twice).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeidReport } from '../../tiles-server/deid/report.js';
import { S, sentinelsIn, writePhiSvs } from '../helpers/deid-fixtures.js';
import { ROOT } from '../helpers/paths.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'build', 'tiles-server', 'deid-cli.js');

async function deid(args: string[]): Promise<{ code: number; out: Record<string, unknown>; err: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args]);
    return { code: 0, out: JSON.parse(r.stdout) as Record<string, unknown>, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    let out: Record<string, unknown> = {};
    try {
      out = JSON.parse(x.stdout) as Record<string, unknown>;
    } catch {
      // usage errors print no JSON
    }
    return { code: x.code, out, err: x.stderr };
  }
}

let dir: string;
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error('build/ is missing: run `npm run build` (or `npm run build:server`) first');
  dir = await mkdtemp(join(tmpdir(), 'wsi-deid-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run deid', () => {
  it('de-identifies, writes the JSON and HTML report beside OUT, and a second run reports 0 fields modified (DEID-13)', async () => {
    const input = join(dir, 'Doe_Jane_MRN123456.svs');
    const output = join(dir, 'CLI-0001.svs');
    await writePhiSvs(input);
    const r = await deid([input, output, '--study-code', 'CLI-0001', '--sentinel', S(16)]);
    expect(r.code).toBe(0);
    expect(r.out['result']).toBe('de-identified');
    const report = JSON.parse(await readFile(`${output}.deid-report.json`, 'utf8')) as DeidReport;
    expect(report.studyCode).toBe('CLI-0001');
    expect(report.verification?.needles).toBeGreaterThan(10);
    expect(report.label).toBe('replaced');
    const html = await readFile(`${output}.deid-report.html`, 'utf8');
    expect(html).toContain('Result: <strong>de-identified</strong>');
    expect(html).not.toContain('PHI-SENTINEL');
    expect(JSON.stringify(report)).not.toMatch(/PHI-SENTINEL|Doe_Jane|MRN123456/);
    expect(await sentinelsIn(output, Array.from({ length: 30 }, (_, i) => S(i + 1)))).toEqual([]);

    const again = await deid([output, join(dir, 'CLI-0001-again.svs'), '--study-code', 'CLI-0001']);
    expect(again.code).toBe(0);
    expect(again.out['fieldsModified']).toBe(0);
  });

  it('DEID-05: exit 2 and a report naming tag 65000 and 700 without --strict; --strict deletes them', async () => {
    const input = join(dir, 'private.svs');
    await writePhiSvs(input, { privateTag: true, xmp: true });
    const refused = await deid([input, join(dir, 'private-out.svs')]);
    expect(refused.code).toBe(2);
    expect(refused.out['result']).toBe('refused');
    expect((refused.out['error'] as { code: string }).code).toBe('DEID_UNCOVERED_FIELD');
    expect(existsSync(join(dir, 'private-out.svs'))).toBe(false);
    const report = JSON.parse(await readFile(join(dir, 'private-out.svs.deid-report.json'), 'utf8')) as DeidReport;
    expect(report.uncovered.join('\n')).toMatch(/tag 65000 \(private\) \(no rule\)/);
    expect(report.uncovered.join('\n')).toMatch(/tag 700 XMP/);
    const strict = await deid([input, join(dir, 'private-strict.svs'), '--strict']);
    expect(strict.code).toBe(0);
  });

  it('--rules: a project override is applied; a broken rule file is a usage error (exit 1) and writes nothing', async () => {
    const input = join(dir, 'rules.svs');
    await writePhiSvs(input, { privateTag: true });
    const rules = join(dir, 'project-rules.json');
    await writeFile(rules, JSON.stringify({ extends: 'default', version: 'lab-7', tiff: { tags: { '65000': { name: 'LabNote', action: 'delete' } } }, images: { label: 'remove' } }));
    const ok = await deid([input, join(dir, 'rules-out.svs'), '--rules', rules]);
    expect(ok.code).toBe(0);
    expect(ok.out['label']).toBe('removed');
    const report = JSON.parse(await readFile(join(dir, 'rules-out.svs.deid-report.json'), 'utf8')) as DeidReport;
    expect(report.rules.version).toBe('1.1.0+lab-7');

    await writeFile(rules, JSON.stringify({ extends: 'default', tiff: { tags: { '65000': { action: 'shred' } } } }));
    const bad = await deid([input, join(dir, 'rules-bad.svs'), '--rules', rules]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/DEID_RULES_INVALID: tiff\.tags\.65000\.action must be one of/);
    expect(existsSync(join(dir, 'rules-bad.svs'))).toBe(false);
    const missing = await deid([input]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/IN and OUT are required/);
  });

  it('refuses NDPI with DEID_UNSUPPORTED_FORMAT (exit 2)', async () => {
    const input = join(dir, 'x.ndpi');
    await writeFile(input, 'II*\0');
    const r = await deid([input, join(dir, 'x-out.tif')]);
    expect(r.code).toBe(2);
    expect((r.out['error'] as { code: string }).code).toBe('DEID_UNSUPPORTED_FORMAT');
  });
});
