/**
 * The site and stain of a project slide (issue 15): read by the project's
 * members, set by its managers. The values go in bodies only, never in a
 * URL (they may narrow down a patient).
 */
import { authHeaders, changeHeaders } from './http.js';
import { ApiError } from './slide-api.js';

export interface SlideDescriptors {
  version: number;
  site: string | null;
  stain: string | null;
  setBy: string | null;
  setAt: string | null;
}

/** Longest site or stain the server takes (tiles-server/store/slide-descriptors.ts). */
export const MAX_DESCRIPTOR = 120;

const url = (server: string, slide: string): string => `${server}/api/slides/${encodeURIComponent(slide)}/descriptors`;

async function answer(res: Response): Promise<SlideDescriptors> {
  const body = (await res.json().catch(() => ({}))) as SlideDescriptors & { code?: string; message?: string };
  if (!res.ok) throw new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.message ?? res.statusText);
  return body;
}

export async function getDescriptors(server: string, slide: string, signal?: AbortSignal): Promise<SlideDescriptors> {
  const u = url(server, slide);
  return answer(await fetch(u, { signal: signal ?? null, headers: { ...authHeaders(u), Accept: 'application/json' } }));
}

/** Sets both fields ("" clears one), from the version that was shown: a 412 means someone changed them meanwhile. */
export async function setDescriptors(server: string, slide: string, version: number, site: string, stain: string): Promise<SlideDescriptors> {
  const u = url(server, slide);
  return answer(
    await fetch(u, {
      method: 'PUT',
      headers: changeHeaders({ ...authHeaders(u), 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() }),
      body: JSON.stringify({ version, site, stain }),
    }),
  );
}
