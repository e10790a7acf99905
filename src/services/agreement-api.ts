/**
 * The browser's client for the agreement routes (docs/agreement.md): the
 * readers with a mask on a slide, the disagreement map's description and
 * its PNG tiles (as bitmaps), and who said what at a point. Reviewers and
 * managers only: the server answers 403 to anyone else.
 */
import { authHeaders } from './http.js';

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

  /** Every annotator with a mask on the slide. */
  async readers(): Promise<string[]> {
    const r = await this.json<{ masks: Array<{ annotator: string }> }>(this.url('/masks'));
    return r.masks.map((m) => m.annotator);
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

  point(readers: readonly string[], x: number, y: number): Promise<PointReading> {
    return this.json<PointReading>(this.url(`/agreement/point?x=${Math.floor(x)}&y=${Math.floor(y)}&readers=${readers.map(encodeURIComponent).join(',')}`));
  }
}
