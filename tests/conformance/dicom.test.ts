/**
 * DICOM WSI conformance: every level of every generated DICOM slide (and of
 * the real ones in ../shared/fixtures), read through our IIIF endpoint as
 * PNG, matches the frames decoded independently by pydicom and Pillow
 * (dicom_reference.py) within a mean absolute difference of 4 per channel.
 * JPEG-LS, which pydicom cannot decode without plugins Debian lacks, is
 * compared with the lossless source raster instead, and the test says so.
 * Passed-through JPEG tiles are compared too. Needs /usr/bin/python3 with
 * python3-pydicom and python3-pil; fails, saying why, without them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dziMaxLevel } from '../../src/core/tile-grid.js';
import { fixtureLevels, MULTI_SERIES } from '../../scripts/fixtures/dicom-valid.js';
import type { Manifest } from '../../scripts/fixtures/generate.js';
import { FIXTURES, HAS_SHARED, ROOT, SHARED_FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const REFERENCE = join(ROOT, 'tests', 'conformance', 'dicom_reference.py');

interface Detail {
  id: string;
  name: string;
  status: string;
  width: number;
  height: number;
  tileSize: number;
  compression: string;
  levelDimensions: Array<{ width: number; height: number }>;
}

interface Case {
  server: TestServer;
  slide: Detail;
  /** Reference levels: raw RGB of each level's whole matrix. */
  reference: Array<{ width: number; height: number; data: Buffer }>;
  against: 'pydicom+Pillow' | 'source raster';
}

async function rgbOf(buf: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(buf).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean absolute difference per channel between ours (w×h) and the reference rectangle at (x, y). */
function mad(ours: Buffer, w: number, h: number, ref: { width: number; data: Buffer }, x: number, y: number): number[] {
  const sums = [0, 0, 0];
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const o = (j * w + i) * 3;
      const r = ((y + j) * ref.width + x + i) * 3;
      for (let c = 0; c < 3; c++) sums[c] = (sums[c] as number) + Math.abs((ours[o + c] as number) - (ref.data[r + c] as number));
    }
  }
  return sums.map((s) => s / (w * h));
}

async function pydicomReference(files: string[], series: string | null, work: string): Promise<Case['reference']> {
  const out = await mkdtemp(join(work, 'ref-'));
  const { stdout } = await run(PYTHON, [REFERENCE, out, ...(series ? ['--series', series] : []), ...files], { maxBuffer: 1 << 24 });
  const levels = JSON.parse(stdout) as Array<{ width: number; height: number; file: string }>;
  return Promise.all(levels.map(async (l) => ({ width: l.width, height: l.height, data: await readFile(l.file) })));
}

/** The DICOM files of a listed slide: the file, the folder, or the folder's files of one series. */
async function filesOf(root: string, name: string): Promise<{ files: string[]; series: string | null }> {
  if (name.endsWith('.dcm')) return { files: [join(root, name)], series: null };
  const dir = name.endsWith('/') ? join(root, name) : join(root, dirname(name));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.dcm')).map((f) => join(dir, f));
  const m = /series-([\d.]+)$/.exec(name);
  return { files, series: m ? (m[1] as string) : null };
}

