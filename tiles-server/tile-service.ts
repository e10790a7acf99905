/**
 * Slide pixels for the HTTP routes: DZI and IIIF geometry, the encoded tile
 * cache, the render-concurrency bound, and passthrough where the request
 * lines up with a stored tile. Knows nothing about HTTP itself.
 */
import { LRUCache } from 'lru-cache';
import { WsiError } from '../src/core/errors.js';
import { dziLevelSize, dziMaxLevel, exactPowerOfTwo, iiifScaleFactors, inGrid, makeGrid, tileRect, type Rect } from '../src/core/tile-grid.js';
import { parseQualityFormat, parseRegion, parseRotation, parseSize, type SizeLimits } from './iiif/params.js';
import { renderLevelRect, renderRegion, type EncodeOptions, type Rendered, type RenderLimits } from './render/region.js';
import type { OpenSlide, SlideRegistry } from './slides/registry.js';
import type { SlideMeta } from './slides/types.js';

export interface TileServiceOptions {
  tileCacheBytes: number;
  jpegQuality: number;
  render: RenderLimits;
  iiif: SizeLimits;
  /** Renders (not passthroughs) running at once; more wait in a queue. */
  maxConcurrentRenders: number;
  /** Renders allowed to wait; beyond that requests get 503. */
  maxQueuedRenders: number;
}

export interface TileResult {
  bytes: Buffer;
  contentType: string;
  etag: string;
  passthrough: boolean;
}

const CONTENT_TYPES = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const;

/** DZI tile size: the stored tile size when level 0 is tiled in sensible squares, else 256. */
export function dziTileSize(meta: SlideMeta): number {
  const l0 = meta.levels[0];
  if (l0 && l0.tiled && l0.tileWidth === l0.tileHeight && l0.tileWidth >= 64 && l0.tileWidth <= 2048) return l0.tileWidth;
  return 256;
}

/** Stored level that is exactly level 0 / 2^k, if any (orientation 1 only). */
function exactLevel(meta: SlideMeta, k: number): number {
  if (meta.orientation !== 1) return -1;
  const base = meta.levels[0];
  if (!base) return -1;
  return meta.levels.findIndex((l) => exactPowerOfTwo(base, l) === k);
}

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) throw new WsiError('OVERLOADED', 'too many tiles are being rendered; retry shortly');
      await new Promise<void>((resolve, reject) => {
        const go = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const i = this.waiting.indexOf(go);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(go);
      });
    }
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export interface TileStats {
  served: number;
  passthrough: number;
  rendered: number;
  cacheHits: number;
  /** Renders abandoned because the client went away. */
  aborted: number;
}

export class TileService {
  private readonly cache: LRUCache<string, TileResult>;
  private readonly renders: Semaphore;
  readonly stats: TileStats = { served: 0, passthrough: 0, rendered: 0, cacheHits: 0, aborted: 0 };

  constructor(
    readonly registry: SlideRegistry,
    private readonly opts: TileServiceOptions,
  ) {
    this.cache = new LRUCache<string, TileResult>({
      maxSize: Math.max(1, opts.tileCacheBytes),
      sizeCalculation: (t) => Math.max(1, t.bytes.byteLength + 128),
    });
    this.renders = new Semaphore(opts.maxConcurrentRenders, opts.maxQueuedRenders);
  }

  private encode(format: EncodeOptions['format'], quality: EncodeOptions['quality'] = 'default'): EncodeOptions {
    return { format, quality, jpegQuality: this.opts.jpegQuality };
  }

  /** Returns a cached result or renders, caches and returns it. */
  private async cached(slide: OpenSlide, key: string, format: EncodeOptions['format'], render: () => Promise<Rendered>, signal?: AbortSignal): Promise<TileResult> {
    const cacheKey = `${slide.entry.id}@${slide.version}|${key}`;
    const hit = this.cache.get(cacheKey);
    this.stats.served++;
    if (hit) {
      this.stats.cacheHits++;
      return hit;
    }
    let rendered: Rendered;
    try {
      rendered = await render();
      signal?.throwIfAborted();
    } catch (err) {
      if (signal?.aborted) this.stats.aborted++;
      throw err;
    }
    if (rendered.passthrough) this.stats.passthrough++;
    else this.stats.rendered++;
    const result: TileResult = {
      bytes: rendered.bytes,
      contentType: CONTENT_TYPES[format],
      etag: `"${slide.version}.${key.replace(/[^A-Za-z0-9_.,:^!-]/g, '_')}"`,
      passthrough: rendered.passthrough,
    };
    this.cache.set(cacheKey, result);
    return result;
  }

  private limited(fn: () => Promise<Rendered>, signal?: AbortSignal): Promise<Rendered> {
    return this.renders.run(fn, signal);
  }

  async slide(id: string): Promise<OpenSlide> {
    return this.registry.get(id);
  }

