/**
 * Sends an export file made in a temporary place (a mask's TIFF, the soft
 * labels) as a download, and removes it once sent, whether the client
 * took it whole, went away, or asked with HEAD.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { ExportedFile } from '../mask-service.js';
import { attachment } from './download-name.js';
import type { RouteContext } from './routes.js';

export async function sendExport(ctx: RouteContext, file: ExportedFile, contentType: string, name: string): Promise<void> {
  try {
    ctx.res.writeHead(200, {
      'Content-Type': contentType,
      'Content-Length': file.bytes,
      'Content-Disposition': attachment(name),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    if (ctx.req.method === 'HEAD') ctx.res.end();
    else await pipeline(createReadStream(file.path), ctx.res, { signal: ctx.signal });
  } finally {
    await file.cleanup();
  }
}
