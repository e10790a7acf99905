/**
 * The reading half of an import (issue 13's fast path): the file is parsed
 * (streamed for GeoJSON), each object validated (outlines that cross
 * themselves are kept as written and counted, objects outside the slide
 * counted), a model run's scores read (scores.ts), and each object turned
 * into the row the store keeps — its id, its canonical JSON state
 * (annotation-store.ts stateOf) and its bounding box — in batches of at
 * most STAGE_OBJECTS objects or STAGE_VERTICES vertices. It runs in a
 * thread of its own (parse-worker.ts) while the import's worker writes the
 * batches before it (importer.ts), so parsing and SQLite's inserts overlap
 * instead of taking turns; nothing here touches the store.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { AnnotationClass, AnnotationInput } from '../../src/core/annotation.js';
import { geometryBounds, selfIntersections, vertexCount } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { importAsapXml } from '../formats/asap-xml.js';
import { importCocoJson } from '../formats/coco-json.js';
import { importHistomicsJson } from '../formats/histomicstk-json.js';
import { importImageScopeXml } from '../formats/imagescope-xml.js';
import { importQupathGeojson } from '../formats/qupath-geojson.js';
import { FormatError, IMPORT_FORMATS, type ImportFormat, type ImportReport, type ImportSink } from '../formats/types.js';
import { ColumnarFrameBuilder } from '../../src/core/columnar-pages.js';
import { stateOf } from '../store/annotation-store.js';
import { BLOCK_OBJECTS, BLOCK_VERTICES } from '../store/prediction-blocks.js';
import type { PreparedRows } from '../store/import-staging.js';
import { scoreOf } from './scores.js';

/** What the reading half needs of an import job. */
export interface ReadJob {
  format: string;
  /** The spooled body. */
  path: string;
  slideMpp: number | null;
  /** Level-0 size of the slide (null: unknown, nothing is checked against it). */
  slideSize: { width: number; height: number } | null;
  /** A model run's predictions: their scores are read (under `scoreKey`, or SCORE_KEYS when null). */
  runId?: string;
  scoreKey?: string | null;
  /** Who imports a model run's predictions and when: with it, they are also framed in blocks (store/prediction-blocks.ts). */
  stamp?: { author: string; at: string };
  /** Predictions per block (default BLOCK_OBJECTS; tests use fewer). */
  blockObjects?: number;
}

/** Largest staging transaction: a few tens of milliseconds of writes. */
export const STAGE_OBJECTS = 1000;
export const STAGE_VERTICES = 200_000;
const TEXT_FORMAT_LIMIT = 256 * 1024 * 1024;

export class ImportCancelled extends Error {
  constructor() {
    super('the import was cancelled');
  }
}

export function validFormat(format: string): ImportFormat {
  if (!IMPORT_FORMATS.includes(format as ImportFormat)) throw new WsiError('BAD_REQUEST', `format must be one of ${IMPORT_FORMATS.join(', ')}`);
  return format as ImportFormat;
}

/** A file's own fault as the API's answer (422 IMPORT_INVALID); anything else unchanged. */
export function importError(err: unknown): unknown {
  if (err instanceof FormatError) return new WsiError('IMPORT_INVALID', `the file was not imported (nothing was saved): ${err.message}`, { where: err.where });
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    // a shape nested past what a walker can follow: the file's doing, not the server's
    return new WsiError('IMPORT_INVALID', 'the file was not imported (nothing was saved): it is nested too deeply to read', { where: 'file' });
  }
  return err;
}

