/**
 * Slide pixels for the HTTP routes: turns DZI tiles, IIIF regions and
 * thumbnails into level-0 region requests, runs them through the one render
 * plan (render/plan.ts), keeps the encoded-tile cache and bounds concurrent
 * renders; stored tiles sent as they are skip the render queue. Range-checks
 * DZI coordinates. Knows nothing about HTTP itself.
 */
import { LRUCache } from 'lru-cache';
import { WsiError } from '../src/core/errors.js';
import { dziLevelSize, dziMaxLevel, iiifScaleFactors, inGrid, makeGrid, tileRect, type Rect } from '../src/core/tile-grid.js';
import { slideManifest } from './iiif/manifest.js';
import { parseQualityFormat, parseRegion, parseRotation, parseSize, type SizeLimits } from './iiif/params.js';
import { Lane, type LagGuard } from './admission.js';
import { channelsKey, parseChannels } from './render/channels.js';
import { planRender, type ComposePlan, type RegionRequest } from './render/plan.js';
import { renderComposed, type EncodeOptions, type Rendered, type RenderLimits } from './render/region.js';
import type { OpenSlide, SlideRegistry } from './slides/registry.js';
import type { SlideMeta } from './slides/types.js';

export interface TileServiceOptions {
  tileCacheBytes: number;
  jpegQuality: number;
  render: RenderLimits;
  iiif: SizeLimits;
  /** Lane of small renders (viewer tiles). */
  tiles: { concurrency: number; maxQueued: number };
  /** Lane of large renders (big IIIF regions, thumbnails of unpyramided slides). */
  heavy: { concurrency: number; maxQueued: number; tileConcurrency: number };
  /** A render reading more source pixels, or producing more output pixels, than these is large. */
  heavyThreshold: { sourcePixels: number; outputPixels: number };
  /** Sheds tile requests while the event loop is saturated (null: never). */
  lagGuard: LagGuard | null;
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
  readonly lanes: { tiles: Lane; heavy: Lane };
  readonly stats: TileStats = { served: 0, passthrough: 0, rendered: 0, cacheHits: 0, aborted: 0 };

