/**
 * Regions of interest and imported polygons into an annotator's mask, as
 * QuPath's labelled-image export does it: every chosen annotation with a
 * polygon outline is painted with its class's mask id, in a fixed order —
 * larger area first, so a small region inside a large one stays visible;
 * equal areas in creation order — each later one over the earlier ones,
 * with the rasterizer's pixel-centre, even-odd rule (docs/rasterization.md).
 * Where no polygon falls the mask keeps what it had. The polygons are
 * indexed once; tiles are painted band by band (two tile rows), each tile
 * encoded straight from its spans (rasterizeIntoEncodedTiles,
 * src/core/mask/rasterize-tiles.ts), with zlib on the thread pool, so the
 * event loop keeps serving tiles meanwhile. Only tiles whose pixels change
 * are written, all in one transaction.
 *
 * `keepPainted` paints only unlabelled pixels (0), so hand-painted strokes
 * inside the regions survive; `dryRun` paints nothing and answers what a
 * run would do — regions, tiles, new pixels, and the painted pixels per
 * class it would overwrite — for the client's confirmation.
 */
import type { Annotation } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { flatArea, flatten, forEachRing } from '../../src/core/flat-geometry.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { PolygonIndex, rasterizeIntoEncodedTiles, type PaintPolygon } from '../../src/core/mask/rasterize-tiles.js';
import { decodeTileInto, EMPTY_TILE, encodeTile, tileCounts, tilesEqual, type EncodedTile } from '../../src/core/mask/rle.js';
import type { AnnotationStore } from '../store/annotation-store.js';
import { encodeVersionAsync } from '../store/mask-history.js';
import { operationHash, type MaskStore, type OperationResult, type TileWrite } from '../store/mask-store.js';
import { countsJson, deflateTile, inflateTile } from './tile-codec.js';

export interface RasterizeRequest {
  /** Annotation ids to paint; absent: every polygon annotation of the slide with one of `objectTypes`. */
  annotations?: string[];
  /** Default ['annotation'] (regions of interest, not detections). */
  objectTypes?: string[];
  /** Paint only pixels that are unlabelled (0): painted pixels keep their class. */
  keepPainted?: boolean;
  /** Write nothing; answer what a run would change (see RasterizePreview). */
  dryRun?: boolean;
}

/** What painting the regions would change (the `dryRun` answer, also part of a run's answer). */
export interface RasterizePreview {
  /** Regions that would be painted. */
  painted: number;
  /** Tiles whose pixels would change (with keepPainted as asked). */
  tiles: number;
  /** Unlabelled pixels that would get a class. */
  newPixels: number;
  /** Painted pixels inside the regions whose class differs from the region's, per class id: what painting over them would overwrite. */
  overwrite: Record<string, number>;
  /** Their sum. */
  overwritePixels: number;
  /** Tiles holding such pixels. */
  overwriteTiles: number;
}

export function parseRasterizeRequest(body: unknown): RasterizeRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw new WsiError('BAD_REQUEST', 'send a JSON object: {annotations?: [ids], objectTypes?: [names]}');
  const out: RasterizeRequest = {};
  if (b['annotations'] !== undefined) {
    const a = b['annotations'];
    if (!Array.isArray(a) || a.length === 0 || a.length > 1_000_000 || a.some((x) => typeof x !== 'string')) throw new WsiError('BAD_REQUEST', 'annotations must be a non-empty list of annotation ids');
    out.annotations = a as string[];
  }
  if (b['objectTypes'] !== undefined) {
    const t = b['objectTypes'];
    if (!Array.isArray(t) || t.length === 0 || t.some((x) => typeof x !== 'string')) throw new WsiError('BAD_REQUEST', 'objectTypes must be a non-empty list of names');
    out.objectTypes = t as string[];
  }
  for (const flag of ['keepPainted', 'dryRun'] as const) {
    const v = b[flag];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new WsiError('BAD_REQUEST', `${flag} must be true or false`);
    if (v) out[flag] = true;
  }
  return out;
}

interface Chosen {
  polygon: PaintPolygon;
  area: number;
  order: number;
}

