/**
 * One import of a spooled file, all or nothing: the file is read from disk
 * (never from the network), parsed (streamed for GeoJSON), each object
 * validated (outlines that cross themselves are kept as written and
 * counted), and staged in short transactions of at most STAGE_OBJECTS
 * objects or STAGE_VERTICES vertices (store/import-staging.ts); clashing ids
 * are renamed. Only when the whole file has been read does one short
 * transaction make it visible. A malformed file, a full store or a cancel
 * discards what was staged. Runs in a worker thread (import-worker.ts).
 * A model run's prediction file takes the same path: each object's score is
 * read (scores.ts), the rows are written as the run's read-only predictions,
 * and the commit marks the run imported (store/model-runs.ts).
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
import type { Db } from '../store/database.js';
import { ImportStaging, type PriorOperation, type StagingJob } from '../store/import-staging.js';
import { scoreOf } from './scores.js';
import type { WriteGate } from '../store/write-gate.js';

export interface ImportJob extends StagingJob {
  slideMpp: number | null;
  /** Level-0 size of the slide (null: unknown, nothing is checked against it). */
  slideSize: { width: number; height: number } | null;
  /** The spooled body. */
  path: string;
  /** The request hash (slide, format, body) the operation id is recorded with. */
  hash: string;
  /** The key a model run's scores are read under (null: SCORE_KEYS); only with `runId`. */
  scoreKey?: string | null;
}

export interface ImportProgress {
  bytesParsed: number;
  objects: number;
}

export type ImportOutcome = { report: ImportReport } | { prior: PriorOperation } | { cancelled: true };

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

class StagingSink implements ImportSink {
  readonly report: ImportReport;
  private readonly colours = new Map<string, string>();
  private readonly seen = new Set<string>();
  private pending: AnnotationInput[] = [];
  /** The pending objects' scores (model runs only). */
  private pendingScores: Array<number | null> = [];
  private pendingVertices = 0;
  private readonly at = new Date().toISOString();
  private firstOutside: string | null = null;

  constructor(
    format: ImportFormat,
    private readonly staging: ImportStaging,
    private readonly jobId: number,
    private readonly job: ImportJob,
    /** Called before each transaction: throws to stop (a cancel). */
    private readonly check: () => void,
    private readonly onStaged: (objects: number) => void,
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
    this.pendingScores.push(s);
  }

  /** Counts an object with vertices beyond the slide's edges (kept as written: the report says so). */
  private checkPlace(a: AnnotationInput): void {
    const size = this.job.slideSize;
    if (!size) return;
    const [x0, y0, x1, y1] = geometryBounds(a.geometry);
    if (x0 >= 0 && y0 >= 0 && x1 <= size.width && y1 <= size.height) return;
    const wholly = x1 < 0 || y1 < 0 || x0 > size.width || y0 > size.height;
    if (wholly) this.report.outside.wholly++;
    else this.report.outside.partly++;
    this.firstOutside ??= `x ${fmt(x0)}–${fmt(x1)}, y ${fmt(y0)}–${fmt(y1)}`;
  }

  /** The warning about predictions without a score, once the whole file is read. */
  unscoredWarning(): void {
    const run = this.report.modelRun;
    if (run && run.unscored > 0) this.warn(`${fmt(run.unscored)} prediction(s) have no score under ${run.scoreKey === null ? 'probability, score or confidence' : `"${run.scoreKey}"`}: kept, with no score`);
  }

  /** The warning about objects outside the slide, once the whole file is read. */
  outsideWarning(): void {
    const { partly, wholly } = this.report.outside;
    const size = this.job.slideSize;
    if (partly + wholly === 0 || !size) return;
    const parts = [wholly ? `${fmt(wholly)} wholly` : '', partly ? `${fmt(partly)} partly` : ''].filter(Boolean).join(' and ');
    this.warn(
      `${parts} outside the slide (${fmt(size.width)} × ${fmt(size.height)} px; the first at ${this.firstOutside ?? '?'}): imported as written; check that the file belongs to this slide and its coordinates are level-0 pixels`,
    );
  }

