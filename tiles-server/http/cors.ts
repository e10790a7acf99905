/**
 * Cross-origin reads (CORS) in one place: which origins CORS_ORIGINS lets
 * read our responses, and the answer to OPTIONS. A browser sends a preflight
 * OPTIONS before a cross-origin GET that carries more than the safelisted
 * headers: IIIF viewers ask for info.json with
 * `Accept: application/ld+json;profile="…"`, and a conditional request
 * carries If-None-Match. Only reads (GET, HEAD) are open to other origins;
 * writes stay same-origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WsiError } from '../../src/core/errors.js';
import type { Route } from './routes.js';

/** Request headers a cross-origin reader may send. */
export const CORS_ALLOWED_HEADERS = ['Accept', 'Authorization', 'Accept-Language', 'Content-Language', 'Cache-Control', 'If-Modified-Since', 'If-None-Match', 'Range'];
/** Response headers a cross-origin reader may see besides the safelisted ones. */
const CORS_EXPOSED_HEADERS = ['ETag', 'X-Tile-Source'];
const CORS_METHODS = ['GET', 'HEAD'];
/** How long a browser may reuse a preflight answer (Chromium caps this at 2 h). */
export const PREFLIGHT_MAX_AGE_S = 600;

/** The Access-Control-Allow-Origin value for `origin`, or null when it may not read. */
export function allowedOrigin(origin: string | undefined, allowed: readonly string[]): string | null {
  if (!origin) return null;
  if (allowed.includes('*')) return '*';
  return allowed.includes(origin) ? origin : null;
}

/** Marks an ordinary response readable by the request's origin when CORS_ORIGINS allows it. */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowed: readonly string[]): void {
  if (allowed.length > 0 && !allowed.includes('*')) res.setHeader('Vary', 'Origin');
  const value = allowedOrigin(req.headers.origin, allowed);
  if (!value) return;
  res.setHeader('Access-Control-Allow-Origin', value);
  res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS.join(', '));
}

/** Methods the route table serves at `pathname` (static files: GET), or null when nothing is there. */
function methodsAt(routes: readonly Route[], pathname: string): string[] | null {
  const methods = new Set<string>();
  for (const r of routes) if (r.pattern.test(pathname)) methods.add(r.method);
  if (methods.size === 0) return /^\/(api|dzi|iiif)(\/|$)/.test(pathname) ? null : ['GET', 'HEAD'];
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods];
}

/**
 * Answers an OPTIONS request and returns true, or returns false for any
 * other method. A preflight from an allowed origin for a read gets 204 with
 * the allowed methods, headers and how long to cache the answer; one from an
 * origin CORS_ORIGINS does not list, or for a write, is refused with 403. A
 * plain OPTIONS (no Origin) is told the methods in `Allow`.
 */
export function answerOptions(routes: readonly Route[], req: IncomingMessage, res: ServerResponse, pathname: string, allowed: readonly string[]): boolean {
  if (req.method !== 'OPTIONS') return false;
  const methods = methodsAt(routes, pathname);
  if (!methods) throw new WsiError('NOT_FOUND', `no route for ${pathname.slice(0, 200)}`);
  const origin = req.headers.origin;
  const requested = req.headers['access-control-request-method'];
  if (origin === undefined || typeof requested !== 'string') {
    res.writeHead(204, { Allow: [...methods, 'OPTIONS'].join(', '), 'Content-Length': 0 });
    res.end();
    return true;
  }
  const value = allowedOrigin(origin, allowed);
  if (!value) throw new WsiError('FORBIDDEN', 'this origin is not allowed to read from this server (see CORS_ORIGINS)');
  if (!CORS_METHODS.includes(requested) || !methods.includes(requested)) {
    throw new WsiError('FORBIDDEN', `cross-origin ${requested.slice(0, 20)} requests are not allowed here; only ${CORS_METHODS.join(' and ')}`);
  }
  res.writeHead(204, {
    'Access-Control-Allow-Origin': value,
    'Access-Control-Allow-Methods': CORS_METHODS.join(', '),
    'Access-Control-Allow-Headers': CORS_ALLOWED_HEADERS.join(', '),
    'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_S),
    Vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    'Content-Length': 0,
  });
  res.end();
  return true;
}
