/**
 * De-identification throughput: a cached BENCH_DEID_SIZE² (default 16,384)
 * Aperio SVS (JPEG 256-px tiles, ×2 levels, thumbnail, label, macro, PHI in
 * every description) is de-identified BENCH_DEID_RUNS times (default 5):
 * the whole job (plan, rewrite with every block copied, fsync, byte scan,
 * referenced-bytes walk, rename), and the verification alone on the output;
 * against a plain file copy of the same bytes (copyFile + fsync) as the
 * floor. Then the same pyramid as a DICOM series folder (dicom-slide.ts),
 * de-identified as one slide, against a folder copy. Medians and the ratio
 * to the copy.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deidentifyFile } from '../../tiles-server/deid/deidentify.js';
import { scanForNeedles, unreferencedRanges } from '../../tiles-server/deid/verify.js';
import { writePyramid } from '../../tiles-server/sample/pyramid.js';
import { aperioStyleDescription } from '../../tiles-server/sample/sample-slide.js';
import { TissueSynth } from '../../tiles-server/sample/tissue.js';
import { labelRaster, macroRaster } from '../fixtures/encode.js';
import { ensureDicomSlide } from './dicom-slide.js';
import type { Emit } from './tiles-suite.js';

const SIZE = Number(process.env['BENCH_DEID_SIZE'] ?? 16_384);
const RUNS = Number(process.env['BENCH_DEID_RUNS'] ?? 5);
const PHI = '|Filename = BENCH-PHI-0001|User = BENCH-PHI-USER-0002|Date = 05/17/24|Time = 09:59:15|ScanScope ID = BENCH-SCANNER-3|Patient = BENCH-PHI-NAME-4';

async function ensureSlide(root: string, emit: Emit): Promise<string> {
  const dir = join(root, '.bench-cache', 'slides');
  const file = join(dir, `bench-deid-${SIZE}.svs`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  const synth = new TissueSynth(SIZE, SIZE, 5, 0.25);
  const describe = aperioStyleDescription(SIZE, SIZE, 256, 0.25, 40, PHI);
  await writePyramid(
    file,
    {
      width: SIZE,
      height: SIZE,
      tileSize: 256,
      storedLevels: [0, 1, 2, 3, 4, 5, 6],
      codec: 'jpeg',
      sharedJpegTables: true,
      description: (k, w, h) => `${describe(k, w, h) ?? ''}${k > 0 ? PHI : ''}`,
      thumbnailMax: 768,
      associated: [
        { description: 'Aperio Image Library v12.0.0\nlabel 387x463', newSubfileType: 1, image: labelRaster(387, 463), codec: 'lzw' },
        { description: 'Aperio Image Library v12.0.0\nmacro 1280x431', newSubfileType: 9, image: macroRaster(1280, 431), codec: 'jpeg' },
      ],
    },
    (y0, rows) => synth.renderBand(y0, rows),
  );
  emit({ suite: 'deid', metric: 'slide_generated', width: SIZE, height: SIZE, seconds: +((performance.now() - t0) / 1000).toFixed(1), bytes: (await stat(file)).size });
  return file;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Copies a folder's visible files, each fsynced: the floor a folder copy cannot beat. */
async function copyFolder(from: string, to: string): Promise<void> {
  await mkdir(to);
  for (const n of (await readdir(from)).filter((x) => !x.startsWith('.'))) {
    await copyFile(join(from, n), join(to, n));
    const fh = await open(join(to, n), 'r+');
    await fh.sync();
    await fh.close();
  }
}

