/**
 * The triage queue's decisions, apart from the tool's input and drawing so
 * they can be tested alone: the order (score lowest first, or position in
 * reading order by bands), the score filter, a prediction's correction state
 * as the client sees it now (from the local object that stands for it:
 * the prediction itself, or its corrected object), and done/remaining
 * counts per model class. The state rules are the server's
 * (tiles-server/corrections/correction-state.ts): no corrected object →
 * untouched, deleted → rejected, then class and outline compared — a change
 * of label alone is a correction (AI-02).
 */
import type { Prediction } from '../services/model-run-api.js';
import type { AnnotationStore, Handle } from '../state/annotation-store.js';
import type { ModelProvenance } from '../state/model-provenance.js';
import { geometryBounds } from '../core/annotation.js';
import { flatBounds, flatten, pointInRings } from '../core/flat-geometry.js';
import { sortByKey } from '../state/radix-sort.js';

export type SortMode = 'score' | 'position';
export type TriageState = 'untouched' | 'accepted' | 'edited' | 'relabelled' | 'both' | 'rejected';

export interface QueueItem extends Prediction {
  /** Level-0 bounds [x0, y0, x1, y1]. */
  bbox: [number, number, number, number];
  cx: number;
  cy: number;
  /** Flat coordinates, to compare outlines without building objects: made when first compared (coordsOf), not for every queued object. */
  coords?: Float64Array;
  /** Kept by the tool: the state last read, and whether the item is in the (filtered) queue. */
  state?: TriageState;
  queued?: boolean;
}

/** A queued prediction that came in a columnar frame: bounds from its flat outline; the GeoJSON one made only when read (an acceptance that restores it). */
class FlatItem implements QueueItem {
  readonly id: string;
  readonly classification: string | null;
  readonly score: number | null;
  readonly kind: Prediction['kind'];
  readonly version: number;
  readonly bbox: [number, number, number, number];
  readonly cx: number;
  readonly cy: number;
  readonly coords: Float64Array;
  state: TriageState | undefined = undefined;
  queued = false;

  constructor(private readonly p: Prediction & { flat: NonNullable<Prediction['flat']> }) {
    this.id = p.id;
    this.classification = p.classification;
    this.score = p.score;
    this.kind = p.kind;
    this.version = p.version;
    this.bbox = flatBounds(p.flat.coords);
    this.cx = (this.bbox[0] + this.bbox[2]) / 2;
    this.cy = (this.bbox[1] + this.bbox[3]) / 2;
    this.coords = p.flat.coords;
  }

  get geometry(): Prediction['geometry'] {
    return this.p.geometry;
  }
}

export function toItem(p: Prediction): QueueItem {
  if (p.flat) return new FlatItem(p as Prediction & { flat: NonNullable<Prediction['flat']> });
  const bbox = geometryBounds(p.geometry);
  return { id: p.id, classification: p.classification, score: p.score, kind: p.kind, geometry: p.geometry, version: p.version, bbox, cx: (bbox[0] + bbox[2]) / 2, cy: (bbox[1] + bbox[3]) / 2 };
}

export function coordsOf(item: QueueItem): Float64Array {
  return (item.coords ??= flatten(item.geometry).coords);
}

/**
 * The queue's order: by score, lowest first (the likeliest mistakes),
 * unscored last; or by position, in bands of `band` pixels from the top,
 * left to right in each. A stable radix argsort (the annotation list's), so
 * ties keep the run's own order and a million objects sort in tens of ms.
 */
export function sortItems(items: QueueItem[], mode: SortMode, band = 1024): QueueItem[] {
  const n = items.length;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const it = items[i] as QueueItem;
    // NaN (no score) sorts last; a band and the x within it make one exact float64 key
    keys[i] = mode === 'score' ? (it.score ?? Number.NaN) : Math.floor(it.cy / band) * 2 ** 32 + Math.max(0, it.cx);
  }
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const order = sortByKey(idx, keys);
  const out = new Array<QueueItem>(n);
  for (let i = 0; i < n; i++) out[i] = items[order[i] as number] as QueueItem;
  return out;
}

export interface ScoreFilter {
  min: number;
  max: number;
}

export function inRange(item: { score: number | null }, f: ScoreFilter): boolean {
  if (item.score === null) return f.min <= 0 && f.max >= 1;
  return item.score >= f.min && item.score <= f.max;
}

/** The local object that stands for a prediction now, and whether it was acted on here or on the server. */
export function standIn(item: QueueItem, store: AnnotationStore, prov: ModelProvenance): { handle: Handle | null; acted: boolean } {
  const own = store.handleOf(item.id);
  if (own !== undefined) return { handle: own, acted: prov.hasAlias(item.id) };
  const corrected = prov.correctedOf(item.id);
  if (corrected) {
    const h = store.handleOf(corrected);
    return { handle: h ?? null, acted: true };
  }
  // neither the prediction nor a corrected object is live: the working layer hides a rejected prediction
  return { handle: null, acted: true };
}

function sameCoords(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs((a[i] as number) - (b[i] as number)) > 1e-9) return false;
  return true;
}

export function stateOf(item: QueueItem, store: AnnotationStore, prov: ModelProvenance): TriageState {
  const { handle, acted } = standIn(item, store, prov);
  if (!acted) return 'untouched';
  if (handle === null) return 'rejected';
  const relabelled = (store.classOf(handle) ?? null) !== (item.classification ?? null);
  const edited = !sameCoords(store.geometry(handle).coords, coordsOf(item));
  if (relabelled && edited) return 'both';
  if (relabelled) return 'relabelled';
  if (edited) return 'edited';
  return 'accepted';
}

export interface ClassProgress {
  done: number;
  remaining: number;
}

/** Done (any decision) and remaining (untouched) per model class ('(none)' for unclassified). */
export function progressByClass(items: readonly QueueItem[], state: (item: QueueItem) => TriageState): Map<string, ClassProgress> {
  const out = new Map<string, ClassProgress>();
  for (const it of items) {
    const k = it.classification ?? '(none)';
    const p = out.get(k) ?? { done: 0, remaining: 0 };
    if (state(it) === 'untouched') p.remaining++;
    else p.done++;
    out.set(k, p);
  }
  return out;
}

/** Whether the centre of the item's bounds lies in one of the polygons (each a list of flat rings). */
export function centreInside(item: QueueItem, polygons: readonly Float64Array[][]): boolean {
  for (const rings of polygons) {
    let inside = false;
    for (const ring of rings) {
      // even-odd over every ring: holes take points out again
      if (pointInRings(ring, 0, 4, [ring.length / 2], item.cx, item.cy)) inside = !inside;
    }
    if (inside) return true;
  }
  return false;
}

/** The colours of scores: 121 hues from red (0) through amber to green (1), then grey for no score. */
export const SCORE_COLOURS: readonly string[] = [...Array.from({ length: 121 }, (_, hue) => `hsl(${hue} 90% 45%)`), '#9e9e9e'];

/** The index of a score's colour in SCORE_COLOURS. */
export function scoreBucket(score: number | null): number {
  if (score === null) return 121;
  return Math.round(120 * Math.max(0, Math.min(1, score)));
}

/** A colour for a score: red (0) through amber to green (1); grey without a score. */
export function scoreColour(score: number | null): string {
  return SCORE_COLOURS[scoreBucket(score)] as string;
}