  add(a: AnnotationInput): void {
    this.checkPlace(a);
    // kept exactly as written (other tools draw such outlines too); counted so the report says so
    if (selfIntersections(a.geometry).length > 0) this.report.selfCrossing++;
    const vertices = vertexCount(a.geometry);
    this.score(a);
    this.pending.push(a);
    this.pendingVertices += vertices;
    this.report.imported++;
    const cls = a.classification ?? '(none)';
    this.report.perClass[cls] = (this.report.perClass[cls] ?? 0) + 1;
    this.report.perKind[a.kind] = (this.report.perKind[a.kind] ?? 0) + 1;
    this.report.vertices += vertices;
    if (this.pending.length >= STAGE_OBJECTS || this.pendingVertices >= STAGE_VERTICES) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.check();
    this.report.renamedIds += this.staging.stage(this.jobId, this.job, this.at, this.pending, this.seen, this.pendingScores);
    this.pending = [];
    this.pendingScores = [];
    this.pendingVertices = 0;
    this.onStaged(this.report.imported);
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

type Parse = (job: ImportJob, sink: ImportSink, onBytes: (n: number) => void, check: () => void) => Promise<void>;

/** Each import format's reader: streamed (GeoJSON) or over the whole text (the rest, up to TEXT_FORMAT_LIMIT). */
const PARSERS: Record<ImportFormat, Parse> = {
  'qupath-geojson': (job, sink, onBytes, check) => importQupathGeojson(fileChunks(job.path, onBytes, check), sink),
  'asap-xml': async (job, sink, onBytes) => importAsapXml(await readText(job.path, onBytes), sink),
  'imagescope-xml': async (job, sink, onBytes) => importImageScopeXml(await readText(job.path, onBytes), sink, job.slideMpp),
  'histomicstk-json': async (job, sink, onBytes) => importHistomicsJson(await readText(job.path, onBytes), sink),
  'coco-json': async (job, sink, onBytes) => importCocoJson(await readText(job.path, onBytes), sink),
};

function parse(format: ImportFormat, job: ImportJob, sink: ImportSink, onBytes: (n: number) => void, check: () => void): Promise<void> {
  return PARSERS[format](job, sink, onBytes, check);
}

/**
 * Runs one import on `db` (a connection of its own). `cancelled()` is asked
 * before every transaction; `progress` hears how far it got; `gate` (the
 * server connection's) lets users' writes go first.
 */
export async function runImport(db: Db, job: ImportJob, cancelled: () => boolean, progress: (p: ImportProgress) => void, gate: WriteGate | null = null): Promise<ImportOutcome> {
  const format = validFormat(job.format);
  const staging = new ImportStaging(db, gate);
  const prior = staging.prior(job.opId);
  if (prior) return { prior };
  const state: ImportProgress = { bytesParsed: 0, objects: 0 };
  const check = (): void => {
    if (cancelled()) throw new ImportCancelled();
  };
  const jobId = staging.begin(job);
  try {
    const sink = new StagingSink(format, staging, jobId, job, check, (objects) => progress({ ...state, objects: (state.objects = objects) }));
    await parse(format, job, sink, (n) => (state.bytesParsed = n), check);
    sink.flush();
    sink.outsideWarning();
    sink.unscoredWarning();
    if (sink.report.imported === 0) throw new FormatError(`the file holds no objects that can be imported${sink.report.skipped.length ? ` (${sink.report.skipped.length} skipped)` : ''}`, 'file');
    check();
    const done = staging.commit(jobId, job, job.hash, sink.classes(), (added) => {
      sink.report.classesAdded = added;
      return sink.report;
    }, sink.report.imported);
    if (done.prior) {
      await discard(staging, jobId);
      return { prior: done.prior };
    }
    return { report: sink.report };
  } catch (err) {
    // a discard that fails too (a full disk) leaves the rows hidden; the server discards them later
    await discard(staging, jobId).catch(() => undefined);
    if (err instanceof ImportCancelled) return { cancelled: true };
    if (err instanceof FormatError) {
      throw new WsiError('IMPORT_INVALID', `the file was not imported (nothing was saved): ${err.message}`, { where: err.where });
    }
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      // a shape nested past what a walker can follow: the file's doing, not the server's
      throw new WsiError('IMPORT_INVALID', 'the file was not imported (nothing was saved): it is nested too deeply to read', { where: 'file' });
    }
    throw err;
  }
}

/** Removes a job's staged rows in short transactions, letting other writers in between. */
export async function discard(staging: ImportStaging, jobId: number): Promise<void> {
  while (!staging.discardSome(jobId)) await new Promise((r) => setImmediate(r));
}
