/**
 * Conformance with tifffile (Debian's python3-tifffile) for SubIFD pyramids:
 * the lossless generated OME-TIFFs marked `tifffile` (SubIFDs plain, and
 * chained through their next-IFD pointers as Bio-Formats 6 and tifffile
 * write them; classic and BigTIFF; RGB, multi-channel, 16-bit) must have
 * tifffile's levels, and every level read whole through our IIIF endpoint
 * must be tifffile's pixels exactly (multi-channel levels composited in the
 * channel colours the API lists, 16-bit samples by their high byte, as the
 * server shows them). A pyramid written by tifffile itself, at test time,
 * and the real Bio-Formats 6.4.0 pyramid in ../shared/fixtures (when
 * present) must open and match the same way.
 *
 * A level that is not an exact halving (the real file's 219 × 83 under
 * 439 × 167) cannot be asked for whole through IIIF: `full/219,83` is drawn
 * from level 0, as it should be, since level 1 is coarser than asked. Such a
 * level is read whole through the slide reader itself (TiffSlide, the code
 * behind every tile), and the log says so.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../scripts/fixtures/generate.js';
import { DecodePool } from '../../tiles-server/decode/pool.js';
import { TiffSlide } from '../../tiles-server/slides/tiff-slide.js';
import { FileByteSource } from '../../tiles-server/tiff/byte-source.js';
import { FIXTURES, HAS_SHARED, SHARED_FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const PYTHON = '/usr/bin/python3';
const HAS_TIFFFILE = existsSync(PYTHON) && (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import tifffile, numpy']);
    return true;
  } catch {
    return false;
  }
})();
if (!HAS_TIFFFILE) process.stdout.write(`[tifffile] SKIP: ${PYTHON} with tifffile (python3-tifffile) is absent, so SubIFD pyramids are not checked against tifffile\n`);

interface TifffileLevel {
  shape: number[];
  dtype: 'uint8' | 'uint16';
  /** Raw samples, C order, native (little-endian) byte order. */
  path: string;
}

/** Every level of the first series of each file, as tifffile reads it. */
function tifffileLevels(files: string[], outDir: string): Array<{ axes: string; levels: TifffileLevel[] }> {
  const out = execFileSync(PYTHON, ['-c', `
import json, os, sys, tifffile
out_dir, res = sys.argv[1], []
for n, fn in enumerate(sys.argv[2:]):
    with tifffile.TiffFile(fn) as tif:
        s = tif.series[0]
        levels = []
        for k, level in enumerate(s.levels):
            a = level.asarray()
            path = os.path.join(out_dir, f'{n}-{k}.raw')
            a.tofile(path)
            levels.append({'shape': list(a.shape), 'dtype': str(a.dtype), 'path': path})
        res.append({'axes': s.axes, 'levels': levels})
print(json.dumps(res))
`, outDir, ...files], { maxBuffer: 1 << 20 });
  return JSON.parse(out.toString()) as Array<{ axes: string; levels: TifffileLevel[] }>;
}

interface Detail {
  id: string;
  name: string;
  channels: Array<{ name: string; color: [number, number, number] }> | null;
  levelDimensions: Array<{ width: number; height: number }>;
}

/** What the server shows for a tifffile level: RGB as it is, channels composited in their colours. */
async function expectedRgb(level: TifffileLevel, axes: string, channels: Detail['channels']): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const raw = await readFile(level.path);
  const sample = level.dtype === 'uint16' ? (i: number): number => (raw.readUInt16LE(i * 2) >>> 8) : (i: number): number => raw[i] as number;
  if (axes === 'YXS') {
    const [height, width] = level.shape as [number, number, number];
    return { rgb: Uint8Array.from({ length: width * height * 3 }, (_, i) => sample(i)), width, height };
  }
  expect(axes).toBe('CYX');
  const [c, height, width] = level.shape as [number, number, number];
  expect(channels?.length).toBe(c);
  const rgb = new Uint8Array(width * height * 3);
  for (let ch = 0; ch < c; ch++) {
    const [r, g, b] = (channels as NonNullable<Detail['channels']>)[ch]?.color ?? [255, 255, 255];
    for (let p = 0; p < width * height; p++) {
      const v = sample(ch * width * height + p);
      rgb[p * 3] = Math.min(255, (rgb[p * 3] as number) + (((v * r + 127) / 255) | 0));
      rgb[p * 3 + 1] = Math.min(255, (rgb[p * 3 + 1] as number) + (((v * g + 127) / 255) | 0));
      rgb[p * 3 + 2] = Math.min(255, (rgb[p * 3 + 2] as number) + (((v * b + 127) / 255) | 0));
    }
  }
  return { rgb, width, height };
}

