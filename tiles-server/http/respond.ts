/** Response helpers: JSON problems in one place, cached bytes with ETags. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_STATUS, WsiError, isAbortError, type Problem } from '../../src/core/errors.js';

export function toProblem(err: unknown): { status: number; problem: Problem } {
  if (err instanceof WsiError) return { status: err.status, problem: err.toProblem() };
  if (isAbortError(err)) return { status: 499, problem: { code: 'BAD_REQUEST', message: 'request aborted' } };
  return { status: ERROR_STATUS.INTERNAL, problem: { code: 'INTERNAL', message: 'internal server error' } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendProblem(res: ServerResponse, err: unknown): void {
  const { status, problem } = toProblem(err);
  if (status === 499) {
    if (!res.destroyed) res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (status === 503) headers['Retry-After'] = '1';
  // refused before the body was read (413 on Content-Length, a cancelled upload): close rather
  // than read the rest, which could be gigabytes or never come
  if (res.req && !res.req.complete) headers['Connection'] = 'close';
  sendJson(res, status, problem, headers);
}

/**
 * The entity tags of an If-None-Match header (RFC 9110 §13.1.2): `*`, or a
 * list of quoted tags, each maybe weak (`W/"…"`). Tags may hold commas (IIIF
 * ETags do), so the list is scanned quote by quote, not split on commas. A
 * malformed header yields the tags before the damage.
 */
export function parseIfNoneMatch(header: string): '*' | string[] {
  if (header.trim() === '*') return '*';
  const tags: string[] = [];
  let i = 0;
  while (i < header.length) {
    const c = header[i] as string;
    if (c === ' ' || c === '\t' || c === ',') {
      i++;
      continue;
    }
    if (header.startsWith('W/', i)) i += 2;
    if (header[i] !== '"') break;
    const end = header.indexOf('"', i + 1);
    if (end < 0) break;
    tags.push(header.slice(i, end + 1));
    i = end + 1;
  }
  return tags;
}

/** Whether If-None-Match matches `etag` by weak comparison (a W/ prefix on either side is ignored). */
export function ifNoneMatchHits(header: string, etag: string): boolean {
  const tags = parseIfNoneMatch(header);
  if (tags === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  return tags.includes(opaque);
}

export interface BytesOptions {
  etag?: string;
  cacheControl?: string;
  extraHeaders?: Record<string, string>;
}

/** Sends bytes, answering 304 when the client already has this ETag. */
export function sendBytes(req: IncomingMessage, res: ServerResponse, type: string, bytes: Uint8Array | string, opts: BytesOptions = {}): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = {
    'Content-Type': type,
    'Cache-Control': opts.cacheControl ?? 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...opts.extraHeaders,
  };
  if (opts.etag) {
    headers['ETag'] = opts.etag;
    const inm = req.headers['if-none-match'];
    if (inm && ifNoneMatchHits(inm, opts.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
  }
  headers['Content-Length'] = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
