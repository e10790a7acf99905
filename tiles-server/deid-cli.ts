/**
 * `npm run deid -- IN OUT [options]`: de-identifies a slide for labs that do
 * it before upload, with the same code and the same report as the server's
 * inbox jobs. The report (JSON, and an HTML page) goes next to OUT, or where
 * --report says, also when the file is refused. `--verify FILE` re-runs the
 * verification alone on a file (byte scan for --sentinel values, and no
 * unreferenced bytes; for a DICOM copy, every file of it and its
 * structure). Exit 0: de-identified / verified; 2: refused; 3: failed
 * (verification, disk); 1: usage.
 */
import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { WsiError } from '../src/core/errors.js';
import { dicomOutputProblems, isDicomInput } from './deid/dicom-deid.js';
import { dicomOutputFiles } from './deid/dicom-verify.js';
import { deidentifyFile } from './deid/deidentify.js';
import { reportHtml } from './deid/report.js';
import { DEFAULT_RULES, loadRulesFile } from './deid/rules.js';
import { scanForNeedles, unreferencedRanges } from './deid/verify.js';

const USAGE = `npm run deid -- IN OUT [--rules FILE] [--strict] [--study-code CODE] [--sentinel TEXT]... [--report FILE] [--force]
npm run deid -- --verify FILE [--sentinel TEXT]...
  IN            an SVS, pyramidal TIFF or OME-TIFF; a DICOM WSI file, or a folder holding one DICOM series
                (one slide); NDPI, MIRAX, QPTIFF: refused, DEID_UNSUPPORTED_FORMAT
  OUT           the de-identified copy (a folder for a DICOM folder; written to a temporary file or
                folder, verified, then renamed)
  --rules FILE  a rule file: {"extends": "default", ...} merged over the built-in rules, or a complete set
  --strict      delete everything that is not structural instead of refusing
  --study-code  drawn on the replacement label (default DEIDENTIFIED)
  --sentinel    a string the output must not contain (repeatable), besides every removed value
  --report FILE where the JSON report goes (default OUT.deid-report.json; an .html page beside it)
  --force       replace an existing OUT`;

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(1);
}

interface Args {
  positional: string[];
  rules: string | null;
  strict: boolean;
  studyCode: string;
  sentinels: string[];
  report: string | null;
  force: boolean;
  verify: string | null;
}

function parse(argv: string[]): Args {
  const a: Args = { positional: [], rules: null, strict: false, studyCode: 'DEIDENTIFIED', sentinels: [], report: null, force: false, verify: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v;
    };
    if (arg === '--rules') a.rules = value();
    else if (arg === '--strict') a.strict = true;
    else if (arg === '--study-code') a.studyCode = value();
    else if (arg === '--sentinel') a.sentinels.push(value());
    else if (arg === '--report') a.report = value();
    else if (arg === '--force') a.force = true;
    else if (arg === '--verify') a.verify = value();
    else if (arg === '--help' || arg === '-h') usage();
    else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else a.positional.push(arg);
  }
  return a;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  if (a.verify) {
    const file = resolve(a.verify);
    const needles = a.sentinels.map((s, i) => ({ label: `sentinel ${i + 1}`, value: s }));
    let bytesScanned = 0;
    const hits: string[] = [];
    if (await isDicomInput(file)) {
      // a DICOM copy: every file of it scanned, and each file's structure checked
      const files = await dicomOutputFiles(file);
      for (const f of files) {
        const scan = await scanForNeedles(f, needles);
        bytesScanned += scan.bytesScanned;
        hits.push(...scan.hits.map((h) => (files.length > 1 ? `${basename(f)}: ${h}` : h)));
      }
      hits.push(...(await dicomOutputProblems(file)));
    } else {
      const scan = await scanForNeedles(file, needles);
      bytesScanned = scan.bytesScanned;
      const gaps = await unreferencedRanges(file);
      hits.push(...scan.hits, ...gaps.map(([x, y]) => `unreferenced bytes ${x}..${y}`));
    }
    process.stdout.write(`${JSON.stringify({ bytesScanned, hits, result: hits.length ? 'fail' : 'pass' })}\n`);
    process.exit(hits.length ? 3 : 0);
  }
  if (a.positional.length !== 2) usage('IN and OUT are required');
  const [input, output] = a.positional.map((p) => resolve(p)) as [string, string];
  const rules = a.rules ? await loadRulesFile(resolve(a.rules)) : DEFAULT_RULES;
  const report = await deidentifyFile(input, output, { studyCode: a.studyCode, rules, strict: a.strict, sentinels: a.sentinels, overwrite: a.force });
  const reportPath = resolve(a.report ?? `${output}.deid-report.json`);
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
  await writeFile(reportPath.replace(/\.json$/, '') + '.html', reportHtml(report), { mode: 0o600 });
  const summary = {
    result: report.result,
    error: report.error,
    format: report.format,
    fieldsModified: report.fieldsModified,
    label: report.label,
    macro: report.macro,
    uncovered: report.uncovered,
    verification: report.verification && { result: report.verification.result, bytesScanned: report.verification.bytesScanned },
    report: reportPath,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(report.result === 'de-identified' ? 0 : report.result === 'refused' ? 2 : 3);
}

main().catch((err: unknown) => {
  if (err instanceof WsiError) {
    process.stderr.write(`${err.code}: ${err.message}\n`);
    process.exit(err.code === 'DEID_RULES_INVALID' || err.code === 'BAD_REQUEST' ? 1 : 3);
  }
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(3);
});