/** Stored level `k` of a file, read whole in-process through TiffSlide, tile by tile. */
async function storedLevel(file: string, k: number): Promise<Uint8Array> {
  const pool = new DecodePool({ workers: 1, maxQueue: 256, timeoutMs: 30_000, maxHeapMb: 256 });
  const slide = await TiffSlide.open(await FileByteSource.open(file), { pool });
  try {
    const l = slide.meta.levels[k] as { width: number; height: number; tileWidth: number; tileHeight: number };
    const out = new Uint8Array(l.width * l.height * 3);
    for (let row = 0; row * l.tileHeight < l.height; row++) {
      for (let col = 0; col * l.tileWidth < l.width; col++) {
        const t = await slide.readTile(k, col, row);
        for (let y = 0; y < t.height; y++) out.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), ((row * l.tileHeight + y) * l.width + col * l.tileWidth) * 3);
      }
    }
    return out;
  } finally {
    await slide.close();
    await pool.close();
  }
}

/** Compares every level of a slide with tifffile's; returns a line for the log. */
async function compareWithTifffile(server: TestServer, detail: Detail, ref: { axes: string; levels: TifffileLevel[] }, file: string): Promise<string> {
  const sizes = ref.levels.map((l) => (ref.axes === 'YXS' ? [l.shape[1], l.shape[0]] : [l.shape[2], l.shape[1]]));
  expect(detail.levelDimensions.map((l) => [l.width, l.height]), `${detail.name}: levels`).toEqual(sizes);
  const base = sizes[0] as [number, number];
  const inProcess: number[] = [];
  for (const [k, level] of ref.levels.entries()) {
    const want = await expectedRgb(level, ref.axes, detail.channels);
    let data: Uint8Array;
    if (want.width * 2 ** k === base[0] && want.height * 2 ** k === base[1]) {
      const res = await fetch(`${server.url}/iiif/${detail.id}/full/${want.width},${want.height}/0/default.png`);
      expect(res.status, `${detail.name} level ${k}`).toBe(200);
      const png = await sharp(Buffer.from(await res.arrayBuffer())).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([png.info.width, png.info.height, png.info.channels]).toEqual([want.width, want.height, 3]);
      data = png.data;
    } else {
      data = await storedLevel(file, k);
      inProcess.push(k);
    }
    let differing = 0;
    for (let p = 0; p < want.width * want.height; p++) {
      if (data[p * 3] !== want.rgb[p * 3] || data[p * 3 + 1] !== want.rgb[p * 3 + 1] || data[p * 3 + 2] !== want.rgb[p * 3 + 2]) differing++;
    }
    expect(differing, `${detail.name} level ${k} (${want.width}x${want.height}): pixels that differ from tifffile's`).toBe(0);
  }
  const how = inProcess.length ? `; level ${inProcess.join(', ')} (not an exact halving) read through TiffSlide, the others through IIIF` : ', through IIIF';
  return `${detail.name}: ${ref.levels.length} levels (${sizes.map((s) => s.join('x')).join(', ')}, ${ref.axes} ${ref.levels[0]?.dtype}) equal tifffile's, pixel for pixel${how}`;
}

