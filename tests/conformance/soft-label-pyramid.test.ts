/**
 * The soft-label TIFF's pyramid (issue 14, "soft labels for training":
 * multi-channel pyramidal TIFF that libvips, tifffile and OpenSlide read).
 * A generated image of odd sizes (votes of 3 readers over 4 classes, and
 * 0–255 values like STAPLE's posteriors; some 512-px cells empty) is
 * written by tiles-server/agreement/soft-label-tiff.ts; every level is
 * computed here directly from level 0 (each reduced pixel the mean of the
 * 2 × 2 block under it inside the level, half to even) and compared with
 * what tifffile (Debian's python3-tifffile through /usr/bin/python3) and
 * libvips (sharp, and the vips command line) read from every page, channel
 * by channel; OpenSlide must
 * open it as generic-tiff, report the level count and each level's size,
 * and read channel 0 as grey. A missing reader skips its part with a
 * message. AGR-03 (unpainted pixels are class 0's votes) is the service's
 * rule, checked through HTTP in tests/integration/soft-labels.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { writeSoftLabelTiff } from '../../tiles-server/agreement/soft-label-tiff.js';
import { meanHalfEven } from '../../tiles-server/agreement/vote-reduce.js';
import { HAS_OPENSLIDE, openslideProperties, openslideRegions } from '../helpers/openslide.js';
import { HAS_VIPS, vipsPage } from '../helpers/second-reader.js';

const PYTHON = '/usr/bin/python3';
const HAS_TIFFFILE = existsSync(PYTHON) && (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import tifffile, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!HAS_TIFFFILE) process.stdout.write(`[soft-label-pyramid] SKIP: ${PYTHON} with tifffile (python3-tifffile) is absent, so the levels are not read back with tifffile\n`);
if (!HAS_VIPS) process.stdout.write('[soft-label-pyramid] SKIP: vips is not on PATH, so the libvips command line does not read the levels (apt-get install libvips-tools)\n');
if (!HAS_OPENSLIDE) process.stdout.write('[soft-label-pyramid] SKIP: openslide-show-properties is not on PATH, so OpenSlide does not open the soft-label TIFF (apt-get install openslide-tools)\n');

interface Img {
  w: number;
  h: number;
  k: number;
  px: Uint8Array;
}

/** The mean of each 2 × 2 block inside the image, half to even, written plainly (no integer tricks). */
function halve(a: Img): Img {
  const w = Math.ceil(a.w / 2);
  const h = Math.ceil(a.h / 2);
  const px = new Uint8Array(w * h * a.k);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < a.k; c++) {
        const vals: number[] = [];
        for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
          const sx = 2 * x + dx;
          const sy = 2 * y + dy;
          if (sx < a.w && sy < a.h) vals.push(a.px[(sy * a.w + sx) * a.k + c] as number);
        }
        const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
        const low = Math.floor(mean);
        const frac = mean - low;
        px[(y * w + x) * a.k + c] = frac > 0.5 ? low + 1 : frac < 0.5 ? low : low % 2 === 0 ? low : low + 1;
      }
    }
  }
  return { w, h, k: a.k, px };
}

const CASES = [
  // 3 readers' votes over 4 classes: each pixel sums to 3; cells (1, 1) and (3, 0) have no votes
  { name: 'votes', width: 2100, height: 1501, k: 4, empty: new Set(['1,1', '3,0']), value: (r: () => number, out: Uint8Array, at: number): void => {
    for (let v = 0; v < 3; v++) (out[at + Math.floor(r() * 4)] as number)++;
  } },
  // 0–255 values, 3 channels (like STAPLE posteriors)
  { name: 'posteriors', width: 1301, height: 1099, k: 3, empty: new Set<string>(), value: (r: () => number, out: Uint8Array, at: number): void => {
    const a = Math.floor(r() * 256);
    const b = Math.floor(r() * (256 - a));
    out[at] = a;
    out[at + 1] = b;
    out[at + 2] = 255 - a - b;
  } },
];

