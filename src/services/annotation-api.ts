/** The browser's client for the annotation API. */
import type { Annotation, AnnotationClass } from '../core/annotation.js';
import { authHeaders, changeHeaders, postChange } from './http.js';

export type BatchOpJson =
  | { op: 'create'; annotation: Record<string, unknown>; parent?: string }
  | { op: 'update'; id: string; ifMatch: number; changes: Record<string, unknown> }
  | { op: 'delete'; id: string; ifMatch: number }
  | { op: 'restore'; id: string; ifMatch: number; toVersion?: number };

export interface BatchResponse {
  status: number;
  body: {
    results?: Array<{ id: string; version: number; deleted: boolean }>;
    code?: string;
    message?: string;
    detail?: { index?: number; current?: Annotation };
  };
}

export interface AuthorName {
  username: string;
  displayName: string;
}

export interface ObjectHistory {
  id: string;
  history: Array<{ version: number; op: string; author: string; at: string; annotation: Omit<Annotation, 'version'> & { deleted?: boolean } }>;
  authors: Record<string, AuthorName | null>;
}

/** A page of a slide's deleted objects, latest deletion first (`updatedBy`/`updatedAt`: who deleted each, when). */
export interface DeletedPage {
  annotations: Annotation[];
  next: number | null;
  authors: Record<string, AuthorName | null>;
}

export interface Page {
  annotations: Annotation[];
  next: number | null;
  total: number;
}

export class AnnotationApi {
  constructor(
    readonly server: string,
    readonly slide: string,
  ) {}

  private base(): string {
    return `${this.server}/api/slides/${encodeURIComponent(this.slide)}/annotations`;
  }

  /** A page of the listing; `importOp`: only the live objects that import (its operation id) made. */
  pageUrl(opts: { bbox?: [number, number, number, number]; importOp?: string; after?: number; limit?: number; layer?: 'working' | 'model' | 'corrected' | 'manual' }): string {
    const q = new URLSearchParams({ view: 'lean', limit: String(opts.limit ?? 10_000) });
    if (opts.importOp) q.set('import', opts.importOp);
    // the working layer: a prediction's corrected object in its place (docs/ai-corrections.md)
    if (opts.layer) q.set('layer', opts.layer);
    if (opts.after) q.set('after', String(opts.after));
    if (opts.bbox) q.set('bbox', opts.bbox.map((v) => Math.round(v)).join(','));
    return `${this.base()}?${q.toString()}`;
  }

  /** The same page in the binary columnar form (src/core/columnar-pages.ts, version 1). */
  columnarUrl(opts: { bbox?: [number, number, number, number]; importOp?: string; after?: number; limit?: number; layer?: 'working' | 'model' | 'corrected' | 'manual' }): string {
    const q = new URL(this.pageUrl(opts), 'http://x').searchParams;
    q.delete('view');
    q.set('v', '1');
    return `${this.server}/api/slides/${encodeURIComponent(this.slide)}/annotations-columnar?${q.toString()}`;
  }

  async page(opts: { bbox?: [number, number, number, number]; after?: number; limit?: number; layer?: 'working' | 'model' | 'corrected' | 'manual' }, signal?: AbortSignal): Promise<Page> {
    const url = this.pageUrl(opts);
    const res = await fetch(url, { signal: signal ?? null, headers: authHeaders(url) });
    if (!res.ok) throw new Error(`annotations could not be loaded (${res.status})`);
    return (await res.json()) as Page;
  }

  async get(id: string): Promise<Annotation | null> {
    const url = `${this.base()}/${encodeURIComponent(id)}`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`annotation ${id} could not be loaded (${res.status})`);
    return (await res.json()) as Annotation;
  }

  /** Every version of an object, oldest first, with its authors' account names (null: not shown to this user). */
  async history(id: string): Promise<ObjectHistory> {
    const url = `${this.base()}/${encodeURIComponent(id)}/history`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(res.status === 404 ? 'this object has no history on the server yet (not saved)' : `the history could not be loaded (${res.status})`);
    return (await res.json()) as ObjectHistory;
  }

  /** The slide's deleted objects, latest deletion first; `before` is the previous page's `next`. */
  async deleted(before?: number): Promise<DeletedPage> {
    const url = `${this.server}/api/slides/${encodeURIComponent(this.slide)}/deleted-annotations?limit=200${before !== undefined ? `&before=${before}` : ''}`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(`the deleted objects could not be listed (${res.status})`);
    return (await res.json()) as DeletedPage;
  }

  /** Sends one batch; network failures throw, HTTP answers are returned. */
  batch(opId: string, ops: BatchOpJson[], signal?: AbortSignal): Promise<BatchResponse> {
    return postChange<BatchResponse['body']>(`${this.base()}/batch`, opId, { ops }, signal);
  }

  /** The palette of the project this slide is opened in. */
  async classes(): Promise<AnnotationClass[]> {
    const url = `${this.server}/api/slides/${encodeURIComponent(this.slide)}/classes`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(`classes could not be loaded (${res.status})`);
    return ((await res.json()) as { classes: AnnotationClass[] }).classes;
  }

  exportUrl(format: 'qupath-geojson' | 'asap-xml'): string {
    return `${this.base()}/export?format=${format}`;
  }

  /** Uploads an annotation file, reporting upload progress (0…1). */
  importFile(format: string, file: Blob, opId: string, onProgress: (f: number) => void): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const url = `${this.base()}/import?format=${encodeURIComponent(format)}`;
      xhr.open('POST', url);
      for (const [name, value] of Object.entries(changeHeaders(authHeaders(url)))) xhr.setRequestHeader(name, value);
      xhr.setRequestHeader('Idempotency-Key', opId);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(xhr.responseText) as Record<string, unknown>;
        } catch {
          body = { message: xhr.responseText.slice(0, 200) };
        }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () => reject(new Error('the upload failed (network)'));
      xhr.send(file);
    });
  }
}
