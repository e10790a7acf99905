/**
 * Fetches one columnar frame (columnar-pages.ts) and decodes it to columns:
 * shared by the loader worker and the session's in-process fallback. A
 * refusal keeps the server's status in the message; a frame that is cut
 * short or not of this version throws WsiError('COLUMNAR_INVALID').
 */
import { decodeColumnarColumns, type ColumnarColumns } from './columnar-pages.js';

export async function fetchColumnarColumns(url: string, headers: Record<string, string>): Promise<ColumnarColumns> {
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error(`annotations could not be loaded (${res.status})`);
  return decodeColumnarColumns(new Uint8Array(await res.arrayBuffer()));
}
