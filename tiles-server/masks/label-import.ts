/**
 * One label-image import onto a mask, run in a child process of its own
 * (label-import-process.ts) so that every byte it decoded is given back when
 * it ends, instead of waiting for the server's next garbage collection (or
 * never, for the allocator's arenas): decode the spooled file, map codes to class ids (the class
 * table, or the registry's ids), compose the changed tiles off the
 * transaction, then write them in one transaction — redoing a tile there
 * only if someone changed it since. All or nothing.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import type { AnnotationClass } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import type { SlideInfo } from '../mask-service.js';
import type { AnnotationStore } from '../store/annotation-store.js';
import { encodeVersionAsync } from '../store/mask-history.js';
import type { MaskStore, OperationResult, TileWrite } from '../store/mask-store.js';
import { generatedColour, parseClassTable } from './class-table.js';
import { decodeLabelImage, type LabelImage } from './label-image.js';
import { codeHistogram, composeTile, importRegion, importedPixels, importedPixelsAsync, type Placement } from './mask-import.js';
import { countsJson, deflateTile, histogram, inflateTile } from './tile-codec.js';

export interface LabelJob {
  slide: SlideInfo;
  annotator: string;
  opId: string;
  /** The request hash the operation id is recorded with. */
  hash: string;
  author: string;
  /** The spooled image file. */
  path: string;
  table: string | null;
  x: number;
  y: number;
  downsample: number;
  /** The pixel cap (MASK_IMPORT_MAX_PIXELS), enforced by the decoder too. */
  maxPixels: number;
}

interface CodeMap {
  lut: Uint8Array;
  names: Map<number, string> | null;
  add: AnnotationClass[];
  warnings: string[];
}

/** Which class id each code of the image becomes, and the classes to add; refuses unknown codes. */
function codeMap(classes: AnnotationStore, slideId: string, codes: number[], tableText: string | null): CodeMap {
  const lut = new Uint8Array(256);
  const palette = classes.palettes.ofSlide(slideId);
  if (tableText === null) {
    const ids = new Set(palette.map((c) => c.id));
    const unknown = codes.filter((c) => !ids.has(c));
    if (unknown.length > 0) {
      throw new WsiError('INVALID_MASK', `the image holds the value${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 20).join(', ')}, which ${unknown.length > 1 ? 'are' : 'is'} not the mask id of a class in this project's palette (GET /api/slides/{id}/classes); send a class table (classes) that names them`, { values: unknown });
    }
    for (const c of codes) lut[c] = c;
    return { lut, names: null, add: [], warnings: [] };
  }
  const table = parseClassTable(tableText);
  const missing = codes.filter((c) => !table.codes.has(c));
  if (missing.length > 0) {
    throw new WsiError('INVALID_MASK', `the image holds the code${missing.length > 1 ? 's' : ''} ${missing.slice(0, 20).join(', ')}, which the class table does not name`, { codes: missing });
  }
  const byName = new Map(palette.map((c) => [c.name, c]));
  const names = codes.map((c) => table.codes.get(c)?.name as string);
  const add: AnnotationClass[] = [];
  for (const c of codes) {
    const e = table.codes.get(c) as { name: string; color: string | null };
    const have = byName.get(e.name);
    if (have && have.id === null) throw new WsiError('CLASS_IDS_EXHAUSTED', `class "${e.name}" has no mask id (the registry ran out of ids); map the code to another class`);
    if (!have && !add.some((a) => a.name === e.name)) add.push({ name: e.name, color: e.color ?? generatedColour(e.name), hotkey: null });
  }
  const ids = classes.previewClassIds(names);
  codes.forEach((c, i) => (lut[c] = ids.get(names[i] as string) as number));
  return { lut, names: new Map(codes.map((c, i) => [c, names[i] as string])), add, warnings: table.warnings };
}

/** The code → id table with the ids the registry gives the names now (the same object when nothing moved). */
function lutFor(classes: AnnotationStore, names: Map<number, string>, planned: Uint8Array): Uint8Array {
  let now: Uint8Array | null = null;
  for (const [code, name] of names) {
    const id = classes.classIdOf(name);
    if (id === null) throw new WsiError('INTERNAL', `class ${name} has no mask id after it was added`);
    if (id !== planned[code]) {
      now ??= new Uint8Array(planned);
      now[code] = id;
    }
  }
  return now ?? planned;
}

