/**
 * What the workers answer, as types only: the one description of the
 * worker API that the workers implement and the sessions call through
 * comlink. Nothing here runs, so src/session may import it (with
 * `import type`) without depending on worker code; every call returns a
 * promise, as it does across the thread boundary.
 */
import type { PackedPage } from '../src/core/annotation-pages.js';
import type { ColumnarColumns } from '../src/core/columnar-pages.js';
import type { PixelBox } from '../src/core/mask/raster.js';
import type { EncodedTile } from '../src/core/mask/rle.js';

export interface TileIn {
  key: string;
  /** null: the tile does not exist yet (all unlabelled). */
  tile: EncodedTile | null;
}

/** Which changed tiles to colour for display right away, and how. */
export interface RenderRequest {
  lut: Uint32Array;
  outline: boolean;
  keys: string[];
}

export interface PaintJob {
  kind: 'stroke' | 'polygons' | 'flood';
  /** Class id to write (0 erases). */
  value: number;
  /** Current content of every tile the job may touch. */
  tiles: TileIn[];
  /** Level-0 pixels the job may change (the slide, or less). */
  bounds: PixelBox;
  stroke?: { path: Float64Array; radius: number };
  /** Polygons to fill, each a list of flat rings (even-odd within a polygon). */
  polygons?: Float64Array[][];
  /** Paint only inside the union of these polygons (ROIs). */
  clip?: Float64Array[][];
  /** Fill the 4-connected region of equal value around (x, y) inside `bounds`. */
  flood?: { x: number; y: number };
  /** Colour these changed tiles for display right away (the worker wrapper makes bitmaps of them). */
  render?: RenderRequest;
  /** Class ids whose pixels the job leaves as they are (classes locked in the Layers table). */
  protect?: number[];
}

export interface TileOut {
  key: string;
  tile: EncodedTile;
}

export interface PaintResult {
  /** Tiles whose content changed. */
  changed: TileOut[];
  /** Pixels written with a different value than they had. */
  pixels: number;
  /** Pixels the job would have changed but left alone, being of a protected class. */
  kept?: number;
  /** Why nothing was painted, when that is the outcome. */
  refused?: string;
}

export interface RenderedTile {
  key: string;
  bitmap: ImageBitmap;
}

export interface PackedTile {
  tx: number;
  ty: number;
  version: number;
  tile: EncodedTile;
}

/** workers/mask.worker.ts: mask edits, pyramid reductions, colouring and the tile wire format. */
export interface MaskWorkerApi {
  /** One edit; with `job.render`, also the bitmaps of the changed tiles asked for (saves a round trip). */
  paint(job: PaintJob, slide: PixelBox): Promise<PaintResult & { bitmaps?: RenderedTile[] }>;
  /** The tile one level up from four children (top-left, top-right, bottom-left, bottom-right; null = empty). */
  reduce(children: Array<EncodedTile | null>): Promise<EncodedTile>;
  render(tile: EncodedTile, lut: Uint32Array, outline: boolean): Promise<ImageBitmap>;
  /** Fetches and decodes a tile pack from the server (`headers`: the credential, for a portal's token). */
  readPack(url: string, headers: Record<string, string>): Promise<PackedTile[]>;
  /** zlib of the tile's 512 × 512 bytes, as the server stores it. */
  compress(tile: EncodedTile): Promise<Uint8Array>;
}

/** workers/annotation-loader.worker.ts: fetches a page of annotations and packs it. */
export interface AnnotationLoaderApi {
  /** `headers`: the credential, for a portal's token (the cookie goes by itself on the same origin). */
  load(url: string, headers: Record<string, string>): Promise<PackedPage>;
  /** The same from the columnar listing (src/core/columnar-pages.ts): one WSCA frame per page, no JSON. */
  loadColumnar(url: string, headers: Record<string, string>): Promise<ColumnarColumns>;
}

/** workers/index-builder.worker.ts: Flatbush builds off the main thread. */
export interface IndexBuilderApi {
  build(boxes: Float64Array): Promise<ArrayBuffer>;
}
