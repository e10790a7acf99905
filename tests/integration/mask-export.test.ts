/**
 * Mask export and import through the built server. The exported pyramidal
 * TIFF is read by OpenSlide (openslide-show-properties / -write-png; that
 * part is skipped with a message when OpenSlide is not installed), libvips
 * (sharp, and the vips CLI from libvips-tools) and geotiff.js, which must all
 * agree with what was painted at level 0, and every level must be the
 * documented reduction of the one above, read exactly by all three, in
 * OpenSlide 3.4.1 whatever libtiff it runs on (no tile is larger than its
 * level: see tiles-server/masks/tiff-export.ts). Label-image imports: the HistomicsTK GT-code round trip and
 * the MoNuSeg binary mask from ../shared/fixtures (skipped with a message
 * when absent), downsampling, clipping, class tables, and bad input that
 * is refused whole.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';
import { fromFile } from 'geotiff';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downsample2 } from '../../src/core/mask/downsample.js';
import { TiffWriter } from '../../tiles-server/tiff/writer.js';
import { call } from '../helpers/annotations.js';
import { zeroTiff } from '../../scripts/fixtures/label-images.js';
import { b64, inflate, pngBytes, postImport, postTiles, rasterOf, readPack, tile, zlib, T } from '../helpers/masks.js';
import { FIXTURES, HAS_SHARED, SHARED_FIXTURES } from '../helpers/paths.js';
import { HAS_OPENSLIDE, openslideProperties, openslideRegion, openslideRegions, type OpenSlideRegion } from '../helpers/openslide.js';
import { HAS_VIPS, onPath, vipsPage } from '../helpers/second-reader.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
/** The annotator: the signed-in admin's user id (known once the server is up). */
let USER = '';
const HAS_VIPSHEADER = onPath('vipsheader');
if (!HAS_OPENSLIDE) process.stdout.write('[mask-export] openslide-show-properties is not on PATH: the OpenSlide checks are skipped (apt-get install openslide-tools)\n');
if (!HAS_VIPS) process.stdout.write('[mask-export] vips is not on PATH: the libvips CLI checks of every level are skipped (apt-get install libvips-tools)\n');
if (!HAS_SHARED) process.stdout.write(`[mask-export] ${SHARED_FIXTURES} is absent: the HistomicsTK and MoNuSeg round trips are skipped\n`);

let server: TestServer;
let tmp = '';
const slides: Record<string, string> = {};

interface Problem {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}
interface ImportReport {
  tiles: number;
  pixels: Record<string, number>;
  classesAdded: Array<{ id: number; name: string; color: string }>;
  warnings: string[];
  replayed?: boolean;
}