describe('DICOM WSI conformance with pydicom + Pillow', () => {
  const servers: TestServer[] = [];
  const cases: Case[] = [];
  let work = '';
  let manifest: Manifest;

  beforeAll(async () => {
    manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;
    if (manifest.dicomMissing) return;
    work = await mkdtemp(join(tmpdir(), 'dicom-conf-'));
    const roots = [{ dir: FIXTURES, names: manifest.valid.filter((v) => v.expect.vendor === 'dicom').map((v) => `slides/${v.file}`) }];
    if (HAS_SHARED) roots.push({ dir: SHARED_FIXTURES, names: [] });
    else process.stdout.write(`[dicom-conformance] SKIP: ${SHARED_FIXTURES} absent; only generated DICOM slides are compared\n`);
    for (const root of roots) {
      const server = await startTestServer(root.dir);
      servers.push(server);
      const { body } = await getJson<{ slides: Array<{ id: string; name: string; status: string; vendor: string | null }> }>(`${server.url}/api/slides`);
      const wanted = root.names.length > 0 ? body.slides.filter((s) => root.names.includes(s.name)) : body.slides.filter((s) => s.vendor === 'dicom');
      for (const s of wanted) {
        const { body: slide } = await getJson<Detail>(`${server.url}/api/slides/${s.id}`);
        if (slide.compression === 'jpeg-ls') {
          // pydicom needs pylibjpeg or GDCM for JPEG-LS; the frames are lossless, so the source is the truth
          const src = fixtureLevels(640, 480, 47, 0.5, [0, 1]);
          expect(s.name).toContain(MULTI_SERIES.jpegLs);
          cases.push({ server, slide, reference: src.map((r) => ({ width: r.width, height: r.height, data: Buffer.from(r.data) })), against: 'source raster' });
          continue;
        }
        const { files, series } = await filesOf(root.dir, s.name);
        cases.push({ server, slide, reference: await pydicomReference(files, series, work), against: 'pydicom+Pillow' });
      }
    }
  }, 300_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('has DICOM fixtures to compare (python3-pydicom installed)', () => {
    expect(manifest.dicomMissing, `DICOM fixtures were not generated: ${manifest.dicomMissing}`).toBeNull();
    expect(cases.length).toBeGreaterThanOrEqual(HAS_SHARED ? 10 : 7);
  });

  it('IIIF regions at every level match the independently decoded frames (MAD ≤ 4 per channel)', async () => {
    let worst = { mad: 0, where: '' };
    let compared = 0;
    for (const { server, slide, reference, against } of cases) {
      expect(slide.levelDimensions.length, slide.name).toBe(reference.length);
      for (const [k, level] of slide.levelDimensions.entries()) {
        const ref = reference[k] as Case['reference'][number];
        expect([level.width, level.height], `${slide.name} level ${k}`).toEqual([ref.width, ref.height]);
        // the whole level, as the level's own pixels: the level-0 rectangle at the level's size
        const res = await fetch(`${server.url}/iiif/${slide.id}/0,0,${slide.width},${slide.height}/${level.width},${level.height}/0/default.png`);
        expect(res.status, `${slide.name} level ${k}`).toBe(200);
        const ours = await rgbOf(Buffer.from(await res.arrayBuffer()));
        expect([ours.width, ours.height]).toEqual([level.width, level.height]);
        const m = mad(ours.data, ours.width, ours.height, ref, 0, 0);
        const where = `${slide.name} level ${k} (${level.width}x${level.height}) against ${against}`;
        process.stdout.write(`[dicom-conformance] ${where}: MAD ${m.map((v) => v.toFixed(3)).join('/')}\n`);
        expect(Math.max(...m), where).toBeLessThanOrEqual(4);
        if (against === 'source raster') expect(Math.max(...m), `${where}: lossless`).toBe(0);
        if (Math.max(...m) >= worst.mad) worst = { mad: Math.max(...m), where };
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(HAS_SHARED ? 14 : 11);
    process.stdout.write(`[dicom-conformance] ${compared} levels on ${cases.length} slides; worst MAD ${worst.mad.toFixed(3)} (${worst.where})\n`);
  });

  it('passed-through JPEG frames show the same pixels as pydicom + Pillow', async () => {
    let passthroughs = 0;
    for (const { server, slide, reference } of cases) {
      const ts = slide.tileSize;
      if (slide.compression !== 'jpeg' || slide.width < ts || slide.height < ts) continue;
      const col = slide.width >= 2 * ts ? 1 : 0;
      const row = slide.height >= 2 * ts ? 1 : 0;
      const res = await fetch(`${server.url}/dzi/${slide.id}_files/${dziMaxLevel(slide.width, slide.height)}/${col}_${row}.jpeg`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tile-source'), slide.name).toBe('passthrough');
      const ours = await rgbOf(Buffer.from(await res.arrayBuffer()));
      const m = mad(ours.data, ts, ts, reference[0] as Case['reference'][number], col * ts, row * ts);
      expect(Math.max(...m), `${slide.name}: ${m.map((v) => v.toFixed(2)).join('/')}`).toBeLessThanOrEqual(4);
      passthroughs++;
    }
    expect(passthroughs).toBeGreaterThanOrEqual(HAS_SHARED ? 4 : 3);
  });
});