export class PreparingSink implements ImportSink {
  readonly report: ImportReport;
  private readonly colours = new Map<string, string>();
  private ids: string[] = [];
  private states: string[] = [];
  private boxes: number[] = [];
  /** The pending objects' scores (model runs only; NaN: none). */
  private scores: number[] = [];
  private pendingVertices = 0;
  private firstOutside: string | null = null;
  /** The open block's predictions (model runs with a stamp only), its vertices and box. */
  private block = new ColumnarFrameBuilder();
  private blockVertices = 0;
  private blockBox: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];

  constructor(
    format: ImportFormat,
    private readonly job: ReadJob,
    /** Called before each batch is handed on: throws to stop (a cancel). */
    private readonly check: () => void,
    /** Takes a batch (its arrays are the receiver's from then on). */
    private readonly deliver: (rows: PreparedRows, objects: number) => void,
  ) {
    this.report = { format, imported: 0, perClass: {}, perKind: {}, vertices: 0, skipped: [], warnings: [], classesAdded: [], renamedIds: 0, selfCrossing: 0, outside: { partly: 0, wholly: 0 } };
    if (job.runId !== undefined) this.report.modelRun = { id: job.runId, scored: 0, unscored: 0, scoreKey: job.scoreKey ?? null };
  }

  /** A prediction's score (counted in the report); a score out of range refuses the whole file. */
  private score(a: AnnotationInput): void {
    const run = this.report.modelRun;
    if (!run) return;
    const s = scoreOf(a.properties, run.scoreKey, `object ${this.report.imported + 1}${a.name ? ` ("${a.name.slice(0, 40)}")` : ''}`);
    if (s === null) run.unscored++;
    else run.scored++;
    this.scores.push(s ?? Number.NaN);
  }

  /** Counts an object with vertices beyond the slide's edges (kept as written: the report says so). */
  private checkPlace(box: [number, number, number, number]): void {
    const size = this.job.slideSize;
    if (!size) return;
    const [x0, y0, x1, y1] = box;
    if (x0 >= 0 && y0 >= 0 && x1 <= size.width && y1 <= size.height) return;
    const wholly = x1 < 0 || y1 < 0 || x0 > size.width || y0 > size.height;
    if (wholly) this.report.outside.wholly++;
    else this.report.outside.partly++;
    this.firstOutside ??= `x ${fmt(x0)}–${fmt(x1)}, y ${fmt(y0)}–${fmt(y1)}`;
  }

  /** The warning about predictions without a score, once the whole file is read. */
  private unscoredWarning(): void {
    const run = this.report.modelRun;
    if (run && run.unscored > 0) this.warn(`${fmt(run.unscored)} prediction(s) have no score under ${run.scoreKey === null ? 'probability, score or confidence' : `"${run.scoreKey}"`}: kept, with no score`);
  }

  /** The warning about objects outside the slide, once the whole file is read. */
  private outsideWarning(): void {
    const { partly, wholly } = this.report.outside;
    const size = this.job.slideSize;
    if (partly + wholly === 0 || !size) return;
    const parts = [wholly ? `${fmt(wholly)} wholly` : '', partly ? `${fmt(partly)} partly` : ''].filter(Boolean).join(' and ');
    this.warn(
      `${parts} outside the slide (${fmt(size.width)} × ${fmt(size.height)} px; the first at ${this.firstOutside ?? '?'}): imported as written; check that the file belongs to this slide and its coordinates are level-0 pixels`,
    );
  }

  add(a: AnnotationInput): void {
    const box = geometryBounds(a.geometry);
    this.checkPlace(box);
    // kept exactly as written (other tools draw such outlines too); counted so the report says so
    if (selfIntersections(a.geometry).length > 0) this.report.selfCrossing++;
    const vertices = vertexCount(a.geometry);
    this.score(a);
    this.ids.push(a.id);
    this.states.push(stateOf(a, false));
    this.boxes.push(box[0], box[1], box[2], box[3]);
    this.pendingVertices += vertices;
    if (this.job.stamp !== undefined && this.job.runId !== undefined) this.addToBlock(a, box, vertices, this.job.runId, this.job.stamp);
    this.report.imported++;
    const cls = a.classification ?? '(none)';
    this.report.perClass[cls] = (this.report.perClass[cls] ?? 0) + 1;
    this.report.perKind[a.kind] = (this.report.perKind[a.kind] ?? 0) + 1;
    this.report.vertices += vertices;
    const blockFull = this.block.size >= (this.job.blockObjects ?? BLOCK_OBJECTS) || this.blockVertices >= BLOCK_VERTICES;
    if (this.ids.length >= STAGE_OBJECTS || this.pendingVertices >= STAGE_VERTICES || blockFull) this.flush(blockFull);
  }

  /** A prediction as the columnar listing shows it (version 1, read-only, with its score). */
  private addToBlock(a: AnnotationInput, box: [number, number, number, number], vertices: number, runId: string, stamp: { author: string; at: string }): void {
    const s = this.scores[this.scores.length - 1] as number;
    const { author, at } = stamp;
    this.block.add({ ...a, version: 1, deleted: false, createdBy: author, createdAt: at, updatedBy: author, updatedAt: at, source: runId, parent: null, score: Number.isNaN(s) ? null : s, readOnly: true });
    this.blockVertices += vertices;
    const b = this.blockBox;
    if (box[0] < b[0]) b[0] = box[0];
    if (box[1] < b[1]) b[1] = box[1];
    if (box[2] > b[2]) b[2] = box[2];
    if (box[3] > b[3]) b[3] = box[3];
  }

  /** Closes the open block into a frame (cursor and total are the listing's to set). */
  private closeBlock(): PreparedRows['block'] {
    if (this.block.size === 0) return undefined;
    const block = { frame: this.block.finish(null, 0), n: this.block.size, bbox: this.blockBox };
    this.block = new ColumnarFrameBuilder();
    this.blockVertices = 0;
    this.blockBox = [Infinity, Infinity, -Infinity, -Infinity];
    return block;
  }

  /** Hands on the pending batch; `closeBlock`: with the open block (a batch never splits a block). */
  flush(closeBlock = false): void {
    if (this.ids.length === 0 && !(closeBlock && this.block.size > 0)) return;
    this.check();
    const block = closeBlock ? this.closeBlock() : undefined;
    const rows: PreparedRows = {
      ids: this.ids,
      states: this.states,
      boxes: Float64Array.from(this.boxes),
      scores: this.report.modelRun ? Float64Array.from(this.scores) : null,
      ...(block !== undefined ? { block } : {}),
    };
    this.ids = [];
    this.states = [];
    this.boxes = [];
    this.scores = [];
    this.pendingVertices = 0;
    this.deliver(rows, this.report.imported);
  }

  /** After the whole file: the last batch, the report's warnings; refuses a file with nothing to import. */
  finish(): void {
    this.flush(true);
    this.outsideWarning();
    this.unscoredWarning();
    if (this.report.imported === 0) throw new FormatError(`the file holds no objects that can be imported${this.report.skipped.length ? ` (${this.report.skipped.length} skipped)` : ''}`, 'file');
  }

  skip(s: { where: string; reason: string }): void {
    if (this.report.skipped.length < 1000) this.report.skipped.push(s);
  }

  warn(message: string): void {
    if (this.report.warnings.length < 100) this.report.warnings.push(message);
  }

  classColour(name: string, color: string): void {
    if (!this.colours.has(name)) this.colours.set(name, color);
  }

  classes(): AnnotationClass[] {
    const used = Object.keys(this.report.perClass).filter((c) => c !== '(none)');
    return used.map((name) => ({ name, color: this.colours.get(name) ?? '#808080', hotkey: null }));
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function readText(path: string, onBytes: (n: number) => void): Promise<string> {
  const { size } = await stat(path);
  if (size > TEXT_FORMAT_LIMIT) throw new FormatError(`files in this format are limited to ${TEXT_FORMAT_LIMIT} bytes`, 'file');
  const text = (await readFile(path)).toString('utf8');
  onBytes(size);
  return text;
}

async function* fileChunks(path: string, onBytes: (n: number) => void, check: () => void): AsyncGenerator<Buffer> {
  let read = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    check();
    read += (chunk as Buffer).length;
    onBytes(read);
    yield chunk as Buffer;
  }
}

