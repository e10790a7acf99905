/**
 * OpenSlide as a reference reader for tests: properties through
 * `openslide-show-properties`, pixels through one `openslide_read_region`
 * call (libopenslide0, from Python's ctypes).
 *
 * Not through `openslide-write-png`: it reads its region a row at a time at
 * level-0 coordinates rounded from the row times the level's downsample, so
 * on a level whose downsample is not a whole number (a level of an odd-sized
 * image: 188 × 138 of 1500 × 1100) its rows land on fractional positions and
 * are interpolated. One read_region call is exact. Without python3 the tool
 * is the fallback, and the test says so.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { onPath } from './second-reader.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

export const HAS_OPENSLIDE = onPath('openslide-show-properties') && onPath('openslide-write-png');
const HAS_PYTHON = existsSync(PYTHON);
let warned = false;
let seq = 0;

const READ_REGIONS = `
import ctypes, json, sys
lib = ctypes.CDLL('libopenslide.so.0')
lib.openslide_open.restype = ctypes.c_void_p
lib.openslide_open.argtypes = [ctypes.c_char_p]
lib.openslide_get_error.restype = ctypes.c_char_p
lib.openslide_get_error.argtypes = [ctypes.c_void_p]
lib.openslide_read_region.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int32, ctypes.c_int64, ctypes.c_int64]
lib.openslide_close.argtypes = [ctypes.c_void_p]
path, regions, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
osr = lib.openslide_open(path.encode())
if not osr:
    sys.exit('OpenSlide cannot open ' + path)
with open(out, 'wb') as f:
    for x, y, level, w, h in regions:
        buf = (ctypes.c_uint32 * (w * h))()
        lib.openslide_read_region(osr, buf, x, y, level, w, h)
        err = lib.openslide_get_error(osr)
        if err:
            sys.exit('OpenSlide: ' + err.decode())
        f.write(bytes(buf))
lib.openslide_close(osr)
`;

export interface OpenSlideRegion {
  /** RGB, 3 interleaved channels (un-premultiplied where opaque). */
  rgb: Uint8Array;
  alpha: Uint8Array;
}

/** A region to read: x and y in level-0 pixels, as openslide_read_region takes them. */
export interface RegionRequest {
  x: number;
  y: number;
  level: number;
  w: number;
  h: number;
}

/** Reads regions of one slide, each in one `openslide_read_region` call (one Python process for all). */
export async function openslideRegions(file: string, regions: RegionRequest[], tmpDir: string): Promise<OpenSlideRegion[]> {
  if (!HAS_PYTHON) {
    if (!warned) process.stdout.write(`[openslide] ${PYTHON} is absent: reading OpenSlide through openslide-write-png, whose rows are interpolated on levels with a fractional downsample\n`);
    warned = true;
    const out: OpenSlideRegion[] = [];
    for (const r of regions) {
      const png = join(tmpDir, `os-${process.pid}-${seq++}.png`);
      await run('openslide-write-png', [file, String(r.x), String(r.y), String(r.level), String(r.w), String(r.h), png]);
      const { data } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      await rm(png, { force: true });
      const rgb = new Uint8Array(r.w * r.h * 3);
      const alpha = new Uint8Array(r.w * r.h);
      for (let p = 0; p < r.w * r.h; p++) {
        rgb.set(data.subarray(p * 4, p * 4 + 3), p * 3);
        alpha[p] = data[p * 4 + 3] as number;
      }
      out.push({ rgb, alpha });
    }
    return out;
  }
  const path = join(tmpDir, `os-${process.pid}-${seq++}.argb`);
  try {
    await run(PYTHON, ['-c', READ_REGIONS, file, JSON.stringify(regions.map((r) => [r.x, r.y, r.level, r.w, r.h])), path]);
    const buf = await readFile(path);
    let at = 0;
    return regions.map((r) => {
      const n = r.w * r.h;
      const rgb = new Uint8Array(n * 3);
      const alpha = new Uint8Array(n);
      // premultiplied ARGB in native (little-endian) 32-bit words
      for (let p = 0; p < n; p++, at += 4) {
        const a = buf[at + 3] as number;
        const un = (v: number): number => (a === 255 || a === 0 ? v : Math.min(255, Math.round((v * 255) / a)));
        rgb[p * 3] = un(buf[at + 2] as number);
        rgb[p * 3 + 1] = un(buf[at + 1] as number);
        rgb[p * 3 + 2] = un(buf[at] as number);
        alpha[p] = a;
      }
      return { rgb, alpha };
    });
  } finally {
    await rm(path, { force: true });
  }
}

/** One region (`openslide_read_region(x, y, level, w, h)`, x and y in level-0 pixels). */
export async function openslideRegion(file: string, x: number, y: number, level: number, w: number, h: number, tmpDir: string): Promise<OpenSlideRegion> {
  return (await openslideRegions(file, [{ x, y, level, w, h }], tmpDir))[0] as OpenSlideRegion;
}

/** OpenSlide's properties (`openslide-show-properties`). */
export async function openslideProperties(file: string): Promise<Map<string, string>> {
  const { stdout } = await run('openslide-show-properties', [file]);
  const props = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([^:]+): '(.*)'$/.exec(line);
    if (m) props.set(m[1] as string, m[2] as string);
  }
  return props;
}