export async function importLabelImage(store: MaskStore, classes: AnnotationStore, job: LabelJob): Promise<OperationResult> {
  return writeLabelImage(store, classes, job, await decodeLabelImage(job.path, job.maxPixels));
}

/**
 * Writes a decoded label image onto the job's mask (all or nothing).
 * `inTransaction` runs in the write's transaction after the tiles are
 * written, with what was written (a model run's record: model-mask-import.ts);
 * what it returns joins the answer, and an error it throws undoes the write.
 */
export async function writeLabelImage(
  store: MaskStore,
  classes: AnnotationStore,
  job: LabelJob,
  img: LabelImage,
  inTransaction?: (at: string, written: { tiles: number; pixels: Record<string, number> }) => Record<string, unknown>,
): Promise<OperationResult> {
  const s = job.slide;
  const hist = await codeHistogram(img);
  const codes: number[] = [];
  for (let c = 1; c < 256; c++) if ((hist[c] as number) > 0) codes.push(c);
  const { lut, names, add, warnings: tableWarnings } = codeMap(classes, s.id, codes, job.table);
  const p: Placement = { x: job.x, y: job.y, downsample: job.downsample, slideWidth: s.width, slideHeight: s.height };
  const r = importRegion(img, p);
  const warnings = [...img.warnings, ...tableWarnings, ...r.warnings];
  const pixels = await importedPixelsAsync(img, p, r, lut);
  if (codes.length === 0) warnings.push('the image holds only 0 ("leave as is"); nothing changed');

  // compose off the transaction (inflate/deflate on the thread pool), noting the version each
  // tile of the region had; then commit in one go, redoing a tile here only if it changed since
  type Planned = { tx: number; ty: number; base: number; data: Buffer; pixels: string; history?: TileWrite['history'] };
  const seen = new Map<string, { base: number; plan: Planned | null }>();
  for (let ty = r.ty0; ty <= r.ty1 && codes.length > 0; ty++) {
    for (let tx = r.tx0; tx <= r.tx1; tx++) {
      const head = store.head(s.id, job.annotator, tx, ty);
      const base = head?.version ?? 0;
      const before = head ? await inflateTile(head.data) : null;
      const out = composeTile(before, tx, ty, img, p, r, lut);
      let plan: Planned | null = null;
      if (out) {
        const data = await deflateTile(out);
        // the history's form of this version (a delta or a keyframe), also worked out off the transaction
        plan = { tx, ty, base, data, pixels: countsJson(histogram(out)), history: { base, stored: await encodeVersionAsync(base + 1, before, out, data) } };
      }
      seen.set(`${tx},${ty}`, { base, plan });
    }
  }
  return store.runOperation(job.opId, s.id, job.hash, 201, (at) => {
    const classesAdded = add.length > 0 ? classes.palettes.ensureForSlide(s.id, add) : [];
    // the registry may have given other ids than foreseen (a concurrent class change): redo all
    const lutNow = names === null ? lut : lutFor(classes, names, lut);
    let tiles = 0;
    for (const [key, was] of seen) {
      const [tx, ty] = key.split(',').map(Number) as [number, number];
      const head = store.head(s.id, job.annotator, tx, ty);
      let write = lutNow === lut && (head?.version ?? 0) === was.base ? was.plan : null;
      if (!write && (lutNow !== lut || (head?.version ?? 0) !== was.base)) {
        const base = head ? new Uint8Array(inflateSync(head.data, { maxOutputLength: MASK_TILE_PIXELS })) : null;
        const out = composeTile(base, tx, ty, img, p, r, lutNow);
        if (out) write = { tx, ty, base: head?.version ?? 0, data: deflateSync(out), pixels: countsJson(histogram(out)) };
      }
      if (!write) continue;
      store.writeTile(s.id, job.annotator, { tx, ty, ifMatch: null, data: write.data, pixels: write.pixels, ...(write.history ? { history: write.history } : {}) }, tiles, 'import', job.author, at, job.opId);
      tiles++;
    }
    const written = { tiles, pixels: lutNow === lut ? pixels : importedPixels(img, p, r, lutNow) };
    return { ...written, classesAdded, warnings, ...(inTransaction ? inTransaction(at, written) : {}) };
  });
}
