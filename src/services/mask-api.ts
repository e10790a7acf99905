/** The browser's client for the mask API (see docs/masks.md). */
import { authHeaders, postChange } from './http.js';

/** One tile write as the server takes it: base64 of the zlib-compressed 512 × 512 class ids. */
export interface MaskTileWireOp {
  tx: number;
  ty: number;
  ifMatch: number;
  data: string;
}

export interface MaskTileResult {
  tx: number;
  ty: number;
  version: number;
}

export interface MaskBatchResponse {
  status: number;
  body: {
    results?: MaskTileResult[];
    code?: string;
    message?: string;
    detail?: { index?: number; current?: { tx: number; ty: number; version: number } };
  };
}

export interface RasterizeBody {
  annotations?: string[];
  objectTypes?: string[];
  /** Paint only unlabelled pixels. */
  keepPainted?: boolean;
  /** Write nothing: answer what a run would change. */
  dryRun?: boolean;
}

/** The server's answer (a run's, or a dry run's preview). */
export interface RasterizeAnswer {
  painted?: number;
  tiles?: number;
  newPixels?: number;
  /** Dry run: painted pixels per class id inside the regions that painting over would change. */
  overwrite?: Record<string, number>;
  overwritePixels?: number;
  overwriteTiles?: number;
  /** A run: what it overwrote, or (keepPainted) left alone, per class id. */
  overwritten?: Record<string, number>;
  kept?: Record<string, number>;
  message?: string;
  skipped?: Array<{ id: string; reason: string }>;
}

export interface RegionHistory {
  operations: Array<{ seq: number; opId: string; op: string; author: string; at: string; tiles: Array<{ tx: number; ty: number; version: number }> }>;
  truncated: boolean;
  authors: Record<string, { username: string; displayName: string } | null>;
}

export class MaskApi {
  constructor(
    readonly server: string,
    readonly slide: string,
    readonly annotator: string,
  ) {}

  static async me(server: string): Promise<string> {
    return (await MaskApi.identity(server)).user;
  }

  /** The signed-in user's id and the name to show for it. */
  static async identity(server: string): Promise<{ user: string; displayName: string | null }> {
    const url = `${server}/api/me`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(`the user could not be read (${res.status})`);
    const b = (await res.json()) as { user: string; displayName?: string; username?: string };
    return { user: b.user, displayName: b.displayName ?? b.username ?? null };
  }

  /** The annotators with a mask on a slide that the caller may see (the server applies the blind rule). */
  static async annotators(server: string, slide: string): Promise<string[]> {
    const url = `${server}/api/slides/${encodeURIComponent(slide)}/masks`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(`the slide's masks could not be listed (${res.status})`);
    const b = (await res.json()) as { masks?: Array<{ annotator?: unknown }> };
    return (b.masks ?? []).map((m) => m.annotator).filter((a): a is string => typeof a === 'string');
  }

  private base(): string {
    return `${this.server}/api/slides/${encodeURIComponent(this.slide)}/masks/${encodeURIComponent(this.annotator)}`;
  }

  /** The tile pack, whole or within a level-0 box. */
  packUrl(bbox?: [number, number, number, number]): string {
    return bbox ? `${this.base()}/tiles?bbox=${bbox.map((v) => Math.round(v)).join(',')}` : `${this.base()}/tiles`;
  }

  batch(opId: string, ops: MaskTileWireOp[], signal?: AbortSignal): Promise<MaskBatchResponse> {
    return postChange<MaskBatchResponse['body']>(`${this.base()}/tiles`, opId, { ops }, signal);
  }

  /** Paints regions of interest into the mask on the server (largest first; see docs/masks.md); `dryRun` only says what it would change. */
  rasterize(opId: string, body: RasterizeBody): Promise<{ status: number; body: RasterizeAnswer }> {
    return postChange(`${this.base()}/rasterize`, opId, body);
  }

  /** The operations that wrote tiles under a level-0 box, newest first (docs/masks.md, "Region history"). */
  async regionHistory(bbox: [number, number, number, number]): Promise<RegionHistory> {
    const url = `${this.base()}/history?bbox=${bbox.map((v) => Math.round(v)).join(',')}`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(`the mask history could not be loaded (${res.status}: ${((await res.json().catch(() => ({}))) as { message?: string }).message ?? ''})`);
    return (await res.json()) as RegionHistory;
  }

  /** Each tile's version under the box right after operation `seq`, and now (0 = no tile). */
  async regionAsOf(bbox: [number, number, number, number], seq: number): Promise<Array<{ tx: number; ty: number; then: number; now: number }>> {
    const url = `${this.base()}/history?bbox=${bbox.map((v) => Math.round(v)).join(',')}&asOf=${seq}`;
    const res = await fetch(url, { headers: authHeaders(url) });
    if (!res.ok) throw new Error(`the mask history could not be loaded (${res.status})`);
    return ((await res.json()) as { tiles: Array<{ tx: number; ty: number; then: number; now: number }> }).tiles;
  }

  /** One version of one tile, as a pack. */
  versionUrl(tx: number, ty: number, version: number): string {
    return `${this.base()}/tiles/${tx}/${ty}/versions/${version}`;
  }

  exportUrl(): string {
    return `${this.base()}/export.tiff`;
  }

  summaryUrl(): string {
    return `${this.base()}/summary`;
  }
}

/** Base64 of bytes (chunked, so large tiles do not overflow the argument list). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