beforeAll(async () => {
  server = await startTestServer(FIXTURES, {});
  USER = server.admin?.id ?? '';
  tmp = await mkdtemp(join(tmpdir(), 'wsi-mask-export-test-'));
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  for (const s of body.slides) slides[s.name.replace(/^slides\//, '')] = s.id;
});

afterAll(async () => {
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function exportTo(base: string, slide: string, name: string): Promise<string> {
  const res = await fetch(`${base}/api/slides/${slide}/masks/${USER}/export.tiff`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/tiff');
  const file = join(tmp, name);
  await writeFile(file, Buffer.from(await res.arrayBuffer()));
  return file;
}

/** Grey values OpenSlide reads (R = G = B, opaque), in one read_region call. */
async function openslideGrey(file: string, x: number, y: number, level: number, w: number, h: number): Promise<Uint8Array> {
  return greyOf(await openslideRegion(file, x, y, level, w, h, tmp), w, h);
}

function greyOf({ rgb, alpha }: OpenSlideRegion, w: number, h: number): Uint8Array {
  const grey = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) {
    if (rgb[p * 3] !== rgb[p * 3 + 1] || rgb[p * 3] !== rgb[p * 3 + 2] || alpha[p] !== 255) throw new Error(`OpenSlide pixel ${p} is not opaque grey`);
    grey[p] = rgb[p * 3] as number;
  }
  return grey;
}

async function properties(file: string): Promise<Record<string, string>> {
  return Object.fromEntries(await openslideProperties(file));
}

function crop(src: Uint8Array, width: number, x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let r = 0; r < h; r++) out.set(src.subarray((y + r) * width + x, (y + r) * width + x + w), r * w);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

interface Level {
  w: number;
  h: number;
  px: Uint8Array;
}

/** The documented pyramid: halved while a level is larger than one tile and the next is at least 16 px both ways. */
function pyramid(w: number, h: number, px: Uint8Array): Level[] {
  const out: Level[] = [{ w, h, px }];
  for (let l = out[0] as Level; (l.w > T || l.h > T) && Math.ceil(l.w / 2) >= 16 && Math.ceil(l.h / 2) >= 16; l = out.at(-1) as Level) {
    out.push({ w: Math.ceil(l.w / 2), h: Math.ceil(l.h / 2), px: downsample2(l.px, l.w, l.h) });
  }
  return out;
}

/** The documented tile side: 512, or the largest multiple of 16 within a smaller level. */
const side = (n: number): number => (n >= T ? T : n - (n % 16));

/** Every level of an export, read whole by geotiff.js, OpenSlide and libvips, is exactly the expected level. */
async function everyLevelReads(file: string, levels: Level[], label: string): Promise<void> {
  // the second readers start at once: one OpenSlide process reads every level, libvips reads the levels side by side
  const inOpenSlide = HAS_OPENSLIDE ? openslideRegions(file, levels.map((l, k) => ({ x: 0, y: 0, level: k, w: l.w, h: l.h })), tmp) : null;
  const inVips = HAS_VIPS ? Promise.all(levels.map((_, k) => vipsPage(file, k, tmp))) : null;
  // (awaited below; a failure before then must not be an unhandled rejection)
  inOpenSlide?.catch(() => undefined);
  inVips?.catch(() => undefined);
  const tiff = await fromFile(file);
  expect(await tiff.getImageCount()).toBe(levels.length);
  for (const [k, l] of levels.entries()) {
    const img = await tiff.getImage(k);
    expect([img.getWidth(), img.getHeight(), img.getTileWidth(), img.getTileHeight()], `${label} level ${k}`).toEqual([l.w, l.h, side(l.w), side(l.h)]);
    const [band] = (await img.readRasters()) as unknown as Uint8Array[];
    expect(same(band as Uint8Array, l.px), `${label} level ${k} in geotiff.js`).toBe(true);
    const readers = ['geotiff.js'];
    if (inOpenSlide) {
      expect(same(greyOf((await inOpenSlide)[k] as OpenSlideRegion, l.w, l.h), l.px), `${label} level ${k} in OpenSlide`).toBe(true);
      readers.push('OpenSlide');
    }
    if (inVips) {
      const v = (await inVips)[k] as Awaited<ReturnType<typeof vipsPage>>;
      expect([v.width, v.height, v.bands], `${label} level ${k} in libvips`).toEqual([l.w, l.h, 1]);
      expect(same(v.data, l.px), `${label} level ${k} in libvips`).toBe(true);
      readers.push('libvips');
    }
    process.stdout.write(`[mask-export] ${label} level ${k} (${l.w}x${l.h}, tiles ${side(l.w)}x${side(l.h)}): exact in ${readers.join(', ')}\n`);
  }
}

/** Runs `fn` against a server whose only slide is a uniform RGB `width` × `height` TIFF (every tile one stored block). */
async function withBlankSlide(width: number, height: number, fn: (url: string, sid: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wsi-blank-slide-'));
  try {
    const w = await TiffWriter.create(join(dir, 'blank.tif'));
    const page = w.addPage({ width, height, tileWidth: 512, tileHeight: 512, samplesPerPixel: 3, photometric: 2, compression: 8 });
    await w.writeBlock(page, 0, deflateSync(new Uint8Array(512 * 512 * 3).fill(230)));
    for (let i = 1; i < page.offsets.length; i++) w.setBlock(page, i, page.offsets[0] as number, page.counts[0] as number);
    await w.finish();
    const srv = await startTestServer(dir, {});
    try {
      const { body } = await getJson<{ slides: Array<{ id: string }> }>(`${srv.url}/api/slides`);
      // this server has an admin of its own: paint as them
      const main = USER;
      USER = srv.admin?.id ?? '';
      try {
        await fn(srv.url, body.slides[0]?.id as string);
      } finally {
        USER = main;
      }
    } finally {
      await srv.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('pyramidal TIFF export', () => {
  // aperio-jpeg-256-x2.svs: 3000 × 2000 px → 6 × 4 tiles; the corner tile (5,3) has 440 × 464 px on the slide
  const W = 3000;
  const H = 2000;
  const painted = [
    { tx: 0, ty: 0, px: tile((x) => 1 + ((x >> 4) % 3)) },
    { tx: 1, ty: 0, px: tile((x, y) => (Math.abs(x - y) < 3 ? 4 : 0)) },
    { tx: 5, ty: 3, px: tile((x, y) => (x < 440 && y < 464 ? (x === 439 && y === 463 ? 2 : 5) : 0)) },
    // one labelled pixel in an otherwise empty region, far from the rest: (2900, 100)
    { tx: 5, ty: 0, px: tile((x, y) => (x === 340 && y === 100 ? 6 : 0)) },
  ];
  const level0 = rasterOf(painted, W, H);
  const levels = pyramid(W, H, level0);
  let file = '';

  beforeAll(async () => {
    const slide = slides['aperio-jpeg-256-x2.svs'] as string;
    const w = await postTiles(server.url, slide, USER, { ops: painted.map((p) => ({ tx: p.tx, ty: p.ty, ifMatch: 0, data: b64(zlib(p.px)) })) });
    expect(w.status).toBe(200);
    file = await exportTo(server.url, slide, 'painted.tiff');
  });

  it('has the expected levels, and geotiff.js reads every level exactly (the documented reduction of the level above)', async () => {
    expect(levels.map((l) => [l.w, l.h])).toEqual([[3000, 2000], [1500, 1000], [750, 500], [375, 250]]);
    expect(levels[3]?.px[Math.floor(100 / 8) * 375 + Math.floor(2900 / 8)]).toBe(6); // the lone pixel survives to the top
    const tiff = await fromFile(file);
    expect(await tiff.getImageCount()).toBe(4);
    for (let k = 0; k < 4; k++) {
      const img = await tiff.getImage(k);
      const l = levels[k] as { w: number; h: number; px: Uint8Array };
      // 3000 × 2000, 1500 × 1000 in 512-px tiles; 750 × 500 in 512 × 496; 375 × 250 in 368 × 240
      expect([img.getWidth(), img.getHeight(), img.getTileWidth(), img.getTileHeight(), img.getSamplesPerPixel(), img.getBitsPerSample()]).toEqual([l.w, l.h, side(l.w), side(l.h), 1, 8]);
      const dir = img.fileDirectory;
      expect([await dir.loadValue('Compression'), await dir.loadValue('PhotometricInterpretation')]).toEqual([8, 1]);
      if (k > 0) expect(await dir.loadValue('NewSubfileType')).toBe(1);
      const [band] = (await img.readRasters()) as unknown as Uint8Array[];
      expect(same(band as Uint8Array, l.px), `level ${k}`).toBe(true);
    }
    // ASCII values end in NUL (geotiff.js keeps it)
    const comment = JSON.parse(String(await (await tiff.getImage(0)).fileDirectory.loadValue('ImageDescription')).replace(/\0+$/, '')) as { classes: Array<{ id: number; name: string }>; mpp: number };
    expect(comment.mpp).toBe(0.25);
    expect(comment.classes.slice(0, 6).map((c) => [c.id, c.name])).toEqual([[1, 'Tumour'], [2, 'Stroma'], [3, 'Necrosis'], [4, 'Lymphocytes'], [5, 'Normal'], [6, 'Other']]);
  });

  it('stores the empty tiles once: every level-0 tile not painted points at one block', async () => {
    const img = await (await fromFile(file)).getImage(0);
    const offsets = Array.from((await img.fileDirectory.loadValue('TileOffsets')) as ArrayLike<number>);
    expect(offsets).toHaveLength(24);
    expect(new Set(offsets).size).toBe(painted.length + 1);
  });

  it('libvips reads the same level-0 pixels', async () => {
    const meta = await sharp(file).metadata();
    expect([meta.width, meta.height, meta.pages, meta.channels]).toEqual([W, H, 4, 1]);
    const { data, info } = await sharp(file, { page: 0 }).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([W, H]);
    expect(same(new Uint8Array(data), level0)).toBe(true);
    const l1 = await sharp(file, { page: 1 }).extractChannel(0).raw().toBuffer();
    expect(same(new Uint8Array(l1), levels[1]?.px as Uint8Array)).toBe(true);
    if (HAS_VIPSHEADER) {
      const { stdout } = await run('vipsheader', [file]);
      expect(stdout).toMatch(/3000x2000 uchar, 1 band/);
    } else process.stdout.write('[mask-export] vipsheader is not on PATH: the vips CLI check is skipped\n');
  });

  it('every level reads exactly in geotiff.js, OpenSlide and libvips: no tile is larger than its level', async () => {
    expect(levels.map((l) => [side(l.w), side(l.h)])).toEqual([[512, 512], [512, 512], [512, 496], [368, 240]]);
    await everyLevelReads(file, levels, 'aperio-jpeg-256-x2 mask');
  });

  it('a slide smaller than one tile: level 0 in tiles no larger than the slide', async () => {
    const slide = slides['generic-none-bigendian.tif'] as string; // 500 × 300
    const px = tile((x, y) => (x < 500 && y < 300 ? ((x >> 3) + (y >> 3)) % 5 : 0));
    expect((await postTiles(server.url, slide, USER, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(px)) }] })).status).toBe(200);
    const small = await exportTo(server.url, slide, 'small.tiff');
    const only = pyramid(500, 300, rasterOf([{ tx: 0, ty: 0, px }], 500, 300));
    expect(only.map((l) => [l.w, l.h, side(l.w), side(l.h)])).toEqual([[500, 300, 496, 288]]);
    await everyLevelReads(small, only, '500 x 300 mask');
  });

  describe.skipIf(!HAS_OPENSLIDE)('OpenSlide', () => {
    it('reports the dimensions, the level count and the class table', async () => {
      const p = await properties(file);
      expect(p['openslide.vendor']).toBe('generic-tiff');
      expect(p['openslide.level-count']).toBe('4');
      levels.forEach((l, k) => expect([p[`openslide.level[${k}].width`], p[`openslide.level[${k}].height`]]).toEqual([String(l.w), String(l.h)]));
      const comment = JSON.parse(p['openslide.comment'] ?? '{}') as { format: string; classes: Array<{ id: number; name: string; color: string }> };
      expect(comment.format).toBe('wsi-annotate-mask');
      expect(comment.classes).toContainEqual({ id: 4, name: 'Lymphocytes', color: '#1f77b4' });
    });

    it('renders the painted class values (R = G = B = class id)', async () => {
      expect(same(await openslideGrey(file, 0, 0, 0, 1024, 512), crop(level0, W, 0, 0, 1024, 512))).toBe(true);
      const edge = await openslideGrey(file, 2560, 1536, 0, 440, 464);
      expect(same(edge, crop(level0, W, 2560, 1536, 440, 464))).toBe(true);
      expect([edge[0], edge[440 * 464 - 1]]).toEqual([5, 2]);
      const dot = await openslideGrey(file, 2890, 90, 0, 20, 20);
      expect(dot[10 * 20 + 10]).toBe(6);
      expect(dot.reduce((a, b) => a + b, 0)).toBe(6);
      expect(same(await openslideGrey(file, 0, 0, 3, 375, 250), levels[3]?.px as Uint8Array)).toBe(true);
    });
  });

  it('keeps a mostly empty 50,000 × 50,000 mask small, with 8 levels and no MPP', async () => {
    // a 50k × 50k RGB slide whose 9,604 tiles all point at one stored block
    await withBlankSlide(50_000, 50_000, async (url, sid) => {
      const { body } = await getJson<{ slides: Array<{ id: string; width: number; mpp: number | null }> }>(`${url}/api/slides`);
      expect([body.slides[0]?.width, body.slides[0]?.mpp]).toEqual([50_000, null]);
      const corner = tile((x, y) => (x === 335 && y === 335 ? 3 : 0)); // tile (97,97) has 336 × 336 px on the slide: (49999, 49999)
      const r = await postTiles(url, sid, USER, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x) => (x < 10 ? 1 : 0)))) }, { tx: 97, ty: 97, ifMatch: 0, data: b64(zlib(corner)) }] });
      expect(r.status).toBe(200);
      const summary = await call<{ areaUm2: unknown; pixels: Record<string, number> }>(url, 'GET', `/api/slides/${sid}/masks/${USER}/summary`);
      expect(summary.body).toMatchObject({ areaUm2: null, pixels: { '1': 5120, '3': 1 } });
      const t0 = performance.now();
      const f = await exportTo(url, sid, 'big.tiff');
      expect(performance.now() - t0).toBeLessThan(20_000);
      expect((await stat(f)).size).toBeLessThan(400_000);
      const tiff = await fromFile(f);
      expect(await tiff.getImageCount()).toBe(8);
      const top = await tiff.getImage(7);
      expect([top.getWidth(), top.getHeight()]).toEqual([391, 391]);
      const [px] = (await (await tiff.getImage(0)).readRasters({ window: [49_990, 49_990, 50_000, 50_000] })) as unknown as Uint8Array[];
      expect(px?.[9 * 10 + 9]).toBe(3);
      const [topPx] = (await top.readRasters()) as unknown as Uint8Array[];
      expect(topPx?.[Math.floor(49_999 / 128) * 391 + Math.floor(49_999 / 128)]).toBe(3);
      if (HAS_OPENSLIDE) {
        expect((await properties(f))['openslide.level-count']).toBe('8');
        expect((await openslideGrey(f, 49_995, 49_995, 0, 5, 5))[4 * 5 + 4]).toBe(3);
      }
    });
  });
});