/** The annotations to paint, in paint order, and what was skipped and why (letting the event loop through now and then). */
async function choose(annotations: Annotation[], classId: (name: string) => number | null, signal?: AbortSignal): Promise<{ chosen: Chosen[]; skipped: Array<{ id: string; reason: string }> }> {
  const chosen: Chosen[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  let order = 0;
  for (const a of annotations) {
    order++;
    if (order % 2000 === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
    }
    if (a.geometry.type !== 'Polygon' && a.geometry.type !== 'MultiPolygon') {
      skipped.push({ id: a.id, reason: `a ${a.geometry.type} has no area` });
      continue;
    }
    const id = a.classification === null ? null : classId(a.classification);
    if (id === null) {
      skipped.push({ id: a.id, reason: a.classification === null ? 'it has no class' : `class "${a.classification}" is not in this project's palette` });
      continue;
    }
    const f = flatten(a.geometry);
    const rings: Float64Array[] = [];
    forEachRing(f.type, f.parts, (start, count) => rings.push(f.coords.slice(start * 2, (start + count) * 2)));
    chosen.push({ polygon: { rings, value: id }, area: flatArea(f.coords, 0, f.type, f.parts), order });
  }
  chosen.sort((p, q) => q.area - p.area || p.order - q.order);
  return { chosen, skipped };
}

/** Compressions in flight at once (each on libuv's thread pool, with its own tile buffer). */
const ZLIB_PARALLEL = 4;

/** Runs `work` over `items`, at most ZLIB_PARALLEL at a time; `slot` is the worker's index. */
async function inParallel<T>(items: T[], work: (item: T, slot: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(ZLIB_PARALLEL, items.length) }, async (_, slot) => {
      while (next < items.length) await work(items[next++] as T, slot);
    }),
  );
}

