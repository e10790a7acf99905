/** Serves the built web app from one folder, never outside it. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WsiError } from '../../src/core/errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  const rootAbs = resolve(root);
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    throw new WsiError('BAD_REQUEST', 'malformed percent-encoding in the URL');
  }
  if (rel.includes('\0')) throw new WsiError('BAD_REQUEST', 'NUL byte in path');
  let file = normalize(join(rootAbs, rel));
  if (file !== rootAbs && !file.startsWith(rootAbs + sep)) throw new WsiError('NOT_FOUND', 'not found');
  let st = await stat(file).catch(() => null);
  if (st?.isDirectory()) {
    file = join(file, 'index.html');
    st = await stat(file).catch(() => null);
  }
  if (!st || !st.isFile()) {
    // client-side routes fall back to the app shell; missing assets are 404
    if (extname(rel) !== '') throw new WsiError('NOT_FOUND', 'not found');
    file = join(rootAbs, 'index.html');
    st = await stat(file).catch(() => null);
    if (!st) throw new WsiError('NOT_FOUND', 'the web app is not built; run npm run build');
  }
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  const etag = `"${st.size.toString(36)}-${Math.trunc(st.mtimeMs).toString(36)}"`;
  const immutable = file.includes(`${sep}assets${sep}`);
  const headers: Record<string, string | number> = {
    'Content-Type': type,
    ETag: etag,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['Content-Length'] = st.size;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await new Promise<void>((resolveDone) => {
    const stream = createReadStream(file);
    stream.on('error', () => {
      res.destroy();
      resolveDone();
    });
    stream.on('end', () => resolveDone());
    stream.pipe(res);
  });
}
