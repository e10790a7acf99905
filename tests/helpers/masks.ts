/** Small clients and codecs for the mask API in tests (independent of the server's code). */
import { randomUUID } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { zlibSync } from 'fflate';

export const T = 512;
export const TILE_BYTES = T * T;

/** A tile from a function of its pixel coordinates. */
export function tile(fill: (x: number, y: number) => number): Uint8Array {
  const px = new Uint8Array(TILE_BYTES);
  for (let y = 0; y < T; y++) for (let x = 0; x < T; x++) px[y * T + x] = fill(x, y);
  return px;
}

/** Compressed the way the browser does it (fflate's zlibSync, RFC 1950). */
export function zlib(px: Uint8Array): Uint8Array {
  return zlibSync(px, { level: 6 });
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export interface PackedTile {
  tx: number;
  ty: number;
  version: number;
  data: Buffer;
}

/** Parses the WSIM pack; throws on anything malformed. */
export function parsePack(buf: Buffer): PackedTile[] {
  if (buf.subarray(0, 4).toString('latin1') !== 'WSIM') throw new Error('bad magic');
  const n = buf.readUInt32LE(4);
  const out: PackedTile[] = [];
  let p = 8;
  for (let i = 0; i < n; i++) {
    const len = buf.readUInt32LE(p + 12);
    out.push({ tx: buf.readInt32LE(p), ty: buf.readInt32LE(p + 4), version: buf.readUInt32LE(p + 8), data: buf.subarray(p + 16, p + 16 + len) });
    p += 16 + len;
  }
  if (p !== buf.length) throw new Error(`pack has ${buf.length - p} trailing bytes`);
  return out;
}

export function inflate(data: Uint8Array): Uint8Array {
  return new Uint8Array(inflateSync(data));
}

export async function readPack(base: string, slide: string, annotator: string, bbox?: string): Promise<{ status: number; type: string | null; raw: Buffer; tiles: PackedTile[] }> {
  const res = await fetch(`${base}/api/slides/${slide}/masks/${encodeURIComponent(annotator)}/tiles${bbox ? `?bbox=${bbox}` : ''}`);
  const raw = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), raw, tiles: res.status === 200 ? parsePack(raw) : [] };
}

export interface TileOp {
  tx: number;
  ty: number;
  ifMatch?: number;
  data: string;
}

export async function postTiles<T = Record<string, unknown>>(base: string, slide: string, annotator: string, body: unknown, key: string | null = randomUUID()): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key !== null) headers['Idempotency-Key'] = key;
  const res = await fetch(`${base}/api/slides/${slide}/masks/${encodeURIComponent(annotator)}/tiles`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as T };
}

/** POSTs a label image (raw bytes with a content type, or a FormData). */
export async function postImport<T = Record<string, unknown>>(
  base: string,
  slide: string,
  annotator: string,
  query: string,
  body: Uint8Array | string | FormData,
  type: string | null = 'image/png',
  key: string | null = randomUUID(),
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (key !== null) headers['Idempotency-Key'] = key;
  if (type !== null && !(body instanceof FormData)) headers['Content-Type'] = type;
  const res = await fetch(`${base}/api/slides/${slide}/masks/${encodeURIComponent(annotator)}/import${query ? `?${query}` : ''}`, { method: 'POST', headers, body: body as BodyInit });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T };
}

/** The level-0 raster (width × height) a set of tiles describes. */
export function rasterOf(tiles: Array<{ tx: number; ty: number; px: Uint8Array }>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const t of tiles) {
    for (let y = 0; y < T; y++) {
      const Y = t.ty * T + y;
      if (Y >= height) break;
      for (let x = 0; x < T; x++) {
        const X = t.tx * T + x;
        if (X >= width) break;
        out[Y * width + X] = t.px[y * T + x] as number;
      }
    }
  }
  return out;
}

export { pngBytes } from '../../scripts/fixtures/label-images.js';

/** A brush stroke into a tile: discs of radius 5–45 along a wandering path, of one class (0 erases). */
export function stroke(px: Uint8Array, r: () => number, value: number): void {
  let x = r() * T;
  let y = r() * T;
  let a = r() * Math.PI * 2;
  const rad = 5 + r() * 40;
  for (let p = 0; p < 12; p++) {
    a += (r() - 0.5) * 0.8;
    x += Math.cos(a) * 30;
    y += Math.sin(a) * 30;
    for (let yy = Math.max(0, Math.floor(y - rad)); yy < Math.min(T, y + rad); yy++) {
      for (let xx = Math.max(0, Math.floor(x - rad)); xx < Math.min(T, x + rad); xx++) {
        if ((xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= rad * rad) px[yy * T + xx] = value;
      }
    }
  }
}

/** A random edit of a tile (a new buffer; null = an empty tile): mostly strokes of classes 1–5 or erasures, sometimes a whole new fill, scattered noise, or no change. */
export function edit(px: Uint8Array | null, r: () => number): Uint8Array {
  const out = px ? px.slice() : new Uint8Array(TILE_BYTES);
  const k = r();
  if (k < 0.75) stroke(out, r, r() < 0.15 ? 0 : 1 + Math.floor(r() * 5));
  else if (k < 0.85) out.fill(1 + Math.floor(r() * 5));
  else if (k < 0.93) for (let i = 0; i < 2000; i++) out[Math.floor(r() * TILE_BYTES)] = Math.floor(r() * 6);
  return out;
}

/** A mask as the server holds it, each tile decoded (by "tx,ty"); `fetchFn` carries the caller's credentials. */
export async function serverMask(base: string, slide: string, annotator: string, fetchFn: (url: string) => Promise<Response> = (u) => fetch(u)): Promise<Map<string, Buffer>> {
  const res = await fetchFn(`${base}/api/slides/${slide}/masks/${encodeURIComponent(annotator)}/tiles`);
  if (res.status !== 200) throw new Error(`reading the mask: ${res.status}`);
  return new Map(parsePack(Buffer.from(await res.arrayBuffer())).map((t) => [`${t.tx},${t.ty}`, inflateSync(t.data)]));
}

/** The class id at a level-0 pixel of a decoded mask (0 where no tile is). */
export function maskValueAt(tiles: ReadonlyMap<string, Uint8Array>, x: number, y: number): number {
  const t = tiles.get(`${Math.floor(x / T)},${Math.floor(y / T)}`);
  return t ? (t[(y % T) * T + (x % T)] as number) : 0;
}
