/**
 * Fetches one columnar frame (columnar-pages.ts) and decodes it: shared by
 * the loader worker and the session's in-process fallback. A refusal keeps
 * the server's status in the message; a frame that is cut short or not of
 * this version throws WsiError('COLUMNAR_INVALID').
 */
import type { PackedPage } from './annotation-pages.js';
import { decodeColumnarPage } from './columnar-pages.js';

export async function fetchColumnarPage(url: string, headers: Record<string, string>): Promise<PackedPage> {
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error(`annotations could not be loaded (${res.status})`);
  return decodeColumnarPage(new Uint8Array(await res.arrayBuffer()));
}
