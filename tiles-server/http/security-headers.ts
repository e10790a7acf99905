/**
 * Headers every response carries: a Content-Security-Policy (for the app's
 * pages, one that allows no inline script and no other origin's code; for
 * everything else, which is data, one that allows nothing), with `frame-ancestors` from
 * EMBED_ORIGINS (which sites may frame the app); no MIME sniffing; no
 * Referer leaving the page (it would carry slide ids); and HSTS under TLS
 * (the server's own, or PUBLIC_URL https behind a proxy).
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

export interface SecurityHeaderOptions {
  /** Origins that may show the app in a frame (EMBED_ORIGINS); the app's own always may. */
  embedOrigins: readonly string[];
  /** Served over TLS (TLS_CERT, or PUBLIC_URL https): browsers are told to use nothing else. */
  https: boolean;
}

export function contentSecurityPolicy(embedOrigins: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    // index.html's one <style> block and the style attributes OpenSeadragon sets
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${["'self'", ...embedOrigins].join(' ')}`,
  ].join('; ');
}

/**
 * The policy of answers that are not pages (JSON, tiles, files): nothing in
 * them may load or run anything, and they may be framed only where pages may.
 */
export function dataPolicy(embedOrigins: readonly string[]): string {
  return `default-src 'none'; frame-ancestors ${["'self'", ...embedOrigins].join(' ')}`;
}

type Headers = Record<string, string>;

/**
 * The server's response class: it adds the headers as the status line is
 * written (every answer writes it: explicitly, or implicitly at its first
 * byte), merged into the headers the answer gives there. Setting them on
 * each response beforehand took Node's slower path of merging set headers
 * into every tile's; this keeps a tile's headers one object. A page of the
 * app (static files) is marked with `asPage(res)` and gets the page policy.
 */
export function secureResponseClass(o: SecurityHeaderOptions): typeof ServerResponse {
  const common: Headers = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', ...(o.https ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}) };
  const data: Headers = { 'Content-Security-Policy': dataPolicy(o.embedOrigins), ...common };
  const page: Headers = { 'Content-Security-Policy': contentSecurityPolicy(o.embedOrigins), ...common };
  return class SecureResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {
    override writeHead(statusCode: number, reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
      const security = pages.has(this) ? page : data;
      if (typeof reason !== 'string') return super.writeHead(statusCode, withHeaders(reason, security));
      return super.writeHead(statusCode, reason, withHeaders(headers, security));
    }
  };
}

const pages = new WeakSet<ServerResponse>();

/** Marks an answer as a page of the app: it gets the page policy instead of the data policy. */
export function asPage(res: ServerResponse): void {
  pages.add(res);
}

/** The answer's headers with the security headers it does not give itself (added to its own object: no copy per tile). */
function withHeaders(given: OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined, security: Headers): OutgoingHttpHeaders | OutgoingHttpHeader[] {
  if (given === undefined) return { ...security };
  if (Array.isArray(given)) return [...given, ...Object.entries(security).flat()];
  for (const name in security) if (given[name] === undefined) given[name] = security[name];
  return given;
}
