/**
 * The route table: each route parses and range-checks its parameters and
 * calls the tile service. Errors become JSON problems in respond.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access, Authorized } from './authorize.js';
import { WsiError } from '../../src/core/errors.js';
import { dziTileSize, type TileResult, type TileService } from '../tile-service.js';
import { PRESENTATION_CONTEXT } from '../iiif/manifest.js';
import { sendBytes, sendJson } from './respond.js';
import type { OpenSlide } from '../slides/registry.js';
import type { SlideEntry } from '../slides/registry.js';
import { toProblem } from './respond.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  signal: AbortSignal;
  /** Who is asking and what the route's rule resolved (http/authorize.ts). */
  auth: Authorized;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Route {
  method: Method;
  pattern: RegExp;
  /** Who may call it: checked before the handler runs. */
  access: Access;
  handler: (ctx: RouteContext) => Promise<void>;
}

const TILE_CACHE_CONTROL = 'private, max-age=3600';
const ID = '([A-Za-z0-9]{1,64})';

function strictInt(s: string, what: string): number {
  if (!/^\d{1,9}$/.test(s)) throw new WsiError('BAD_REQUEST', `${what} must be a non-negative integer`);
  return Number(s);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new WsiError('BAD_REQUEST', 'malformed percent-encoding in the URL');
  }
}

function sendTile(ctx: RouteContext, t: TileResult): void {
  sendBytes(ctx.req, ctx.res, t.contentType, t.bytes, {
    etag: t.etag,
    cacheControl: TILE_CACHE_CONTROL,
    extraHeaders: { 'X-Tile-Source': t.passthrough ? 'passthrough' : 'rendered' },
  });
}

/** Public description of a slide: what GET /api/slides lists. */
export function describeSlide(entry: SlideEntry, open: OpenSlide | null, error: unknown): Record<string, unknown> {
  const base = { id: entry.id, name: entry.name, bytes: entry.size };
  if (!open) {
    const { problem } = toProblem(error);
    return {
      ...base,
      width: null,
      height: null,
      levels: 0,
      mpp: null,
      objectivePower: null,
      vendor: null,
      status: 'error',
      error: { code: problem.code, message: problem.message },
    };
  }
  const m = open.meta;
  return {
    ...base,
    width: m.width,
    height: m.height,
    levels: m.levels.length,
    mpp: m.mpp,
    objectivePower: m.objectivePower,
    vendor: m.vendor,
    status: open.probeError ? 'error' : 'ok',
    ...(open.probeError ? { error: { code: open.probeError.code, message: open.probeError.message } } : {}),
  };
}

async function describeAll(service: TileService): Promise<Array<Record<string, unknown>>> {
  await service.registry.scan();
  const entries = service.registry.list();
  const out = new Array<Record<string, unknown>>(entries.length);
  let next = 0;
  // open at most 4 slides at once
  await Promise.all(
    Array.from({ length: Math.min(4, entries.length) }, async () => {
      while (next < entries.length) {
        const i = next++;
        const e = entries[i] as SlideEntry;
        try {
          out[i] = describeSlide(e, await service.registry.get(e.id), null);
        } catch (err) {
          out[i] = describeSlide(e, null, err);
        }
      }
    }),
  );
  return out;
}

/** IIIF documents are JSON-LD to clients that ask for it, plain JSON to the rest. */
function jsonLdAccepted(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('application/ld+json');
}

/**
 * @param publicUrl where clients reach the server (PUBLIC_URL, or http://HOST:PORT): the base of
 *   IIIF ids, never the request's Host header, which a client chooses
 */
export function makeRoutes(service: TileService, health: () => Record<string, unknown>, publicUrl: () => string): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/api\/health$/,
      handler: async (ctx) => {
        // answers from memory only, so it stays fast whatever the load; 503 when slide storage is gone
        const h = { ok: true, ...health() };
        sendJson(ctx.res, h.ok ? 200 : 503, h);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/slides$/,
      handler: async (ctx) => sendJson(ctx.res, 200, { slides: await describeAll(service) }),
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${ID}$`),
      handler: async (ctx) => {
        const id = ctx.params[0] as string;
        const entry = await service.registry.entryOf(id);
        if (!entry) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${id}`);
        let open: OpenSlide | null = null;
        let error: unknown = null;
        try {
          open = await service.registry.get(id);
        } catch (err) {
          error = err;
        }
        const body = describeSlide(entry, open, error);
        if (open) {
          const m = open.meta;
          Object.assign(body, {
            tileSize: dziTileSize(m),
            levelDimensions: m.levels.map((l) => ({ width: l.width, height: l.height, downsample: l.downsample, tileWidth: l.tileWidth, tileHeight: l.tileHeight })),
            orientation: m.orientation,
            compression: m.compression,
            associatedImages: m.associated.map((a) => ({ kind: a.kind, width: a.width, height: a.height })),
            channels: m.channels,
            warnings: m.warnings,
          });
        }
        sendJson(ctx.res, 200, body);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${ID}/thumbnail$`),
      handler: async (ctx) => {
        const sizeParam = ctx.url.searchParams.get('size') ?? '256';
        const size = strictInt(sizeParam, 'size');
        if (size < 16 || size > 2048) throw new WsiError('BAD_REQUEST', 'size must be between 16 and 2048');
        sendTile(ctx, await service.thumbnail(ctx.params[0] as string, size, ctx.signal, ctx.url.searchParams.get('channels')));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/dzi/${ID}\\.dzi$`),
      handler: async (ctx) => {
        const xml = await service.dziDescriptor(ctx.params[0] as string);
        sendBytes(ctx.req, ctx.res, 'application/xml; charset=utf-8', xml, { cacheControl: 'private, no-cache' });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/dzi/${ID}_files/([^/]{1,20})/([^/_]{1,20})_([^/.]{1,20})\\.(jpeg|jpg)$`),
      handler: async (ctx) => {
        const [id, l, c, r] = ctx.params as [string, string, string, string];
        const level = strictInt(l, 'level');
        const col = strictInt(c, 'column');
        const row = strictInt(r, 'row');
        sendTile(ctx, await service.dziTile(id, level, col, row, ctx.signal, ctx.url.searchParams.get('channels')));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}$`),
      handler: async (ctx) => {
        ctx.res.writeHead(303, { Location: `/iiif/${ctx.params[0] as string}/info.json`, 'Content-Length': 0 });
        ctx.res.end();
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}/info\\.json$`),
      handler: async (ctx) => {
        const info = await service.iiifInfo(ctx.params[0] as string, publicUrl());
        const type = jsonLdAccepted(ctx.req) ? 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"' : 'application/json';
        sendBytes(ctx.req, ctx.res, type, JSON.stringify(info), { cacheControl: 'private, no-cache' });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}/manifest\\.json$`),
      handler: async (ctx) => {
        const manifest = await service.iiifManifest(ctx.params[0] as string, publicUrl());
        const type = jsonLdAccepted(ctx.req) ? `application/ld+json;profile="${PRESENTATION_CONTEXT}"` : 'application/json';
        sendBytes(ctx.req, ctx.res, type, JSON.stringify(manifest), { cacheControl: 'private, no-cache' });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}/([^/]{1,100})/([^/]{1,100})/([^/]{1,20})/([^/]{1,40})$`),
      handler: async (ctx) => {
        const [id, region, size, rotation, qf] = ctx.params.map(safeDecode) as [string, string, string, string, string];
        sendTile(ctx, await service.iiifImage(id, region, size, rotation, qf, ctx.signal, ctx.url.searchParams.get('channels')));
      },
    },
  ];
}
