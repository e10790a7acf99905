/**
 * DICOM WSI through the built server, on the generated DICOM fixtures:
 * series grouped into slides (one file, a folder, two series in a folder),
 * JPEG frames passed through (RGB-coded ones marked for browsers), every
 * codec decoded, TILED_SPARSE background, warnings for the focal planes
 * and optical paths left out, associated images; and in-process: files
 * recognised by the DICM prefix without an extension, a damaged instance
 * listed alone while its series opens, header summaries cached across
 * rescans. READ-01, READ-07, READ-08, READ-09, READ-11, READ-12, READ-13 and
 * READ-14 DICOM cases run in the corpus test of server.test.ts.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../scripts/fixtures/generate.js';
import { MULTI_SERIES } from '../../scripts/fixtures/dicom-valid.js';
import { dicomScanStats } from '../../tiles-server/slides/dicom-format.js';
import { scanSlideFolder } from '../../tiles-server/slides/scan.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

interface Listed {
  id: string;
  name: string;
  status: string;
  width: number;
  height: number;
  levels: number;
  vendor: string;
  error?: { code: string; message: string };
}

interface Detail extends Listed {
  compression: string;
  warnings: string[];
  associatedImages: Array<{ kind: string; width: number; height: number }>;
  levelDimensions: Array<{ width: number; height: number; tileWidth: number }>;
}

let manifest: Manifest;
let server: TestServer;
let slides: Map<string, Listed>;

async function detail(name: string): Promise<Detail> {
  const s = slides.get(name);
  expect(s, name).toBeDefined();
  return (await getJson<Detail>(`${server.url}/api/slides/${s?.id}`)).body;
}

async function tile(name: string, level: number, col: number, row: number): Promise<{ status: number; source: string | null; bytes: Buffer }> {
  const res = await fetch(`${server.url}/dzi/${slides.get(name)?.id}_files/${level}/${col}_${row}.jpeg`);
  return { status: res.status, source: res.headers.get('x-tile-source'), bytes: Buffer.from(await res.arrayBuffer()) };
}

beforeAll(async () => {
  manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Listed[] }>(`${server.url}/api/slides`);
  slides = new Map(body.slides.map((s) => [s.name, s]));
});

afterAll(async () => {
  await server?.stop();
});

describe('DICOM WSI slides', () => {
  it('were generated (python3-pydicom is installed)', () => {
    expect(manifest.dicomMissing, `DICOM fixtures were not generated: ${manifest.dicomMissing}`).toBeNull();
    expect(manifest.valid.filter((v) => v.expect.vendor === 'dicom').length).toBe(7);
  });

  it('groups series into slides: a file, a folder, two series in one folder', () => {
    const names = [...slides.keys()].filter((n) => n.startsWith('slides/dicom'));
    expect(names.sort()).toEqual(
      [
        'slides/dicom-j2k-sparse/',
        'slides/dicom-jpeg-multifile/',
        'slides/dicom-jpeg-rgb-2planes.dcm',
        'slides/dicom-native-explicit.dcm',
        'slides/dicom-native-implicit.dcm',
        `slides/dicom-two-series/series-${MULTI_SERIES.jpeg}`,
        `slides/dicom-two-series/series-${MULTI_SERIES.jpegLs}`,
      ].sort(),
    );
    for (const n of names) expect(slides.get(n)?.status, `${n}: ${JSON.stringify(slides.get(n)?.error)}`).toBe('ok');
  });

  it('reads a concatenated level, label/overview/thumbnail and the compression of each', async () => {
    const multi = await detail('slides/dicom-jpeg-multifile/');
    expect(multi.levelDimensions.map((l) => [l.width, l.height])).toEqual([
      [1500, 1100],
      [750, 550],
      [375, 275],
    ]);
    expect(multi.associatedImages).toEqual([
      { kind: 'label', width: 300, height: 360 },
      { kind: 'macro', width: 640, height: 220 },
      { kind: 'thumbnail', width: 375, height: 275 },
    ]);
    expect(multi.compression).toBe('jpeg');
    expect((await detail('slides/dicom-j2k-sparse/')).compression).toBe('jpeg2000');
    expect((await detail(`slides/dicom-two-series/series-${MULTI_SERIES.jpegLs}`)).compression).toBe('jpeg-ls');
    expect((await detail('slides/dicom-native-implicit.dcm')).compression).toBe('none');
  });

  it('passes JPEG frames through at every level, the last (concatenated) part too', async () => {
    for (const [level, col, row] of [
      [11, 0, 0],
      [11, 4, 3],
      [10, 1, 1],
      [9, 0, 0],
    ] as const) {
      const t = await tile('slides/dicom-jpeg-multifile/', level, col, row);
      expect(t.status, `${level}/${col}_${row}`).toBe(200);
      expect(t.source, `${level}/${col}_${row}`).toBe('passthrough');
    }
  });

  it('marks RGB-coded JPEG frames with an Adobe transform-0 marker, and leaves out the second focal plane with a warning', async () => {
    const t = await tile('slides/dicom-jpeg-rgb-2planes.dcm', 10, 1, 0);
    expect(t.source).toBe('passthrough');
    expect(t.bytes.subarray(0, 2).toString('hex')).toBe('ffd8');
    const adobe = t.bytes.indexOf(Buffer.from('Adobe'));
    expect(adobe).toBeGreaterThan(0);
    expect(t.bytes[adobe + 11]).toBe(0);
    expect(t.bytes.indexOf(Buffer.from('JFIF'))).toBe(-1);
    // tissue colours, not the swapped channels of a YCbCr reading: pinkish, red above green
    const { data } = await sharp(t.bytes).raw().toBuffer({ resolveWithObject: true });
    let r = 0;
    let g = 0;
    for (let i = 0; i < data.length; i += 3) {
      r += data[i] as number;
      g += data[i + 1] as number;
    }
    expect(r).toBeGreaterThan(g);
    expect((await detail('slides/dicom-jpeg-rgb-2planes.dcm')).warnings.join('\n')).toMatch(/focal planes; only the first/);
  });

  it('serves TILED_SPARSE tiles no frame covers as white background, and says which plane it shows', async () => {
    const d = await detail('slides/dicom-j2k-sparse/');
    expect(d.warnings.join('\n')).toMatch(/focal planes; only the first/);
    for (const [col, row] of [
      [3, 0],
      [0, 2],
    ] as const) {
      const t = await tile('slides/dicom-j2k-sparse/', 10, col, row);
      expect(t.status).toBe(200);
      expect(t.source).toBe('rendered');
      const { data } = await sharp(t.bytes).raw().toBuffer({ resolveWithObject: true });
      expect(data.reduce((m, v) => Math.min(m, v), 255), `${col},${row}`).toBeGreaterThan(245);
    }
    const covered = await tile('slides/dicom-j2k-sparse/', 10, 1, 1);
    const { data } = await sharp(covered.bytes).raw().toBuffer({ resolveWithObject: true });
    expect(data.reduce((m, v) => Math.min(m, v), 255), 'tissue, not background').toBeLessThan(240);
  });
});

describe('DICOM files in a folder (in-process scanner)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsi-dicom-scan-'));
    await mkdir(join(dir, 'pacs', 'study'), { recursive: true });
    const src = join(FIXTURES, 'slides', 'dicom-jpeg-multifile');
    // PACS exports name files by UID, with no extension
    for (const [i, f] of ['level0-part1', 'level0-part2', 'level1', 'level2', 'label'].entries()) {
      await copyFile(join(src, `${f}.dcm`), join(dir, 'pacs', 'study', `1.2.826.0.1.3680043.10.543.100.${i + 1}`));
    }
    await writeFile(join(dir, 'pacs', 'study', 'damaged.dcm'), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.alloc(40, 0xff)]));
    await writeFile(join(dir, 'pacs', 'study', 'README'), 'not a slide');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes extension-less files by their DICM prefix, lists a damaged file alone, and keeps the series whole', async () => {
    const found = await scanSlideFolder(dir, (n) => n);
    const names = [...found.values()].map((e) => e.name).sort();
    expect(names).toEqual(['pacs/study/', 'pacs/study/damaged.dcm']);
    expect(found.get('pacs/study/')?.files).toHaveLength(5);
    expect(found.get('pacs/study/')?.format).toBe('DICOM WSI');
  });

  it('reads each header once while files are unchanged, and again after one changes', async () => {
    await scanSlideFolder(dir, (n) => n);
    const before = dicomScanStats.headersRead;
    await scanSlideFolder(dir, (n) => n);
    expect(dicomScanStats.headersRead).toBe(before);
    await utimes(join(dir, 'pacs', 'study', 'damaged.dcm'), new Date(), new Date(Date.now() + 5000));
    await scanSlideFolder(dir, (n) => n);
    expect(dicomScanStats.headersRead).toBe(before + 1);
  });
});