export async function rasterizeAnnotations(
  masks: MaskStore,
  annotations: AnnotationStore,
  slide: { id: string; width: number; height: number },
  annotator: string,
  author: string,
  opId: string,
  req: RasterizeRequest,
  signal?: AbortSignal,
  /** Runs inside the write's transaction (a review lock check). */
  guard?: () => void,
): Promise<OperationResult> {
  const hash = operationHash(['mask-rasterize', slide.id, annotator, JSON.stringify(req)]);
  const prior = req.dryRun ? null : masks.prior(opId, slide.id, hash);
  if (prior) return prior;
  let source: Annotation[];
  if (req.annotations) {
    source = req.annotations.map((id) => {
      const a = annotations.get(id);
      if (!a || a.deleted || annotations.slideOf(id) !== slide.id) throw new WsiError('ANNOTATION_NOT_FOUND', `no annotation ${id} on this slide; nothing was painted`);
      return a;
    });
  } else {
    const types = new Set(req.objectTypes ?? ['annotation']);
    source = [];
    for (let after = 0; ; ) {
      const page = annotations.list(slide.id, { after, limit: 5000 });
      for (const a of page.annotations) if (types.has(a.objectType)) source.push(a);
      if (page.next === null) break;
      after = page.next;
      await new Promise((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
    }
  }
  // only the classes of the slide's project palette are painted (a mask takes nothing else)
  const ids = new Map(annotations.palettes.ofSlide(slide.id).map((c) => [c.name, c.id]));
  const { chosen, skipped } = await choose(source, (name) => ids.get(name) ?? null, signal);
  const polygons = new PolygonIndex(chosen.map((c) => c.polygon));
  // paint off the transaction, band by band, noting the version each tile had; zlib runs on
  // the thread pool and a band is two tile rows, so tile requests are served meanwhile
  type Planned = { tx: number; ty: number; base: number; data: Buffer; pixels: string; history: NonNullable<TileWrite['history']> };
  const planned: Planned[] = [];
  const bandHeight = 2 * MASK_TILE;
  const buffers = Array.from({ length: ZLIB_PARALLEL }, () => new Uint8Array(MASK_TILE_PIXELS));
  const befores = Array.from({ length: ZLIB_PARALLEL }, () => new Uint8Array(MASK_TILE_PIXELS));
  let pixels = 0;
  const overwrite = new Map<number, number>();
  let newPixels = 0;
  let overwriteTiles = 0;
  let wouldWrite = 0;
  for (let y = 0; y < slide.height && chosen.length > 0; y += bandHeight) {
    signal?.throwIfAborted();
    const band = { x0: 0, y0: y, x1: slide.width, y1: Math.min(slide.height, y + bandHeight) };
    const heads = masks.tiles(slide.id, annotator, { tx0: 0, ty0: y / MASK_TILE, tx1: Math.ceil(slide.width / MASK_TILE) - 1, ty1: Math.ceil(band.y1 / MASK_TILE) - 1 });
    const current = new Map<string, { tile: EncodedTile; version: number }>();
    await inParallel(heads, async (h) => {
      current.set(`${h.tx},${h.ty}`, { tile: encodeTile(await inflateTile(h.data)), version: h.version });
    });
    const changed: Array<{ tx: number; ty: number; base: number; tile: EncodedTile }> = [];
    const r = rasterizeIntoEncodedTiles(polygons, band, {
      load: (tx, ty) => current.get(`${tx},${ty}`)?.tile ?? null,
      done: (tx, ty, tile) => {
        const was = current.get(`${tx},${ty}`);
        // a tile only a bounding box reached keeps its content: no new version
        if (tilesEqual(tile, was?.tile ?? EMPTY_TILE)) return;
        changed.push({ tx, ty, base: was?.version ?? 0, tile });
      },
    });
    await inParallel(changed, async (c, slot) => {
      const tile = decodeTileInto(c.tile, buffers[slot] as Uint8Array);
      const was = current.get(`${c.tx},${c.ty}`)?.tile;
      const before = was ? decodeTileInto(was, befores[slot] as Uint8Array) : null;
      // what painting over would do to this tile; with keepPainted, painted pixels keep their class
      let over = 0;
      let fresh = 0;
      for (let i = 0; i < tile.length; i++) {
        const b = before ? (before[i] as number) : 0;
        const a = tile[i] as number;
        if (a === b) continue;
        if (b === 0) fresh++;
        else {
          over++;
          overwrite.set(b, (overwrite.get(b) ?? 0) + 1);
          if (req.keepPainted) tile[i] = b;
        }
      }
      newPixels += fresh;
      if (over > 0) overwriteTiles++;
      const writes = req.keepPainted ? fresh > 0 : fresh + over > 0;
      if (!writes) return;
      if (req.dryRun) {
        wouldWrite++;
        return;
      }
      const data = await deflateTile(tile);
      const history = { base: c.base, stored: await encodeVersionAsync(c.base + 1, before, tile, data) };
      planned.push({ tx: c.tx, ty: c.ty, base: c.base, data, pixels: countsJson(tileCounts(req.keepPainted ? encodeTile(tile) : c.tile)), history });
    });
    pixels += r.pixels;
  }
  const preview: RasterizePreview = {
    painted: chosen.length,
    tiles: req.dryRun ? wouldWrite : planned.length,
    newPixels,
    overwrite: Object.fromEntries([...overwrite].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])),
    overwritePixels: [...overwrite.values()].reduce((a, b) => a + b, 0),
    overwriteTiles,
  };
  if (req.dryRun) return { status: 200, body: { dryRun: true, keepPainted: !!req.keepPainted, ...preview, skipped } };
  return masks.runOperation(opId, slide.id, hash, 201, (at) => {
    let tiles = 0;
    for (const p of planned) {
      const now = masks.head(slide.id, annotator, p.tx, p.ty)?.version ?? 0;
      if (now !== p.base) {
        throw new WsiError('PRECONDITION_FAILED', `tile (${p.tx}, ${p.ty}) changed while the annotations were painted into it; nothing was written, try again`);
      }
      masks.writeTile(slide.id, annotator, { tx: p.tx, ty: p.ty, ifMatch: null, data: p.data, pixels: p.pixels, history: p.history }, tiles, 'import', author, at, opId);
      tiles++;
    }
    return {
      painted: chosen.length,
      tiles,
      pixels,
      keepPainted: !!req.keepPainted,
      newPixels,
      overwritten: req.keepPainted ? {} : preview.overwrite,
      kept: req.keepPainted ? preview.overwrite : {},
      skipped,
      order: 'largest area first, then creation order; later over earlier',
    };
  }, guard);
}