describe('a long, thin slide (20,000 × 300 px)', () => {
  it('keeps every tile within its level and stops the pyramid before a level under 16 px; all levels read exactly', async () => {
    await withBlankSlide(20_000, 300, async (url, sid) => {
      // tile 39 holds the last 32 columns (19,968–19,999)
      const painted = [
        { tx: 0, ty: 0, px: tile((x, y) => (y < 300 ? 1 + ((x + y) >> 5) % 4 : 0)) },
        { tx: 20, ty: 0, px: tile((x, y) => (y < 300 && Math.abs(x - 2 * y) < 4 ? 5 : 0)) },
        { tx: 39, ty: 0, px: tile((x, y) => (x < 32 && y < 300 && (x + y) % 7 === 0 ? 6 : 0)) },
      ];
      expect((await postTiles(url, sid, USER, { ops: painted.map((p) => ({ tx: p.tx, ty: p.ty, ifMatch: 0, data: b64(zlib(p.px)) })) })).status).toBe(200);
      const f = await exportTo(url, sid, 'thin.tiff');
      const levels = pyramid(20_000, 300, rasterOf(painted, 20_000, 300));
      // 20000 × 300 … 1250 × 19; 625 × 10 would be under 16 px
      expect(levels.map((l) => [l.w, l.h, side(l.w), side(l.h)])).toEqual([
        [20_000, 300, 512, 288],
        [10_000, 150, 512, 144],
        [5_000, 75, 512, 64],
        [2_500, 38, 512, 32],
        [1_250, 19, 512, 16],
      ]);
      await everyLevelReads(f, levels, '20000 x 300 mask');
      if (HAS_OPENSLIDE) expect((await properties(f))['openslide.level-count']).toBe('5');
    });
  });
});