  async dziDescriptor(id: string): Promise<string> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    return (
      `<?xml version="1.0" encoding="UTF-8"?>\n` +
      `<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpeg" Overlap="0" TileSize="${dziTileSize(s.meta)}">` +
      `<Size Width="${width}" Height="${height}"/></Image>\n`
    );
  }

  async dziTile(id: string, level: number, col: number, row: number, signal?: AbortSignal): Promise<TileResult> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    const maxLevel = dziMaxLevel(width, height);
    if (!Number.isSafeInteger(level) || level < 0 || level > maxLevel) throw new WsiError('TILE_OUT_OF_RANGE', `DZI level ${level} does not exist (0..${maxLevel})`);
    const ts = dziTileSize(s.meta);
    const size = dziLevelSize(width, height, level);
    const grid = makeGrid(size.width, size.height, ts);
    if (!inGrid(grid, col, row)) throw new WsiError('TILE_OUT_OF_RANGE', `tile ${col}_${row} is outside DZI level ${level} (${grid.cols}x${grid.rows} tiles)`);
    const rect = tileRect(grid, col, row);
    const k = maxLevel - level;
    const ds = 2 ** k;
    const enc = this.encode('jpeg');
    return this.cached(
      s,
      `dzi/${level}/${col}_${row}`,
      'jpeg',
      async () => {
        const stored = exactLevel(s.meta, k);
        if (stored >= 0) {
          const info = s.meta.levels[stored] as SlideMeta['levels'][number];
          const lrect: Rect = {
            x: rect.x,
            y: rect.y,
            width: Math.max(1, Math.min(rect.width, info.width - rect.x)),
            height: Math.max(1, Math.min(rect.height, info.height - rect.y)),
          };
          if (lrect.x < info.width && lrect.y < info.height) {
            // fast path: a stored tile that lines up goes out untouched, outside the render queue
            if (lrect.width === info.tileWidth && lrect.height === info.tileHeight && rect.width === lrect.width && rect.height === lrect.height) {
              const bytes = await s.reader.slide.passthroughTile(stored, lrect.x / info.tileWidth, lrect.y / info.tileHeight, signal);
              if (bytes) return { bytes, passthrough: true };
            }
            return this.limited(() => renderLevelRect(s.reader, stored, lrect, rect.width, rect.height, enc, this.opts.render, signal), signal);
          }
        }
        const rectL0: Rect = {
          x: rect.x * ds,
          y: rect.y * ds,
          width: Math.min(width - rect.x * ds, rect.width * ds),
          height: Math.min(height - rect.y * ds, rect.height * ds),
        };
        return this.limited(() => renderRegion(s.reader, rectL0, rect.width, rect.height, enc, this.opts.render, signal), signal);
      },
      signal,
    );
  }

  async iiifInfo(id: string, baseUrl: string): Promise<Record<string, unknown>> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    const ts = dziTileSize(s.meta);
    const factors = iiifScaleFactors(width, height, ts);
    const lim = this.opts.iiif;
    const sizes = factors
      .map((f) => ({ width: Math.ceil(width / f), height: Math.ceil(height / f) }))
      .filter((sz) => sz.width <= lim.maxWidth && sz.height <= lim.maxHeight && sz.width * sz.height <= lim.maxArea)
      .reverse();
    return {
      '@context': 'http://iiif.io/api/image/3/context.json',
      id: `${baseUrl}/iiif/${id}`,
      type: 'ImageService3',
      protocol: 'http://iiif.io/api/image',
      profile: 'level1',
      width,
      height,
      maxWidth: lim.maxWidth,
      maxHeight: lim.maxHeight,
      maxArea: lim.maxArea,
      sizes,
      tiles: [{ width: ts, height: ts, scaleFactors: factors }],
      extraQualities: ['color', 'gray', 'bitonal'],
      extraFormats: ['png', 'webp'],
      extraFeatures: ['regionByPct', 'regionSquare', 'sizeByConfinedWh', 'sizeByPct', 'sizeByWh', 'sizeUpscaling', 'cors', 'jsonldMediaType'],
    };
  }

  async iiifImage(id: string, region: string, size: string, rotation: string, qualityFormat: string, signal?: AbortSignal): Promise<TileResult> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    const r = parseRegion(region, width, height);
    const out = parseSize(size, r.width, r.height, this.opts.iiif);
    parseRotation(rotation);
    const { quality, format } = parseQualityFormat(qualityFormat);
    const enc = this.encode(format, quality);
    const key = `iiif/${r.x},${r.y},${r.width},${r.height}/${out.width},${out.height}/${quality}.${format}`;
    return this.cached(
      s,
      key,
      format,
      async () => {
        // a request that is a power-of-two reduction of a stored level, on its grid
        const k = Math.round(Math.log2(r.width / out.width));
        const f = 2 ** k;
        if (k >= 0 && r.x % f === 0 && r.y % f === 0 && out.width === Math.ceil(r.width / f) && out.height === Math.ceil(r.height / f)) {
          const stored = exactLevel(s.meta, k);
          const info = s.meta.levels[stored];
          if (info) {
            const lrect: Rect = { x: r.x / f, y: r.y / f, width: out.width, height: out.height };
            lrect.width = Math.max(1, Math.min(lrect.width, info.width - lrect.x));
            lrect.height = Math.max(1, Math.min(lrect.height, info.height - lrect.y));
            if (lrect.x < info.width && lrect.y < info.height) {
              return this.limited(() => renderLevelRect(s.reader, stored, lrect, out.width, out.height, enc, this.opts.render, signal), signal);
            }
          }
        }
        return this.limited(() => renderRegion(s.reader, r, out.width, out.height, enc, this.opts.render, signal), signal);
      },
      signal,
    );
  }

  async thumbnail(id: string, maxSize: number, signal?: AbortSignal): Promise<TileResult> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    const scale = Math.min(1, maxSize / Math.max(width, height));
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    const enc = this.encode('jpeg');
    return this.cached(
      s,
      `thumb/${maxSize}`,
      'jpeg',
      () => this.limited(() => renderRegion(s.reader, { x: 0, y: 0, width, height }, w, h, enc, this.opts.render, signal), signal),
      signal,
    );
  }

  get cacheStats(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize };
  }
}
