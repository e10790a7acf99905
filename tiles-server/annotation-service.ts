/**
 * Annotations for the HTTP routes: the store, the local author, slide id
 * checks, imports (one at a time, each in its own worker thread and
 * transaction) and streamed exports.
 */
import type { IncomingMessage } from 'node:http';
import type { Annotation } from '../src/core/annotation.js';
import { WsiError, isErrorCode } from '../src/core/errors.js';
import { exportAsapXml } from './formats/asap-xml.js';
import { exportQupathGeojson } from './formats/qupath-geojson.js';
import { EXPORT_FORMATS, type ImportReport } from './formats/types.js';
import type { ImportJob } from './import/importer.js';
import type { SlideRegistry } from './slides/registry.js';
import type { AnnotationStore } from './store/annotation-store.js';
import { spawnModuleWorker } from './workers.js';

export interface ExportFile {
  contentType: string;
  filename: string;
  chunks: AsyncIterable<string>;
}

export class AnnotationService {
  private importQueue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly store: AnnotationStore,
    private readonly registry: SlideRegistry,
    readonly author: string,
    private readonly dbPath: string,
    /** The database size cap the import worker's own connection keeps too (0: none). */
    private readonly dbMaxBytes = 0,
  ) {}

  /** Checks that a slide id names a slide in the folder. */
  async slide(id: string): Promise<string> {
    await this.registry.scan();
    if (!this.registry.entry(id)) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${id}`);
    return id;
  }

  slideOf(annotationId: string): string | null {
    return this.store.slideOf(annotationId);
  }

  private async slideMpp(id: string): Promise<number | null> {
    try {
      return (await this.registry.get(id)).meta.mpp;
    } catch {
      return null;
    }
  }

  async importFile(slideId: string, opId: string, format: string, body: IncomingMessage, signal: AbortSignal): Promise<ImportReport & { replayed?: boolean }> {
    const job: ImportJob = { slideId, opId, author: this.author, format, slideMpp: await this.slideMpp(slideId) };
    const run = this.importQueue.then(() => this.runWorker(job, body, signal));
    this.importQueue = run.catch(() => undefined);
    return run;
  }

  private runWorker(job: ImportJob, body: IncomingMessage, signal: AbortSignal): Promise<ImportReport & { replayed?: boolean }> {
    return new Promise((resolve, reject) => {
      const worker = spawnModuleWorker(new URL('./import/import-worker.js', import.meta.url), { workerData: { dbPath: this.dbPath, job, maxBytes: this.dbMaxBytes } });
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        body.removeAllListeners('data');
        // refused before the upload ended (a malformed file, a full store): read and drop the
        // rest, so the client's upload completes and it gets the answer at once
        if (!body.readableEnded) body.resume();
        fn();
        void worker.terminate();
      };
      worker.on('message', (msg: { more?: boolean; done?: boolean; report?: ImportReport; error?: { code: string; message: string; detail?: Record<string, unknown> } }) => {
        if (msg.more) body.resume();
        if (!msg.done) return;
        if (msg.report) finish(() => resolve(msg.report as ImportReport));
        else {
          const e = msg.error as { code: string; message: string; detail?: Record<string, unknown> };
          finish(() => reject(isErrorCode(e.code) ? new WsiError(e.code, e.message, e.detail) : new WsiError('INTERNAL', 'the import failed')));
        }
      });
      worker.on('error', (err) => finish(() => reject(new WsiError('INTERNAL', `the import worker failed: ${err.message}`))));
      worker.on('exit', () => finish(() => reject(new WsiError('INTERNAL', 'the import worker stopped unexpectedly'))));
      signal.addEventListener('abort', () => finish(() => reject(signal.reason)), { once: true });
      body.on('data', (chunk: Buffer) => {
        const copy = new Uint8Array(chunk.byteLength);
        copy.set(chunk);
        worker.postMessage({ chunk: copy }, [copy.buffer]);
        body.pause();
      });
      body.on('end', () => worker.postMessage({ end: true }));
      body.on('error', (err) => finish(() => reject(err)));
    });
  }

  async exportFile(slideId: string, format: string): Promise<ExportFile> {
    if (!EXPORT_FORMATS.includes(format as (typeof EXPORT_FORMATS)[number])) {
      throw new WsiError('BAD_REQUEST', `format must be one of ${EXPORT_FORMATS.join(', ')}`);
    }
    const colours = new Map(this.store.classes().map((c) => [c.name, c.color]));
    const colour = (name: string): string | null => colours.get(name) ?? null;
    const store = this.store;
    // read in pages so a million objects never sit in memory at once
    function* all(): Generator<Annotation> {
      let after = 0;
      for (;;) {
        const page = store.list(slideId, { after, limit: 5000 });
        yield* page.annotations;
        if (page.next === null) return;
        after = page.next;
      }
    }
    if (format === 'qupath-geojson') {
      return { contentType: 'application/geo+json', filename: `${slideId}.geojson`, chunks: exportQupathGeojson(all(), colour) };
    }
    const { text, dropped } = exportAsapXml(all(), colour);
    const note = dropped.length ? `<!-- not representable in ASAP XML: ${dropped.length} item(s), e.g. ${dropped.slice(0, 3).join('; ').replace(/--/g, '-')} -->\n` : '';
    async function* one(): AsyncGenerator<string> {
      yield text.replace('<ASAP_Annotations>', `${note}<ASAP_Annotations>`);
    }
    return { contentType: 'application/xml', filename: `${slideId}.xml`, chunks: one() };
  }
}