describe.skipIf(!HAS_SHARED)('label images from ../shared/fixtures', () => {
  const MASKS = join(SHARED_FIXTURES, 'annotations', 'masks');
  const HIST = join(MASKS, 'histomicstk', 'TCGA-A2-A0YE-01Z-00-DX1.8A2E3094-5755-42BC-969D-7F0A2ECA0F39_left-44862_top-43750_mag-BASE.png');
  const CSV = join(MASKS, 'histomicstk', 'sample_GTcodes.csv');
  const MONUSEG = join(MASKS, 'monuseg', 'TCGA-B0-5710-01Z-00-DX1.png');
  const grey = async (f: string): Promise<{ px: Uint8Array; w: number; h: number }> => {
    const { data, info } = await sharp(f).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return { px: new Uint8Array(data), w: info.width, h: info.height };
  };

  it('HistomicsTK: GT codes and their CSV in, the same codes out of the exported TIFF, pixel for pixel', async () => {
    const slide = slides['aperio-jpeg-240-x4.svs'] as string; // 2400 × 1800
    const png = await grey(HIST);
    expect([png.w, png.h]).toEqual([511, 511]);
    const form = new FormData();
    form.append('image', new Blob([readFileSync(HIST)], { type: 'image/png' }), 'mask.png');
    form.append('classes', new Blob([readFileSync(CSV)], { type: 'text/csv' }), 'sample_GTcodes.csv');
    const r = await postImport<ImportReport>(server.url, slide, USER, 'x=1000&y=700', form);
    expect(r.status).toBe(201);
    const added = new Map(r.body.classesAdded.map((c) => [c.name, c]));
    expect([...added.keys()].sort()).toEqual(['mostly_lymphocytic_infiltrate', 'mostly_stroma']);
    expect(added.get('mostly_stroma')?.color).toBe('#ff7d00');
    const stroma = added.get('mostly_stroma')?.id as number;
    const lymph = added.get('mostly_lymphocytic_infiltrate')?.id as number;
    expect(Math.min(stroma, lymph)).toBeGreaterThan(6);
    const count = (v: number): number => png.px.reduce((n, p) => n + (p === v ? 1 : 0), 0);
    expect(r.body.pixels).toEqual({ [stroma]: count(2), [lymph]: count(3) });
    expect(r.body.tiles).toBe(4); // (1000..1510) × (700..1210) touches tiles 1–2 × 1–2
    const classes = (await call<{ classes: Array<{ id: number; name: string }> }>(server.url, 'GET', '/api/classes')).body.classes;
    expect(classes).toContainEqual(expect.objectContaining({ id: stroma, name: 'mostly_stroma' }));
    const file = await exportTo(server.url, slide, 'histomicstk.tiff');
    const toCode = (id: number): number => (id === stroma ? 2 : id === lymph ? 3 : id === 0 ? 0 : 255);
    const [band] = (await (await (await fromFile(file)).getImage(0)).readRasters({ window: [1000, 700, 1511, 1211] })) as unknown as Uint8Array[];
    expect(same((band as Uint8Array).map(toCode), png.px)).toBe(true);
    if (HAS_OPENSLIDE) expect(same((await openslideGrey(file, 1000, 700, 0, 511, 511)).map(toCode), png.px)).toBe(true);
    // nothing outside the image was touched
    expect((await (await (await fromFile(file)).getImage(0)).readRasters({ window: [990, 690, 1000, 700] }))[0]).toEqual(new Uint8Array(100));
  });

  it('MoNuSeg: a 0/1 mask without a table is class id 1, and 0 leaves what was there', async () => {
    const slide = slides['generic-deflate-256.tif'] as string; // 1500 × 1100
    // paint class 2 under the mask first: 0 in the image must leave it
    const under = tile(() => 2);
    expect((await postTiles(server.url, slide, USER, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(under)) }] })).status).toBe(200);
    const png = await grey(MONUSEG);
    expect([png.w, png.h]).toEqual([1000, 1000]);
    const ones = png.px.reduce((n, p) => n + p, 0);
    const r = await postImport<ImportReport>(server.url, slide, USER, 'x=0&y=0', readFileSync(MONUSEG));
    expect(r.status).toBe(201);
    expect(r.body.pixels).toEqual({ '1': ones });
    expect(r.body.classesAdded).toEqual([]);
    const pack = await readPack(server.url, slide, USER);
    const raster = rasterOf(pack.tiles.map((t) => ({ tx: t.tx, ty: t.ty, px: inflate(t.data) })), 1500, 1100);
    const expected = new Uint8Array(1000 * 1000);
    for (let y = 0; y < 1000; y++) for (let x = 0; x < 1000; x++) expected[y * 1000 + x] = png.px[y * 1000 + x] === 1 ? 1 : x < 512 && y < 512 ? 2 : 0;
    expect(same(crop(raster, 1500, 0, 0, 1000, 1000), expected)).toBe(true);
    const h = await call<{ versions: Array<{ version: number }> }>(server.url, 'GET', `/api/slides/${slide}/masks/${USER}/tiles/0/0/history`);
    expect(h.body.versions.map((v) => v.version)).toEqual([1, 2]);
  });
});