describe('the soft-label TIFF is pyramidal, and tifffile, libvips and OpenSlide read every level', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'soft-label-pyramid-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.width} × ${c.height}, ${c.k} channels`, async () => {
      const r = rng(c.k * 1000 + c.width);
      const base: Img = { w: c.width, h: c.height, k: c.k, px: new Uint8Array(c.width * c.height * c.k) };
      for (let y = 0; y < c.height; y++) {
        for (let x = 0; x < c.width; x++) {
          if (c.empty.has(`${Math.floor(x / 512)},${Math.floor(y / 512)}`)) continue;
          c.value(r, base.px, (y * c.width + x) * c.k);
        }
      }
      const file = join(dir, `${c.name}.tiff`);
      const cellsAsked: string[] = [];
      const written = await writeSoftLabelTiff(file, {
        width: c.width,
        height: c.height,
        channels: c.k,
        mpp: 0.25,
        description: JSON.stringify({ format: 'test', case: c.name }),
        cell: async (i, j) => {
          cellsAsked.push(`${i},${j}`);
          if (c.empty.has(`${i},${j}`)) return null;
          const out = new Uint8Array(512 * 512 * c.k);
          for (let y = 0; y < 512 && j * 512 + y < c.height; y++) {
            const from = ((j * 512 + y) * c.width + i * 512) * c.k;
            out.set(base.px.subarray(from, from + Math.min(512, c.width - i * 512) * c.k), y * 512 * c.k);
          }
          return out;
        },
      });
      // every level-0 cell asked once
      expect(new Set(cellsAsked).size).toBe(cellsAsked.length);
      expect(cellsAsked.length).toBe(Math.ceil(c.width / 512) * Math.ceil(c.height / 512));
      // the expected pyramid, computed here: halved until a level fits one 512-px tile
      const levels: Img[] = [base];
      while ((levels.at(-1) as Img).w > 512 || (levels.at(-1) as Img).h > 512) levels.push(halve(levels.at(-1) as Img));
      expect(written.levels).toEqual(levels.map((l) => ({ width: l.w, height: l.h })));
      expect(levels.length).toBeGreaterThanOrEqual(3);

      // libvips (sharp): every page, every channel
      const meta = await sharp(file).metadata();
      expect(meta.pages).toBe(levels.length);
      expect(meta.channels).toBe(c.k);
      for (const [n, lv] of levels.entries()) {
        for (let ch = 0; ch < c.k; ch++) {
          // sharp turns a grey image into sRGB on output unless the pipeline stays b-w
          const { data, info } = await sharp(file, { page: n }).pipelineColourspace('b-w').extractChannel(ch as 0 | 1 | 2 | 3).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
          expect([info.width, info.height, info.channels]).toEqual([lv.w, lv.h, 1]);
          let bad = 0;
          for (let p = 0; p < lv.w * lv.h; p++) if (data[p] !== lv.px[p * c.k + ch]) bad++;
          expect(bad, `libvips: level ${n} channel ${ch}`).toBe(0);
        }
      }

      // the libvips command line: every band of every page as stored
      if (HAS_VIPS) {
        for (const [n, lv] of levels.entries()) {
          const img = await vipsPage(file, n, dir);
          expect([img.width, img.height, img.bands]).toEqual([lv.w, lv.h, c.k]);
          let bad = 0;
          for (let i = 0; i < lv.px.length; i++) if (img.data[i] !== lv.px[i]) bad++;
          expect(bad, `vips: level ${n}`).toBe(0);
        }
      }

      if (HAS_TIFFFILE) {
        const out = execFileSync(PYTHON, ['-c', `
import json, sys, tifffile
with tifffile.TiffFile(sys.argv[1]) as tif:
    info = []
    for n, page in enumerate(tif.pages):
        a = page.asarray()
        a.tofile(sys.argv[2] + '.' + str(n))
        info.append({'shape': list(a.shape), 'dtype': str(a.dtype), 'tiled': page.is_tiled, 'reduced': page.is_reduced})
    print(json.dumps(info))
`, file, join(dir, `${c.name}.raw`)]);
        const info = JSON.parse(out.toString()) as Array<{ shape: number[]; dtype: string; tiled: boolean; reduced: boolean }>;
        expect(info).toEqual(levels.map((l, n) => ({ shape: [l.h, l.w, c.k], dtype: 'uint8', tiled: true, reduced: n > 0 })));
        for (const [n, lv] of levels.entries()) {
          const got = await readFile(join(dir, `${c.name}.raw.${n}`));
          let bad = 0;
          for (let i = 0; i < lv.px.length; i++) if (got[i] !== lv.px[i]) bad++;
          expect(bad, `tifffile: level ${n}`).toBe(0);
        }
      }

      if (HAS_OPENSLIDE) {
        const props = await openslideProperties(file);
        expect(props.get('openslide.vendor')).toBe('generic-tiff');
        expect(props.get('openslide.level-count')).toBe(String(levels.length));
        expect(JSON.parse(props.get('openslide.comment') ?? 'null')).toEqual({ format: 'test', case: c.name });
        for (const [n, lv] of levels.entries()) {
          expect(props.get(`openslide.level[${n}].width`)).toBe(String(lv.w));
          expect(props.get(`openslide.level[${n}].height`)).toBe(String(lv.h));
        }
        // OpenSlide reads channel 0 as grey (R = G = B), opaque; the other channels it does not show
        const regions = await openslideRegions(file, levels.map((lv, n) => ({ x: 0, y: 0, level: n, w: lv.w, h: lv.h })), dir);
        for (const [n, lv] of levels.entries()) {
          const reg = regions[n] as { rgb: Uint8Array; alpha: Uint8Array };
          let bad = 0;
          for (let p = 0; p < lv.w * lv.h; p++) {
            const v = lv.px[p * c.k] as number;
            if (reg.rgb[p * 3] !== v || reg.rgb[p * 3 + 1] !== v || reg.rgb[p * 3 + 2] !== v || reg.alpha[p] !== 255) bad++;
          }
          expect(bad, `OpenSlide: level ${n}`).toBe(0);
        }
      }
    }, 300_000);
  }

  it('the reduction rounds half to even: 2.5 → 2, 3.5 → 4, 1.5 → 2, 0.25 → 0, 0.75 → 1', () => {
    expect([meanHalfEven(10, 4), meanHalfEven(14, 4), meanHalfEven(3, 2), meanHalfEven(1, 4), meanHalfEven(3, 4), meanHalfEven(7, 1)]).toEqual([2, 4, 2, 0, 1, 7]);
  });
});