type Parse = (job: ReadJob, sink: ImportSink, onBytes: (n: number) => void, check: () => void) => Promise<void>;

/** Each import format's reader: streamed (GeoJSON) or over the whole text (the rest, up to TEXT_FORMAT_LIMIT). */
const PARSERS: Record<ImportFormat, Parse> = {
  'qupath-geojson': (job, sink, onBytes, check) => importQupathGeojson(fileChunks(job.path, onBytes, check), sink),
  'asap-xml': async (job, sink, onBytes) => importAsapXml(await readText(job.path, onBytes), sink),
  'imagescope-xml': async (job, sink, onBytes) => importImageScopeXml(await readText(job.path, onBytes), sink, job.slideMpp),
  'histomicstk-json': async (job, sink, onBytes) => importHistomicsJson(await readText(job.path, onBytes), sink),
  'coco-json': async (job, sink, onBytes) => importCocoJson(await readText(job.path, onBytes), sink),
};

/**
 * Reads a whole file into prepared batches (`deliver`); resolves with the
 * report (its `renamedIds` and `classesAdded` are the writer's to fill) and
 * the classes the objects use. Throws FormatError for a malformed file,
 * ImportCancelled when `check` says so.
 */
export async function readImport(
  job: ReadJob,
  check: () => void,
  onBytes: (n: number) => void,
  deliver: (rows: PreparedRows, objects: number) => void,
): Promise<{ report: ImportReport; classes: AnnotationClass[] }> {
  const format = validFormat(job.format);
  const sink = new PreparingSink(format, job, check, deliver);
  await PARSERS[format](job, sink, onBytes, check);
  sink.finish();
  return { report: sink.report, classes: sink.classes() };
}
