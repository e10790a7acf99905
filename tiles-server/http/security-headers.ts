/**
 * Headers every response carries: a Content-Security-Policy that allows no
 * inline script and no other origin's code, with `frame-ancestors` from
 * EMBED_ORIGINS (which sites may frame the app); no MIME sniffing; no
 * Referer leaving the page (it would carry slide ids); and HSTS under TLS
 * (the server's own, or PUBLIC_URL https behind a proxy).
 */
import type { ServerResponse } from 'node:http';

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

export function securityHeaders(o: SecurityHeaderOptions): (res: ServerResponse) => void {
  const csp = contentSecurityPolicy(o.embedOrigins);
  return (res) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (o.https) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  };
}
