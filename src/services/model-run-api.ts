/**
 * The browser's client for a slide's model runs (issue 13,
 * docs/ai-corrections.md): the runs, the predictions of one run (read from
 * the annotation listing's `layer=model`, the model's own objects, whatever
 * anyone did since), and the corrections report. Decisions themselves go
 * through the sync engine's outbox (prediction-routing.ts), so they survive
 * a lost connection or an ended session like any edit.
 */
import type { Annotation, Geometry } from '../core/annotation.js';
import { decodeColumnarPage } from '../core/columnar-pages.js';
import { unflatten, type FlatGeometry, type GeomTypeCode } from '../core/flat-geometry.js';
import { authHeaders, postChange } from './http.js';
import { newOpId } from './outbox-sender.js';

export interface ModelRunInfo {
  id: string;
  modelName: string;
  modelVersion: string;
  state: 'pending' | 'imported';
  objects: number;
  importedAt?: string | null;
}

export interface Prediction {
  id: string;
  classification: string | null;
  score: number | null;
  kind: Annotation['kind'];
  geometry: Geometry;
  version: number;
  /** The outline as flat arrays, when it came in a columnar frame (`geometry` is then made from it when first read). */
  flat?: FlatGeometry;
}

/** A prediction read from a columnar frame (or the session's loaded columns): its GeoJSON outline is made only when something reads it. */
export class FramePrediction implements Prediction {
  private geom: Geometry | null = null;

  constructor(
    readonly id: string,
    readonly classification: string | null,
    readonly score: number | null,
    readonly kind: Annotation['kind'],
    readonly version: number,
    readonly flat: FlatGeometry,
  ) {}

  get geometry(): Geometry {
    return (this.geom ??= unflatten(this.flat));
  }
}

async function getJson<T>(url: string, what: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { headers: authHeaders(url), signal: signal ?? null });
  if (!res.ok) {
    let message = '';
    try {
      message = ((await res.json()) as { message?: string }).message ?? '';
    } catch {
      // not JSON
    }
    throw new Error(`${what} could not be loaded (${res.status}${message ? `: ${message}` : ''})`);
  }
  return (await res.json()) as T;
}

export class ModelRunApi {
  constructor(
    readonly server: string,
    readonly slide: string,
  ) {}

  private base(): string {
    return `${this.server}/api/slides/${encodeURIComponent(this.slide)}`;
  }

  async runs(signal?: AbortSignal): Promise<ModelRunInfo[]> {
    const body = await getJson<{ runs: Array<Record<string, unknown>> }>(`${this.base()}/model-runs`, 'the model runs', signal);
    return body.runs.map((r) => {
      const model = (r['model'] ?? {}) as { name?: string; version?: string };
      return {
        id: String(r['id']),
        modelName: String(model.name ?? ''),
        modelVersion: String(model.version ?? ''),
        state: r['state'] === 'imported' ? 'imported' : 'pending',
        objects: typeof r['objects'] === 'number' ? r['objects'] : 0,
        importedAt: typeof r['importedAt'] === 'string' ? r['importedAt'] : null,
      };
    });
  }

  /**
   * Every prediction of run `runId` as the model made it (pages of the
   * model layer): as columnar frames (src/core/columnar-pages.ts), or as
   * lean JSON pages from a server without the columnar listing.
   */
  async predictions(runId: string, signal?: AbortSignal, layer: 'model' | 'superseded' = 'model'): Promise<Prediction[]> {
    try {
      return await this.predictionFrames(runId, signal, layer);
    } catch (err) {
      if (signal?.aborted) throw err;
      // an older server (404), or a frame this client cannot read: the JSON listing
    }
    const out: Prediction[] = [];
    let after = 0;
    for (;;) {
      const q = new URLSearchParams({ view: 'lean', layer, limit: '10000' });
      if (after) q.set('after', String(after));
      const page = await getJson<{ annotations: Annotation[]; next: number | null }>(`${this.base()}/annotations?${q.toString()}`, 'the predictions', signal);
      for (const a of page.annotations) {
        if (a.source !== runId) continue;
        out.push({ id: a.id, classification: a.classification, score: a.score ?? null, kind: a.kind, geometry: a.geometry, version: a.version });
      }
      if (page.next === null) break;
      after = page.next;
    }
    return out;
  }

  private async predictionFrames(runId: string, signal: AbortSignal | undefined, layer: 'model' | 'superseded'): Promise<Prediction[]> {
    const out: Prediction[] = [];
    let after = 0;
    for (;;) {
      const q = new URLSearchParams({ v: '1', layer, limit: '50000' });
      if (after) q.set('after', String(after));
      const url = `${this.base()}/annotations-columnar?${q.toString()}`;
      const res = await fetch(url, { headers: authHeaders(url), signal: signal ?? null });
      if (!res.ok) throw new Error(`the predictions could not be loaded (${res.status})`);
      const p = decodeColumnarPage(new Uint8Array(await res.arrayBuffer()));
      for (let i = 0; i < p.records.length; i++) {
        const r = p.records[i] as (typeof p.records)[number];
        if (r.source !== runId) continue;
        const flat: FlatGeometry = { type: p.types[i] as GeomTypeCode, coords: p.coords.subarray(p.coordAt[i], p.coordAt[i + 1]), parts: p.parts.subarray(p.partAt[i], p.partAt[i + 1]) };
        out.push(new FramePrediction(r.id, r.classification, r.score ?? null, r.kind, r.version, flat));
      }
      if (p.next === null) break;
      after = p.next;
    }
    return out;
  }

  /**
   * Marks an area as fully checked for a run: objects drawn by hand inside
   * it afterwards count as the model's misses. Throws with the server's
   * message when refused; a lost connection throws too (nothing is marked).
   */
  async addCheckedArea(runId: string, ring: Array<[number, number]>): Promise<{ id: string }> {
    const r = await postChange<{ id?: string; message?: string }>(`${this.base()}/model-runs/${encodeURIComponent(runId)}/checked-areas`, newOpId(), { geometry: { type: 'Polygon', coordinates: [ring] } });
    if (r.status !== 201 && r.status !== 200) throw new Error(`the area could not be marked as checked (${r.status}${r.body.message ? `: ${r.body.message}` : ''})`);
    return { id: String(r.body.id) };
  }

  reportUrl(runId: string): string {
    return `${this.base()}/model-runs/${encodeURIComponent(runId)}/report`;
  }

  async report<T>(runId: string, signal?: AbortSignal): Promise<T> {
    return getJson<T>(this.reportUrl(runId), 'the corrections report', signal);
  }
}