describe.skipIf(!HAS_TIFFFILE)('tifffile conformance: SubIFD pyramids', () => {
  let tmp = '';
  let server: TestServer;
  let slides: Map<string, string>;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'tifffile-conf-'));
    server = await startTestServer(FIXTURES);
    const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
    slides = new Map(body.slides.map((s) => [s.name, s.id]));
  });

  afterAll(async () => {
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('every level of the lossless SubIFD fixtures equals tifffile\'s', async () => {
    const manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;
    const files = manifest.valid.filter((f) => f.expect.tifffile).map((f) => f.file);
    expect(files.length).toBeGreaterThanOrEqual(4);
    const refs = tifffileLevels(files.map((f) => join(FIXTURES, 'slides', f)), tmp);
    for (const [i, file] of files.entries()) {
      const { body: detail } = await getJson<Detail>(`${server.url}/api/slides/${slides.get(`slides/${file}`)}`);
      process.stdout.write(`[tifffile] ${await compareWithTifffile(server, detail, refs[i] as { axes: string; levels: TifffileLevel[] }, join(FIXTURES, 'slides', file))}\n`);
    }
  }, 180_000);

  it.skipIf(!HAS_SHARED)('the real Bio-Formats 6.4.0 SubIFD pyramid (../shared/fixtures) equals tifffile\'s', async () => {
    const real = await startTestServer(SHARED_FIXTURES);
    try {
      const name = 'slides/ome-tiff/hubmap-bf640/multi-channel.ome.tif';
      const { body } = await getJson<{ slides: Array<{ id: string; name: string; status: string }> }>(`${real.url}/api/slides`);
      const s = body.slides.find((x) => x.name === name);
      expect(s?.status, name).toBe('ok');
      const { body: detail } = await getJson<Detail>(`${real.url}/api/slides/${s?.id}`);
      const [ref] = tifffileLevels([join(SHARED_FIXTURES, name)], tmp);
      process.stdout.write(`[tifffile] ${await compareWithTifffile(real, detail, ref as { axes: string; levels: TifffileLevel[] }, join(SHARED_FIXTURES, name))}\n`);
    } finally {
      await real.stop();
    }
  }, 180_000);

  it('a pyramid tifffile writes itself (SubIFDs chained, 16-bit channels; and RGB) opens with its levels, pixel for pixel', async () => {
    const dir = join(tmp, 'written-by-tifffile');
    execFileSync(PYTHON, ['-c', `
import os, sys, numpy, tifffile
d = sys.argv[1]
os.makedirs(d)
y, x = numpy.mgrid[0:600, 0:800]
chans = numpy.stack([(x * 80 + y * 3) % 65536, (y * 100) % 65536, ((x ^ y) * 257) % 65536]).astype(numpy.uint16)
with tifffile.TiffWriter(os.path.join(d, 'channels.ome.tif'), bigtiff=True, ome=True) as tif:
    opts = dict(tile=(256, 256), compression='zlib', photometric='minisblack')
    tif.write(chans, subifds=2, metadata={'axes': 'CYX', 'Channel': {'Name': ['A', 'B', 'C']}}, **opts)
    tif.write(chans[:, ::2, ::2], subfiletype=1, **opts)
    tif.write(chans[:, ::4, ::4], subfiletype=1, **opts)
rgb = numpy.stack([x % 256, y % 256, (x + y) % 256], -1).astype(numpy.uint8)
with tifffile.TiffWriter(os.path.join(d, 'rgb.ome.tif'), ome=True) as tif:
    opts = dict(tile=(256, 256), compression='zlib', photometric='rgb')
    tif.write(rgb, subifds=2, **opts)
    tif.write(rgb[::2, ::2], subfiletype=1, **opts)
    tif.write(rgb[::4, ::4], subfiletype=1, **opts)
`, dir]);
    const written = await startTestServer(dir);
    try {
      const { body } = await getJson<{ slides: Array<{ id: string; name: string; status: string; levels: number }> }>(`${written.url}/api/slides`);
      expect(body.slides.map((s) => [s.name, s.status, s.levels])).toEqual([
        ['channels.ome.tif', 'ok', 3],
        ['rgb.ome.tif', 'ok', 3],
      ]);
      const refs = tifffileLevels(body.slides.map((s) => join(dir, s.name)), tmp);
      for (const [i, s] of body.slides.entries()) {
        const { body: detail } = await getJson<Detail>(`${written.url}/api/slides/${s.id}`);
        process.stdout.write(`[tifffile] written by tifffile: ${await compareWithTifffile(written, detail, refs[i] as { axes: string; levels: TifffileLevel[] }, join(dir, s.name))}\n`);
      }
    } finally {
      await written.stop();
    }
  }, 180_000);
});
