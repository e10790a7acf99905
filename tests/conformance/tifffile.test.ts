/**
 * Conformance with tifffile (Debian's python3-tifffile) for SubIFD pyramids:
 * the lossless generated OME-TIFFs marked `tifffile` (SubIFDs plain, and
 * chained through their next-IFD pointers as Bio-Formats 6 and tifffile
 * write them; classic and BigTIFF; RGB, multi-channel, 16-bit) must have
 * tifffile's levels, and every level read whole through our IIIF endpoint
 * must be tifffile's pixels exactly (multi-channel levels composited in the
 * channel colours the API lists, 16-bit samples by their high byte, as the
 * server shows them). A pyramid written by tifffile itself, at test time,
 * must open and match the same way.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../scripts/fixtures/generate.js';
import { FIXTURES } from '../helpers/paths.js';
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

/** Compares every level of a slide with tifffile's; returns a line for the log. */
async function compareWithTifffile(server: TestServer, detail: Detail, ref: { axes: string; levels: TifffileLevel[] }): Promise<string> {
  const sizes = ref.levels.map((l) => (ref.axes === 'YXS' ? [l.shape[1], l.shape[0]] : [l.shape[2], l.shape[1]]));
  expect(detail.levelDimensions.map((l) => [l.width, l.height]), `${detail.name}: levels`).toEqual(sizes);
  for (const [k, level] of ref.levels.entries()) {
    const want = await expectedRgb(level, ref.axes, detail.channels);
    const res = await fetch(`${server.url}/iiif/${detail.id}/full/${want.width},${want.height}/0/default.png`);
    expect(res.status, `${detail.name} level ${k}`).toBe(200);
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([want.width, want.height, 3]);
    let differing = 0;
    for (let p = 0; p < want.width * want.height; p++) {
      if (data[p * 3] !== want.rgb[p * 3] || data[p * 3 + 1] !== want.rgb[p * 3 + 1] || data[p * 3 + 2] !== want.rgb[p * 3 + 2]) differing++;
    }
    expect(differing, `${detail.name} level ${k} (${want.width}x${want.height}): pixels that differ from tifffile's`).toBe(0);
  }
  return `${detail.name}: ${ref.levels.length} levels (${sizes.map((s) => s.join('x')).join(', ')}, ${ref.axes} ${ref.levels[0]?.dtype}) equal tifffile's, pixel for pixel`;
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
      process.stdout.write(`[tifffile] ${await compareWithTifffile(server, detail, refs[i] as { axes: string; levels: TifffileLevel[] })}\n`);
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
        process.stdout.write(`[tifffile] written by tifffile: ${await compareWithTifffile(written, detail, refs[i] as { axes: string; levels: TifffileLevel[] })}\n`);
      }
    } finally {
      await written.stop();
    }
  }, 180_000);
});
