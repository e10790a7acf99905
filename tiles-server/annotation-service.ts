/**
 * Annotations for the HTTP routes: the store, slide checks (a project
 * slide's annotations are stored under its project-slide id, so another
 * project's never mix in), imports (spooled, then staged by worker threads: import/import-jobs.ts)
 * and streamed exports.
 */
import type { IncomingMessage } from 'node:http';
import type { Annotation } from '../src/core/annotation.js';
import { WsiError } from '../src/core/errors.js';
import { correctionState, type CorrectionState } from './corrections/correction-state.js';
import { exportAsapXml } from './formats/asap-xml.js';
import { exportQupathGeojson } from './formats/qupath-geojson.js';
import { EXPORT_FORMATS } from './formats/types.js';
import type { SlideScope } from './identity/access-service.js';
import type { ImportAnswer, ImportJobs } from './import/import-jobs.js';
import type { SlideRegistry } from './slides/registry.js';
import type { AnnotationStore, Layer } from './store/annotation-store.js';
import { nobody, type WhoIs } from './http/authors.js';

export interface ExportFile {
  contentType: string;
  /** The file extension (the route names the download: http/download-name.ts). */
  ext: string;
  chunks: AsyncIterable<string>;
}

export class AnnotationService {
  /** Account names for history answers (set once accounts exist: app.ts). */
  whoIs: WhoIs = nobody;

  constructor(
    readonly store: AnnotationStore,
    private readonly registry: SlideRegistry,
    readonly imports: ImportJobs,
  ) {}

  /** Checks that the project slide's slide is in the folder; the id its annotations are stored under. */
  async slide(scope: SlideScope): Promise<string> {
    if (!(await this.registry.entryOf(scope.slideId))) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${scope.projectSlideId}`);
    return scope.projectSlideId;
  }

  /** The slide's file name in the folder (only for callers who see file names: see http/download-name.ts). */
  async fileNameOf(scope: SlideScope): Promise<string | undefined> {
    return (await this.registry.entryOf(scope.slideId))?.name;
  }

  slideOf(annotationId: string): string | null {
    return this.store.slideOf(annotationId);
  }

  /** A model object's correction state (a prediction's, or its corrected object's); null for manual objects. */
  correctionOf(a: Annotation): CorrectionState | null {
    if (a.source === undefined || a.source === 'manual') return null;
    if (a.readOnly) return correctionState(a, this.store.correctedOf(a.id));
    const prediction = a.parent ? this.store.get(a.parent) : null;
    return prediction ? correctionState(prediction, a) : null;
  }

  /** The slide's MPP and size, for the import's checks (null when the slide cannot be read). */
  private async slideFacts(id: string): Promise<{ slideMpp: number | null; slideSize: { width: number; height: number } | null }> {
    try {
      const m = (await this.registry.get(id)).meta;
      return { slideMpp: m.mpp, slideSize: { width: m.width, height: m.height } };
    } catch {
      return { slideMpp: null, slideSize: null };
    }
  }

  /** Receives and runs an import (see import/import-jobs.ts); the answer for the POST. */
  async importFile(
    scope: SlideScope,
    author: string,
    opId: string,
    format: string,
    body: IncomingMessage,
    signal: AbortSignal,
    onReceived?: () => void,
    /** The file holds this model run's predictions (model-run-service.ts). */
    run?: { id: string; scoreKey: string | null },
  ): Promise<ImportAnswer> {
    const slideId = await this.slide(scope);
    return this.imports.start({ slideId, opId, format, author, ...(await this.slideFacts(scope.slideId)), body, signal, ...(onReceived ? { onReceived } : {}), ...(run ? { run } : {}) });
  }

  /** The file of a slide's objects (`layer`: which of a model run's, store LAYERS). */
  async exportFile(slideId: string, format: string, layer: Layer = 'all'): Promise<ExportFile> {
    if (!EXPORT_FORMATS.includes(format as (typeof EXPORT_FORMATS)[number])) {
      throw new WsiError('BAD_REQUEST', `format must be one of ${EXPORT_FORMATS.join(', ')}`);
    }
    const colours = new Map(this.store.palettes.ofSlide(slideId).map((c) => [c.name, c.color]));
    const colour = (name: string): string | null => colours.get(name) ?? null;
    const store = this.store;
    const correction = (a: Annotation): Annotation => {
      const c = this.correctionOf(a);
      return c === null ? a : { ...a, correction: c };
    };
    // read in pages so a million objects never sit in memory at once
    function* all(): Generator<Annotation> {
      let after = 0;
      for (;;) {
        const page = store.list(slideId, { after, limit: 5000, layer });
        for (const a of page.annotations) yield correction(a);
        if (page.next === null) return;
        after = page.next;
      }
    }
    if (format === 'qupath-geojson') {
      return { contentType: 'application/geo+json', ext: 'geojson', chunks: exportQupathGeojson(all(), colour) };
    }
    const { text, dropped } = exportAsapXml(all(), colour);
    const note = dropped.length ? `<!-- not representable in ASAP XML: ${dropped.length} item(s), e.g. ${dropped.slice(0, 3).join('; ').replace(/--/g, '-')} -->\n` : '';
    async function* one(): AsyncGenerator<string> {
      yield text.replace('<ASAP_Annotations>', `${note}<ASAP_Annotations>`);
    }
    return { contentType: 'application/xml', ext: 'xml', chunks: one() };
  }
}
