/**
 * The browser's client for the agreement routes (docs/agreement.md): the
 * readers with a mask on a slide, the disagreement map's description and
 * its PNG tiles (as bitmaps), who said what at a point, and accepting a
 * consensus into the reference mask. Reviewers and managers only: the
 * server answers 403 to anyone else.
 */
import { isModelMaskAnnotator } from '../core/model-mask.js';
import { REFERENCE_ANNOTATOR, type ConsensusMethod, type TieRule } from '../core/agreement/reference.js';
import { authHeaders, postChange } from './http.js';

export interface MapDescription {
  block: number;
  tileSize: number;
  /** In blocks. */
  width: number;
  height: number;
  levels: number;
  paintedBlocks: number;
  readers: string[];
}

export interface PointReading {
  readers: Array<{ id: string; username: string | null; class: number; className: string | null }>;
  majority: number | null;
  undecided: boolean;
  disagreeing: number;
}

export interface ConsensusAccepted {
  event: { id: string; method: string; readers: string[]; tiles: number; parameters: { pixels: number; undecided: number; classes: Record<string, number> } };
  tiles: Array<{ tx: number; ty: number; version: number }>;
}

/** The agreement JSON's parts the viewer shows (docs/agreement.md has the whole). */
export interface AgreementReportJson {
  readers: Array<{ id: string; username: string | null }>;
  pixels: number;
  classes: Array<{ id: number; name: string | null }>;
  metrics: {
    fleissKappa: number | null;
    perClass: Array<{ class: number; pixels: number[]; meanDice: number | null; meanIou: number | null }>;
    pairs: Array<{ a: number; b: number; cohenKappa: number | null; pixelAccuracy: number | null; perClass: Array<{ class: number; dice: number | null; iou: number | null }> }>;
  };
}

export class AgreementApi {
  constructor(
    private readonly server: string,
    private readonly slide: string,
  ) {}

  private url(path: string): string {
    return `${this.server}/api/slides/${encodeURIComponent(this.slide)}${path}`;
  }

  private async json<T>(url: string): Promise<T> {
    const res = await fetch(url, { headers: authHeaders(url) });
    const body = (await res.json().catch(() => ({}))) as T & { message?: string };
    if (!res.ok) throw new Error(body.message ?? `the server answered ${res.status}`);
    return body;
  }

  /** Every annotator with a mask on the slide (the reference mask and a model run's mask are no reader's). */
  async readers(): Promise<string[]> {
    const r = await this.json<{ masks: Array<{ annotator: string }> }>(this.url('/masks'));
    return r.masks.map((m) => m.annotator).filter((a) => a !== REFERENCE_ANNOTATOR && !isModelMaskAnnotator(a));
  }

  /** Accepts the consensus of `readers` inside the ROI into the reference mask (one Idempotency-Key per decision: a retry replays it). */
  async acceptConsensus(opId: string, body: { roi: string; readers: readonly string[]; method: ConsensusMethod; ties: TieRule; tieReader?: string }): Promise<ConsensusAccepted> {
    const r = await postChange<ConsensusAccepted & { message?: string }>(this.url('/reference/consensus'), opId, body);
    if (r.status >= 300) throw new Error(r.body.message ?? `the server answered ${r.status}`);
    return r.body;
  }

  describe(readers: readonly string[]): Promise<MapDescription> {
    return this.json<MapDescription>(this.url(`/agreement/map?readers=${readers.map(encodeURIComponent).join(',')}`));
  }

  async tile(readers: readonly string[], level: number, col: number, row: number, signal?: AbortSignal): Promise<ImageBitmap> {
    const url = this.url(`/agreement/map/${level}/${col}/${row}.png?readers=${readers.map(encodeURIComponent).join(',')}`);
    const res = await fetch(url, { headers: authHeaders(url), signal: signal ?? null });
    if (!res.ok) throw new Error(`map tile ${level}/${col}/${row}: ${res.status}`);
    return createImageBitmap(await res.blob());
  }

  /** The agreement of `readers` inside the ROI (the per-class numbers, the pairs, Fleiss' kappa: the JSON of GET …/agreement). */
  report(roi: string, readers: readonly string[]): Promise<AgreementReportJson> {
    return this.json<AgreementReportJson>(this.url(`/agreement?roi=${encodeURIComponent(roi)}&readers=${readers.map(encodeURIComponent).join(',')}`));
  }

  /** The same as CSV: the per-class table, or a reader × reader matrix of kappa or pixel accuracy. */
  async reportCsv(roi: string, readers: readonly string[], table: 'classes' | 'readers', metric: 'kappa' | 'accuracy' = 'kappa'): Promise<Blob> {
    const url = this.url(`/agreement?roi=${encodeURIComponent(roi)}&readers=${readers.map(encodeURIComponent).join(',')}&format=csv&table=${table}&metric=${metric}`);
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    return res.blob();
  }

  point(readers: readonly string[], x: number, y: number): Promise<PointReading> {
    return this.json<PointReading>(this.url(`/agreement/point?x=${Math.floor(x)}&y=${Math.floor(y)}&readers=${readers.map(encodeURIComponent).join(',')}`));
  }
}