describe('label image import', () => {
  const slideName = 'generic-lzw-predictor.tif'; // 700 × 500 px
  const slide = (): string => slides[slideName] as string;
  const path = (): string => `/api/slides/${slide()}/masks/${USER}`;
  const state = async (): Promise<string> =>
    (await readPack(server.url, slide(), USER)).raw.toString('base64') + JSON.stringify((await call(server.url, 'GET', '/api/classes')).body);

  it('places an image with an offset and a downsample (nearest neighbour), takes a JSON table, replays a retry', async () => {
    // a 6 × 5 image, each pixel 4 × 4 level-0 px at (10, 20); codes 0 (leave), 7 and 9
    const img = new Uint8Array(30).map((_, i) => [0, 7, 9][i % 3] as number);
    const table = encodeURIComponent(JSON.stringify({ '7': 'Seven', '9': { name: 'Tumour', color: '#ff0000' } }));
    const key = `import-${Date.now()}`;
    const body = pngBytes(6, 5, 1, img);
    const r = await postImport<ImportReport>(server.url, slide(), USER, `x=10&y=20&downsample=4&classes=${table}`, body, 'image/png', key);
    expect(r.status).toBe(201);
    const seven = r.body.classesAdded.find((c) => c.name === 'Seven');
    expect(seven?.color).toMatch(/^#[0-9a-f]{6}$/);
    expect(r.body.classesAdded.map((c) => c.name)).toEqual(['Seven']); // Tumour exists: id 1
    expect(r.body.pixels).toEqual({ '1': 10 * 16, [seven?.id as number]: 10 * 16 });
    const px = inflate((await readPack(server.url, slide(), USER)).tiles[0]?.data as Buffer);
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 34; x++) {
        const inside = x >= 10 && y >= 20;
        const code = inside ? (img[Math.floor((y - 20) / 4) * 6 + Math.floor((x - 10) / 4)] as number) : 0;
        expect(px[y * T + x], `(${x}, ${y})`).toBe(code === 7 ? seven?.id : code === 9 ? 1 : 0);
      }
    }
    const again = await postImport<ImportReport>(server.url, slide(), USER, `x=10&y=20&downsample=4&classes=${table}`, body, 'image/png', key);
    expect([again.status, again.body.replayed]).toEqual([200, true]);
    const moved = await postImport<Problem>(server.url, slide(), USER, `x=11&y=20&downsample=4&classes=${table}`, body, 'image/png', key);
    expect([moved.status, moved.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
  });

  it('cuts what falls past the slide and says so; takes an RGB image with equal channels and a TIFF', async () => {
    const r = await postImport<ImportReport>(server.url, slide(), USER, 'x=690&y=490', pngBytes(20, 20, 1, new Uint8Array(400).fill(3)));
    expect(r.status).toBe(201);
    expect(r.body.pixels).toEqual({ '3': 100 });
    expect(r.body.warnings.join(' ')).toMatch(/right edge.*cut/);
    expect(r.body.warnings.join(' ')).toMatch(/bottom edge.*cut/);
    const corner = (await readPack(server.url, slide(), USER, '690,490,700,500')).tiles;
    const px = inflate(corner[0]?.data as Buffer);
    expect([px[(490 - 0) * T + 690 - 512], px[499 * T + 699 - 512], px[499 * T + 700 - 512]]).toEqual([3, 3, 0]);
    const rgb = await postImport<ImportReport>(server.url, slide(), USER, 'x=100&y=100', pngBytes(2, 2, 3, new Uint8Array(12).fill(4)));
    expect([rgb.status, rgb.body.pixels]).toEqual([201, { '4': 4 }]);
    expect(rgb.body.warnings.join(' ')).toMatch(/RGB/);
    const tif = await sharp(new Uint8Array(16).fill(5), { raw: { width: 4, height: 4, channels: 1 } }).toColourspace('b-w').tiff({ compression: 'lzw' }).toBuffer();
    const t = await postImport<ImportReport>(server.url, slide(), USER, 'x=200&y=100', tif, 'image/tiff');
    expect([t.status, t.body.pixels]).toEqual([201, { '5': 16 }]);
    // a form whose class table is a plain field
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(pngBytes(3, 1, 1, new Uint8Array([0, 40, 40])))], { type: 'image/png' }), 'l.png');
    form.append('classes', '{"40": "Necrosis"}');
    const f = await postImport<ImportReport>(server.url, slide(), USER, 'x=300&y=100', form);
    expect([f.status, f.body.pixels, f.body.classesAdded]).toEqual([201, { '3': 2 }, []]);
  });

  const good = pngBytes(4, 4, 1, new Uint8Array(16).fill(2));
  const png = good.subarray(0, good.length - 20);
  it.each([
    ['a truncated PNG', 'x=0&y=0', png, 'image/png', 422, 'IMPORT_INVALID', /could not be decoded/],
    ['a text body', 'x=0&y=0', Buffer.from('hello, not an image'), 'image/png', 422, 'IMPORT_INVALID', /unsupported image format/],
    ['an RGB image with different channels', 'x=0&y=0', pngBytes(2, 1, 3, new Uint8Array([1, 1, 1, 1, 2, 1])), 'image/png', 400, 'INVALID_MASK', /channels differ at pixel \(1, 0\)/],
    ['x beyond the slide', 'x=700&y=0', good, 'image/png', 400, 'BAD_REQUEST', /outside the slide/],
    ['a negative y', 'x=0&y=-5', good, 'image/png', 400, 'BAD_REQUEST', /y must be an integer/],
    ['a fractional downsample', 'downsample=1.5', good, 'image/png', 400, 'BAD_REQUEST', /downsample/],
    ['downsample 0', 'downsample=0', good, 'image/png', 400, 'BAD_REQUEST', /downsample/],
    ['a value that is not a class id', 'x=0', pngBytes(2, 2, 1, new Uint8Array([0, 1, 2, 77])), 'image/png', 400, 'INVALID_MASK', /value 77/],
    ['a code the table does not name', `classes=${encodeURIComponent('{"2":"Stroma"}')}`, pngBytes(2, 2, 1, new Uint8Array([2, 2, 3, 0])), 'image/png', 400, 'INVALID_MASK', /code 3/],
    ['a malformed JSON table', `classes=${encodeURIComponent('{"2": "Stroma",}')}`, good, 'image/png', 400, 'BAD_REQUEST', /not valid JSON/],
    ['a CSV row with too few fields', `classes=${encodeURIComponent('group,overlay_order,GT_code,is_roi,is_background_class,color,comments\nmostly_stroma,2,2,0,1,"rgb(255,125,0)",\nbad,1,3\n')}`, good, 'image/png', 400, 'BAD_REQUEST', /line 3/],
    ['a CSV colour that is not one', `classes=${encodeURIComponent('group,GT_code,color\nmostly_stroma,2,"rgb(300,0,0)"\n')}`, good, 'image/png', 400, 'BAD_REQUEST', /line 2, color/],
    // decompression bombs (issue 10 finding 3): refused by the size in the header, before any decoding
    ['a PNG claiming 20,000² pixels', 'x=0', pngBytes(20_000, 20_000, 1, null, new Uint8Array(10)), 'image/png', 413, 'IMAGE_TOO_LARGE', /20000 × 20000 pixels.*MASK_IMPORT_MAX_PIXELS/],
    ['a TIFF claiming 20,000² pixels', 'x=0', zeroTiff(20_000, 20_000, Buffer.alloc(10)), 'image/tiff', 413, 'IMAGE_TOO_LARGE', /20000 × 20000 pixels/],
    ['an image over 400 megapixels', 'x=0', pngBytes(30_000, 30_000, 1, null, new Uint8Array(10)), 'image/png', 413, 'IMAGE_TOO_LARGE', /megapixels/],
    ['a JPEG', 'x=0', null, 'image/png', 422, 'IMPORT_INVALID', /jpeg.*PNG or TIFF/],
    ['a body that is not an image type', 'x=0', good, 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE', /image\/png/],
  ])('refuses %s, writing nothing', async (_n, query, body, type, status, code, message) => {
    const before = await state();
    const bytes = body ?? (await sharp(new Uint8Array(48).fill(1), { raw: { width: 4, height: 4, channels: 3 } }).jpeg().toBuffer());
    const r = await postImport<Problem>(server.url, slide(), USER, query, bytes, type);
    expect([r.status, r.body.code]).toEqual([status, code]);
    expect(r.body.message).toMatch(message);
    if (/line 3/.test(String(message))) expect(r.body.detail).toMatchObject({ line: 3 });
    if (/20000 × 20000/.test(String(message))) expect(r.body.detail).toEqual({ width: 20_000, height: 20_000, limit: 100_000_000 });
    expect(await state()).toBe(before);
  });

  it("refuses another annotator's mask, a missing key, a form without an image, and an unknown slide", async () => {
    const before = await state();
    const other = await postImport<Problem>(server.url, slide(), 'someone.else', 'x=0', good);
    expect([other.status, other.body.code]).toEqual([403, 'FORBIDDEN']);
    const nokey = await postImport<Problem>(server.url, slide(), USER, 'x=0', good, 'image/png', null);
    expect([nokey.status, nokey.body.code]).toEqual([400, 'OPERATION_ID_REQUIRED']);
    const form = new FormData();
    form.append('classes', '{"2":"Stroma"}');
    const noimg = await postImport<Problem>(server.url, slide(), USER, 'x=0', form);
    expect([noimg.status, noimg.body.code, noimg.body.message]).toEqual([400, 'BAD_REQUEST', expect.stringMatching(/no part "image"/)]);
    const nope = await postImport<Problem>(server.url, '0123456789abcdef01234567', USER, 'x=0', good);
    expect([nope.status, nope.body.code]).toEqual([404, 'SLIDE_NOT_FOUND']);
    expect(await state()).toBe(before);
    expect((await call(server.url, 'GET', `${path()}/summary`)).status).toBe(200);
  });
});