  constructor(
    readonly registry: SlideRegistry,
    private readonly opts: TileServiceOptions,
  ) {
    this.cache = new LRUCache<string, TileResult>({
      maxSize: Math.max(1, opts.tileCacheBytes),
      sizeCalculation: (t) => Math.max(1, t.bytes.byteLength + 128),
    });
    this.lanes = {
      tiles: new Lane({ name: 'tiles', ...opts.tiles, priority: 'interactive', busyMessage: 'too many tiles are being rendered' }),
      heavy: new Lane({ name: 'large-renders', concurrency: opts.heavy.concurrency, maxQueued: opts.heavy.maxQueued, priority: 'background', busyMessage: 'too many large images are being rendered' }),
    };
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
    this.opts.lagGuard?.admit();
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

  private isHeavy(plan: ComposePlan): boolean {
    const t = this.opts.heavyThreshold;
    return plan.rect.width * plan.rect.height > t.sourcePixels || plan.outWidth * plan.outHeight > t.outputPixels;
  }

  /**
   * Answers a region request: a stored tile as it is when the plan says so;
   * else a render in the lane its size calls for.
   */
  private async answer(s: OpenSlide, req: RegionRequest, signal?: AbortSignal): Promise<Rendered> {
    const plan = planRender(s.meta, req, this.opts.render.maxSourcePixels);
    if (plan.kind === 'stored') {
      const bytes = await s.reader.slide.storedJpeg(plan.level, plan.col, plan.row, signal);
      if (bytes) return { bytes, passthrough: true };
    }
    const compose = plan.kind === 'stored' ? plan.fallback : plan;
    const heavy = this.isHeavy(compose);
    const lane = heavy ? this.lanes.heavy : this.lanes.tiles;
    const limits = heavy ? { ...this.opts.render, tileConcurrency: this.opts.heavy.tileConcurrency } : this.opts.render;
    return lane.run(async () => ({ bytes: await renderComposed(s.reader, compose, req.enc, limits, signal), passthrough: false }), signal);
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

  /** `channels` is the raw query parameter (render/channels.ts), here and in iiifImage and thumbnail. */
  async dziTile(id: string, level: number, col: number, row: number, signal?: AbortSignal, channelsParam?: string | null): Promise<TileResult> {
    const s = await this.slide(id);
    const channels = parseChannels(channelsParam, s.meta);
    const { width, height } = s.meta;
    const maxLevel = dziMaxLevel(width, height);
    if (!Number.isSafeInteger(level) || level < 0 || level > maxLevel) throw new WsiError('TILE_OUT_OF_RANGE', `DZI level ${level} does not exist (0..${maxLevel})`);
    const ts = dziTileSize(s.meta);
    const size = dziLevelSize(width, height, level);
    const grid = makeGrid(size.width, size.height, ts);
    if (!inGrid(grid, col, row)) throw new WsiError('TILE_OUT_OF_RANGE', `tile ${col}_${row} is outside DZI level ${level} (${grid.cols}x${grid.rows} tiles)`);
    const rect = tileRect(grid, col, row);
    const ds = 2 ** (maxLevel - level);
    const rectL0: Rect = {
      x: rect.x * ds,
      y: rect.y * ds,
      width: Math.min(width - rect.x * ds, rect.width * ds),
      height: Math.min(height - rect.y * ds, rect.height * ds),
    };
    const req: RegionRequest = { rect: rectL0, outWidth: rect.width, outHeight: rect.height, enc: this.encode('jpeg'), ...(channels ? { channels } : {}) };
    return this.cached(s, `dzi/${level}/${col}_${row}${channelsKey(channels)}`, 'jpeg', () => this.answer(s, req, signal), signal);
  }

  /** `publicId` is the id clients use in URLs (a project slide's id), `id` the slide's in the folder. */
  async iiifInfo(id: string, baseUrl: string, publicId = id): Promise<Record<string, unknown>> {
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
      id: `${baseUrl}/iiif/${publicId}`,
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

  /** A IIIF Presentation 3 manifest: one canvas painted by this slide's image service. */
  async iiifManifest(id: string, baseUrl: string, publicId = id): Promise<Record<string, unknown>> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    return slideManifest({ base: baseUrl, id: publicId, width, height, maxSize: parseSize('max', width, height, this.opts.iiif) });
  }

  async iiifImage(id: string, region: string, size: string, rotation: string, qualityFormat: string, signal?: AbortSignal, channelsParam?: string | null): Promise<TileResult> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    const channels = parseChannels(channelsParam, s.meta);
    const r = parseRegion(region, width, height);
    const out = parseSize(size, r.width, r.height, this.opts.iiif);
    parseRotation(rotation);
    const { quality, format } = parseQualityFormat(qualityFormat);
    const key = `iiif/${r.x},${r.y},${r.width},${r.height}/${out.width},${out.height}/${quality}.${format}${channelsKey(channels)}`;
    const req: RegionRequest = { rect: r, outWidth: out.width, outHeight: out.height, enc: this.encode(format, quality), ...(channels ? { channels } : {}) };
    return this.cached(s, key, format, () => this.answer(s, req, signal), signal);
  }

  async thumbnail(id: string, maxSize: number, signal?: AbortSignal, channelsParam?: string | null): Promise<TileResult> {
    const s = await this.slide(id);
    const { width, height } = s.meta;
    const channels = parseChannels(channelsParam, s.meta);
    const scale = Math.min(1, maxSize / Math.max(width, height));
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    const req: RegionRequest = { rect: { x: 0, y: 0, width, height }, outWidth: w, outHeight: h, enc: this.encode('jpeg'), ...(channels ? { channels } : {}) };
    return this.cached(s, `thumb/${maxSize}${channelsKey(channels)}`, 'jpeg', () => this.answer(s, req, signal), signal);
  }

  get cacheStats(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize };
  }
}
