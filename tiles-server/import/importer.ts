/**
 * One import, all or nothing: the file is parsed (streamed for GeoJSON),
 * each object validated (outlines that cross themselves are kept as written
 * and counted), clashing ids renamed, and everything written in a single transaction on its own
 * connection — rolled back on the first error in the file. Runs in a worker
 * thread so a million-object import never blocks the server.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AnnotationClass, AnnotationInput } from '../../src/core/annotation.js';
import { selfIntersections, vertexCount } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { importAsapXml } from '../formats/asap-xml.js';
import { importHistomicsJson } from '../formats/histomicstk-json.js';
import { importImageScopeXml } from '../formats/imagescope-xml.js';
import { importQupathGeojson } from '../formats/qupath-geojson.js';
import { FormatError, IMPORT_FORMATS, type ImportFormat, type ImportReport, type ImportSink } from '../formats/types.js';
import { AnnotationStore } from '../store/annotation-store.js';
import type { Db } from '../store/database.js';

export interface ImportJob {
  slideId: string;
  opId: string;
  author: string;
  format: string;
  slideMpp: number | null;
}

const TEXT_FORMAT_LIMIT = 256 * 1024 * 1024;

class StoreSink implements ImportSink {
  readonly report: ImportReport;
  private readonly colours = new Map<string, string>();
  private readonly seen = new Set<string>();

  constructor(
    format: ImportFormat,
    private readonly write: (a: AnnotationInput) => void,
    private readonly idTaken: (id: string) => boolean,
  ) {
    this.report = { format, imported: 0, perClass: {}, perKind: {}, vertices: 0, skipped: [], warnings: [], classesAdded: [], renamedIds: 0, selfCrossing: 0 };
  }

  add(a: AnnotationInput): void {
    let item = a;
    // kept exactly as written (other tools draw such outlines too); counted so the report says so
    if (selfIntersections(item.geometry).length > 0) this.report.selfCrossing++;
    if (this.seen.has(item.id) || this.idTaken(item.id)) {
      item = { ...item, id: randomUUID(), properties: { ...item.properties, sourceId: item.id } };
      this.report.renamedIds++;
    }
    this.seen.add(item.id);
    this.write(item);
    this.report.imported++;
    const cls = item.classification ?? '(none)';
    this.report.perClass[cls] = (this.report.perClass[cls] ?? 0) + 1;
    this.report.perKind[item.kind] = (this.report.perKind[item.kind] ?? 0) + 1;
    this.report.vertices += vertexCount(item.geometry);
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

async function collectText(chunks: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): Promise<string> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of chunks) {
    total += c.length;
    if (total > TEXT_FORMAT_LIMIT) throw new FormatError(`files in this format are limited to ${TEXT_FORMAT_LIMIT} bytes`, 'file');
    hash.update(c);
    parts.push(c);
  }
  return Buffer.concat(parts).toString('utf8');
}

async function* hashing(chunks: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const c of chunks) {
    hash.update(c);
    yield c;
  }
}

/** Runs one import on `db` (which must not be used by anyone else meanwhile). */
export async function runImport(db: Db, job: ImportJob, chunks: AsyncIterable<Buffer>): Promise<ImportReport & { replayed?: boolean }> {
  if (!IMPORT_FORMATS.includes(job.format as ImportFormat)) {
    throw new WsiError('BAD_REQUEST', `format must be one of ${IMPORT_FORMATS.join(', ')}`);
  }
  const format = job.format as ImportFormat;
  const store = new AnnotationStore(db);
  const hash = createHash('sha256').update(job.slideId).update('\0').update(format).update('\0');
  const prior = db.prepare<[string], { slide_id: string; request_hash: string; response: string }>('SELECT slide_id, request_hash, response FROM operations WHERE op_id = ?').get(job.opId);
  if (prior) {
    for await (const c of chunks) hash.update(c);
    if (prior.request_hash !== hash.digest('hex') || prior.slide_id !== job.slideId) {
      throw new WsiError('IDEMPOTENCY_KEY_REUSED', `operation id ${job.opId} was already used for a different request`);
    }
    return { ...(JSON.parse(prior.response) as ImportReport), replayed: true };
  }
  const insert = store.importWriter(job.slideId, job.opId, job.author);
  db.exec('BEGIN IMMEDIATE');
  try {
    const sink = new StoreSink(format, insert, (id) => store.exists(id));
    switch (format) {
      case 'qupath-geojson':
        await importQupathGeojson(hashing(chunks, hash), sink);
        break;
      case 'asap-xml':
        importAsapXml(await collectText(chunks, hash), sink);
        break;
      case 'imagescope-xml':
        importImageScopeXml(await collectText(chunks, hash), sink, job.slideMpp);
        break;
      case 'histomicstk-json':
        importHistomicsJson(await collectText(chunks, hash), sink);
        break;
    }
    if (sink.report.imported === 0) throw new FormatError(`the file holds no objects that can be imported${sink.report.skipped.length ? ` (${sink.report.skipped.length} skipped)` : ''}`, 'file');
    const before = new Set(store.classes().map((c) => c.name));
    const classes = sink.classes();
    store.ensureClasses(classes);
    sink.report.classesAdded = classes.filter((c) => !before.has(c.name));
    store.recordOperation(job.opId, job.slideId, hash.digest('hex'), 201, sink.report);
    db.exec('COMMIT');
    return sink.report;
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    if (err instanceof FormatError) {
      throw new WsiError('IMPORT_INVALID', `the file was not imported (nothing was saved): ${err.message}`, { where: err.where });
    }
    throw err;
  }
}