/** The same pyramid as a DICOM series folder (one instance per level): the folder de-identified against a folder copy. */
async function dicomRuns(root: string, svs: string, work: string, emit: Emit): Promise<void> {
  const series = await ensureDicomSlide(root, svs, `bench-deid-${SIZE}`, emit);
  let bytes = 0;
  for (const n of (await readdir(series)).filter((x) => !x.startsWith('.'))) bytes += (await stat(join(series, n))).size;
  const deidMs: number[] = [];
  const copyMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    await copyFolder(series, join(work, `dicom-copy-${i}`));
    copyMs.push(performance.now() - t);
    await rm(join(work, `dicom-copy-${i}`), { recursive: true });
    const out = join(work, `dicom-deid-${i}`);
    t = performance.now();
    const report = await deidentifyFile(series, out, { studyCode: `BENCH-${i}` });
    deidMs.push(performance.now() - t);
    if (report.result !== 'de-identified' || report.verification?.result !== 'pass') throw new Error(`DICOM de-identification ${report.result}: ${report.error?.code ?? ''}`);
    emit({ suite: 'deid', metric: 'dicom-run', run: i, bytes, frames: report.pyramidBlocksCopied, fieldsModified: report.fieldsModified, deidMs: Math.round(deidMs[i] as number), copyMs: Math.round(copyMs[i] as number) });
    await rm(out, { recursive: true });
  }
  const mb = bytes / 2 ** 20;
  const d = median(deidMs);
  const c = median(copyMs);
  emit({ suite: 'deid', metric: 'dicom-summary', size: SIZE, runs: RUNS, mb: +mb.toFixed(1), deidMedianMs: Math.round(d), deidMBps: +(mb / (d / 1000)).toFixed(1), copyMedianMs: Math.round(c), deidOverCopy: +(d / c).toFixed(2) });
}

export async function deidSuite(root: string, emit: Emit): Promise<void> {
  const file = await ensureSlide(root, emit);
  const bytes = (await stat(file)).size;
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-deid-'));
  try {
    const copyMs: number[] = [];
    const deidMs: number[] = [];
    const verifyMs: number[] = [];
    let last = '';
    for (let i = 0; i < RUNS; i++) {
      const copy = join(work, `copy-${i}.svs`);
      let t = performance.now();
      await copyFile(file, copy);
      const fh = await open(copy, 'r+');
      await fh.sync();
      await fh.close();
      copyMs.push(performance.now() - t);
      await rm(copy);

      const out = join(work, `deid-${i}.svs`);
      t = performance.now();
      const report = await deidentifyFile(file, out, { studyCode: `BENCH-${i}` });
      deidMs.push(performance.now() - t);
      if (report.result !== 'de-identified') throw new Error(`de-identification ${report.result}: ${report.error?.code ?? ''}`);
      t = performance.now();
      const scan = await scanForNeedles(out, [{ label: 'sentinel', value: 'BENCH-PHI-NAME-4' }, { label: 'user', value: 'BENCH-PHI-USER-0002' }]);
      const gaps = await unreferencedRanges(out);
      verifyMs.push(performance.now() - t);
      if (scan.hits.length || gaps.length) throw new Error('the benchmark output failed verification');
      if (last) await rm(last);
      last = out;
      emit({ suite: 'deid', metric: 'run', run: i, bytes, outputBytes: report.output?.bytes ?? 0, blocks: report.pyramidBlocksCopied, fieldsModified: report.fieldsModified, deidMs: Math.round(deidMs[i] as number), verifyMs: Math.round(verifyMs[i] as number), copyMs: Math.round(copyMs[i] as number) });
    }
    const mb = bytes / 2 ** 20;
    const d = median(deidMs);
    const v = median(verifyMs);
    const c = median(copyMs);
    await dicomRuns(root, file, work, emit);
    emit({
      suite: 'deid',
      metric: 'summary',
      size: SIZE,
      runs: RUNS,
      mb: +mb.toFixed(1),
      deidMedianMs: Math.round(d),
      deidMBps: +(mb / (d / 1000)).toFixed(1),
      verifyOnlyMedianMs: Math.round(v),
      copyMedianMs: Math.round(c),
      copyMBps: +(mb / (c / 1000)).toFixed(1),
      deidOverCopy: +(d / c).toFixed(2),
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
