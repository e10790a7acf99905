/** Typed access to the tiles-server's slide API. */
import type { ErrorCode } from '../core/errors.js';
import type { SlideAccess } from '../core/slide-access.js';
import { authHeaders } from './http.js';

export interface SlideSummary {
  /** The project-slide id (what every slide URL takes). */
  id: string;
  name: string;
  /** The project this slide is listed under, and its study code. */
  project?: string;
  studyCode?: string;
  bytes: number;
  width: number | null;
  height: number | null;
  levels: number;
  mpp: number | null;
  objectivePower: number | null;
  vendor: string | null;
  status: 'ok' | 'error';
  error?: { code: ErrorCode; message: string };
  /** In the slide list only: when it was added to the project, its folder (null for those who see study codes), and the work on it the caller may see. */
  addedAt?: string;
  folder?: string | null;
  objects?: number;
  labelledPx?: number;
}

export interface SlideDetail extends SlideSummary {
  tileSize?: number;
  levelDimensions?: Array<{ width: number; height: number; downsample: number; tileWidth?: number; tileHeight?: number }>;
  warnings?: string[];
  /** How the stored tiles are compressed (jpeg, jp2k, lzw, deflate, …). */
  compression?: string;
  /** The label and macro (may carry PHI): listed to those allowed to see them only. */
  associatedImages?: Array<{ kind: string; width: number; height: number }>;
  /** Named channels of a multi-channel slide, else null. */
  channels?: Array<{ name: string; color: [number, number, number]; biomarker?: string }> | null;
  /** The caller's role and actions in the project the slide is opened in. */
  access?: SlideAccess;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { signal: signal ?? null, headers: { ...authHeaders(url), Accept: 'application/json' } });
  if (!res.ok) {
    let code = 'HTTP_ERROR';
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { code?: string; message?: string };
      code = body.code ?? code;
      message = body.message ?? message;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, code, message);
  }
  return (await res.json()) as T;
}

export function listSlides(server: string, signal?: AbortSignal): Promise<SlideSummary[]> {
  return getJson<{ slides: SlideSummary[] }>(`${server}/api/slides`, signal).then((r) => r.slides);
}

export function getSlide(server: string, id: string, signal?: AbortSignal): Promise<SlideDetail> {
  return getJson<SlideDetail>(`${server}/api/slides/${encodeURIComponent(id)}`, signal);
}

export function thumbnailUrl(server: string, id: string, size: number): string {
  return `${server}/api/slides/${encodeURIComponent(id)}/thumbnail?size=${size}`;
}

export function dziUrl(server: string, id: string): string {
  return `${server}/dzi/${encodeURIComponent(id)}.dzi`;
}
