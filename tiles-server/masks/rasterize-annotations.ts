/**
 * Regions of interest and imported polygons into an annotator's mask, as
 * QuPath's labelled-image export does it: every chosen annotation with a
 * polygon outline is painted with its class's mask id, in a fixed order —
 * larger area first, so a small region inside a large one stays visible;
 * equal areas in creation order — each later one over the earlier ones,
 * with the rasterizer's pixel-centre, even-odd rule (docs/rasterization.md).
 * Where no polygon falls the mask keeps what it had. Tiles are painted one at
 * a time (rasterizeIntoEncodedTiles, src/core/mask/rasterize-tiles.ts), in bands of tile rows with the
 * event loop let through between bands, and committed in one transaction.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import type { Annotation } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { flatArea, flatten, forEachRing } from '../../src/core/flat-geometry.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { rasterizeIntoEncodedTiles, type PaintPolygon } from '../../src/core/mask/rasterize-tiles.js';
import { decodeTileInto, EMPTY_TILE, encodeTile, tileCounts, tilesEqual, type EncodedTile } from '../../src/core/mask/rle.js';
import type { AnnotationStore } from '../store/annotation-store.js';
import { operationHash, type MaskStore, type OperationResult } from '../store/mask-store.js';
import { countsJson } from './tile-codec.js';

export interface RasterizeRequest {
  /** Annotation ids to paint; absent: every polygon annotation of the slide with one of `objectTypes`. */
  annotations?: string[];
  /** Default ['annotation'] (regions of interest, not detections). */
  objectTypes?: string[];
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
  return out;
}

interface Chosen {
  polygon: PaintPolygon;
  area: number;
  order: number;
}

/** The annotations to paint, in paint order, and what was skipped and why. */
function choose(annotations: Iterable<Annotation>, classId: (name: string) => number | null): { chosen: Chosen[]; skipped: Array<{ id: string; reason: string }> } {
  const chosen: Chosen[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  let order = 0;
  for (const a of annotations) {
    order++;
    if (a.geometry.type !== 'Polygon' && a.geometry.type !== 'MultiPolygon') {
      skipped.push({ id: a.id, reason: `a ${a.geometry.type} has no area` });
      continue;
    }
    const id = a.classification === null ? null : classId(a.classification);
    if (id === null) {
      skipped.push({ id: a.id, reason: a.classification === null ? 'it has no class' : `class "${a.classification}" has no mask id` });
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

export async function rasterizeAnnotations(
  masks: MaskStore,
  annotations: AnnotationStore,
  slide: { id: string; width: number; height: number },
  annotator: string,
  author: string,
  opId: string,
  req: RasterizeRequest,
  signal?: AbortSignal,
): Promise<OperationResult> {
  const hash = operationHash(['mask-rasterize', slide.id, annotator, JSON.stringify(req)]);
  const prior = masks.prior(opId, slide.id, hash);
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
    }
  }
  const { chosen, skipped } = choose(source, (name) => annotations.classIdOf(name));
  const polygons = chosen.map((c) => c.polygon);
  // paint off the transaction, band by band, noting the version each tile had
  type Planned = { tx: number; ty: number; base: number; data: Buffer; pixels: string };
  const planned: Planned[] = [];
  const bandHeight = 8 * MASK_TILE;
  const dense = new Uint8Array(MASK_TILE_PIXELS);
  let loaded: EncodedTile = EMPTY_TILE;
  let pixels = 0;
  for (let y = 0; y < slide.height && polygons.length > 0; y += bandHeight) {
    signal?.throwIfAborted();
    const r = rasterizeIntoEncodedTiles(polygons, { x0: 0, y0: y, x1: slide.width, y1: Math.min(slide.height, y + bandHeight) }, {
      load: (tx, ty) => {
        const head = masks.head(slide.id, annotator, tx, ty);
        loaded = head ? encodeTile(inflateSync(head.data, { maxOutputLength: MASK_TILE_PIXELS })) : EMPTY_TILE;
        return head ? loaded : null;
      },
      done: (tx, ty, tile) => {
        // a tile only a bounding box reached keeps its content: no new version
        if (tilesEqual(tile, loaded)) return;
        const base = masks.head(slide.id, annotator, tx, ty)?.version ?? 0;
        planned.push({ tx, ty, base, data: deflateSync(decodeTileInto(tile, dense)), pixels: countsJson(tileCounts(tile)) });
      },
    });
    pixels += r.pixels;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return masks.runOperation(opId, slide.id, hash, 201, (at) => {
    let tiles = 0;
    for (const p of planned) {
      const now = masks.head(slide.id, annotator, p.tx, p.ty)?.version ?? 0;
      if (now !== p.base) {
        throw new WsiError('PRECONDITION_FAILED', `tile (${p.tx}, ${p.ty}) changed while the annotations were painted into it; nothing was written, try again`);
      }
      masks.writeTile(slide.id, annotator, { tx: p.tx, ty: p.ty, ifMatch: null, data: p.data, pixels: p.pixels }, tiles, 'import', author, at, opId);
      tiles++;
    }
    return { painted: chosen.length, tiles, pixels, skipped, order: 'largest area first, then creation order; later over earlier' };
  });
}
