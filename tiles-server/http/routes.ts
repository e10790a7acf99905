/**
 * The route table: each route parses and range-checks its parameters and
 * calls the tile service. Errors become JSON problems in respond.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access, Authorized } from './authorize.js';
import { WsiError } from '../../src/core/errors.js';
import type { SlideScope } from '../identity/access-service.js';
import type { Principal } from '../identity/auth-service.js';
import { WRITE_ACTIONS } from '../identity/permissions.js';
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
  /** A GET whose successful answers are audited too (as 'read'); changes and exports always are. */
  auditReads?: true;
  handler: (ctx: RouteContext) => Promise<void>;
  /**
   * An image request (a tile, a IIIF image, a thumbnail): it waits its turn
   * in the server's image queue before anything else is done for it
   * (admission.ts), so a crowd of viewers never delays the rest.
   */
  image?: true;
}

/** Private (never in a shared cache), and varying on the credential that fetched it (SEC-03). */
const TILE_CACHE_CONTROL = 'private, max-age=3600';
const TILE_VARY = 'Cookie, Authorization';

/** The project slide the route's rule resolved (routes whose rule is `{ slide: n }`). */
export function slideScope(ctx: RouteContext): SlideScope {
  const s = ctx.auth.slide;
  if (!s) throw new WsiError('INTERNAL', 'this route has no slide rule');
  return s;
}

/** The signed-in caller (routes whose rule needs one). */
export function principal(ctx: RouteContext): Principal {
  const p = ctx.auth.principal;
  if (!p) throw new WsiError('UNAUTHENTICATED', 'sign in to continue');
  return p;
}

/** A slide as one of a caller's projects holds it. */
export interface VisibleSlide {
  /** The project-slide id (what every slide URL takes). */
  id: string;
  /** The slide in the folder. */
  slideId: string;
  projectId: string;
  studyCode: string;
  seesFileNames: boolean;
  /** Whether the caller sees others' annotations and masks here (not in blind projects, but for managers and reviewers). */
  seesOthers: boolean;
  /** When the slide was added to the project. */
  addedAt: string;
}

/** What has been done on a slide, as far as the caller may see it: the slide list's badge. */
export interface SlideWork {
  objects: number;
  /** Labelled mask pixels, summed over the masks the caller sees. */
  labelledPx: number;
}

/**
 * /api/health's answer, from memory only so it stays fast whatever the
 * load: up (200) or down (503: slide storage gone, store damaged) for
 * anyone, `details` only for admins.
 */
export function sendHealth(res: ServerResponse, up: boolean, details: Record<string, unknown> | null): void {
  sendJson(res, up ? 200 : 503, details ? { ok: up, ...details } : { ok: up });
}

export interface TileRoutesOptions {
  /** Whether the server can serve (the `ok` of /api/health). */
  up: () => boolean;
  /** /api/health's details for admins. */
  health: () => Record<string, unknown>;
  publicUrl: () => string;
  /** The slides of every project the caller is in. */
  visibleSlides: (p: Principal) => Promise<VisibleSlide[]>;
  /** The work on a slide the caller may see (`userId`'s own only, where others' is hidden). */
  workOn: (v: VisibleSlide, userId: string) => SlideWork;
  /** Notes a read of a slide's pixels for the audit log (first per session, then counts). */
  viewed: (ctx: RouteContext) => void;
}
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
    extraHeaders: { 'X-Tile-Source': t.passthrough ? 'passthrough' : 'rendered', Vary: [ctx.res.getHeader('Vary'), TILE_VARY].filter(Boolean).join(', ') },
  });
}

/**
 * Public description of a slide: what GET /api/slides lists, under the
 * project-slide id; blind projects show the study code instead of the file name.
 */
export function describeSlide(entry: SlideEntry, open: OpenSlide | null, error: unknown, as?: Pick<VisibleSlide, 'id' | 'slideId' | 'projectId' | 'studyCode' | 'seesFileNames'>): Record<string, unknown> {
  const base = as
    ? { id: as.id, name: as.seesFileNames ? entry.name : as.studyCode, studyCode: as.studyCode, project: as.projectId, bytes: entry.size }
    : { id: entry.id, name: entry.name, bytes: entry.size };
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

/**
 * The slide list: each slide as describeSlide gives it, with when it was
 * added to the project, its folder in the slide folder (only to those who
 * see file names: folder names can carry PHI, TEST-CATALOGUE DEID-10), and
 * the work on it the caller may see.
 */
async function describeAll(service: TileService, visible: VisibleSlide[], workOn: (v: VisibleSlide) => SlideWork): Promise<Array<Record<string, unknown>>> {
  await service.registry.scan();
  const shown = visible.flatMap((v) => {
    const e = service.registry.entry(v.slideId);
    return e ? [{ e, v }] : [];
  });
  const out = new Array<Record<string, unknown>>(shown.length);
  let next = 0;
  // open at most 4 slides at once
  await Promise.all(
    Array.from({ length: Math.min(4, shown.length) }, async () => {
      while (next < shown.length) {
        const i = next++;
        const { e, v } = shown[i] as { e: SlideEntry; v: VisibleSlide };
        let d: Record<string, unknown>;
        try {
          d = describeSlide(e, await service.registry.get(e.id), null, v);
        } catch (err) {
          d = describeSlide(e, null, err, v);
        }
        const slash = e.name.lastIndexOf('/');
        out[i] = { ...d, addedAt: v.addedAt, folder: v.seesFileNames && slash > 0 ? e.name.slice(0, slash) : null, ...workOn(v) };
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
export function makeRoutes(service: TileService, o: TileRoutesOptions): Route[] {
  const { publicUrl } = o;
  const view = { slide: 0, action: 'view' } as const;
  return [
    {
      method: 'GET',
      pattern: /^\/api\/health$/,
      access: { public: 'up or down for load balancers; the details only for admins' },
      handler: async (ctx) => {
        // (a request without credentials is answered before dispatch: answerHealth in app.ts)
        if (ctx.auth.principal?.user.globalRole === 'admin') sendHealth(ctx.res, o.up(), o.health());
        else sendHealth(ctx.res, o.up(), null);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/slides$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = principal(ctx);
        sendJson(ctx.res, 200, { slides: await describeAll(service, await o.visibleSlides(p), (v) => o.workOn(v, p.user.id)) });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${ID}$`),
      access: view,
      handler: async (ctx) => {
        const scope = slideScope(ctx);
        const id = scope.slideId;
        const entry = await service.registry.entryOf(id);
        if (!entry) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${scope.projectSlideId}`);
        let open: OpenSlide | null = null;
        let error: unknown = null;
        try {
          open = await service.registry.get(id);
        } catch (err) {
          error = err;
        }
        const body = describeSlide(entry, open, error, {
          id: scope.projectSlideId,
          slideId: id,
          projectId: scope.project.id,
          studyCode: scope.studyCode,
          seesFileNames: scope.seesFileNames,
        });
        // what the caller may do here, so the viewer disables what the server would refuse (and says why);
        // a read-scoped token changes nothing, whatever its user's role
        const credential = principal(ctx).scope;
        body['access'] = {
          projectName: scope.project.name,
          role: scope.role,
          editingMode: scope.project.editingMode,
          blind: scope.project.blind,
          credential,
          actions: [...scope.actions].filter((a) => credential === 'write' || !WRITE_ACTIONS.has(a)).sort(),
        };
        if (open) {
          const m = open.meta;
          Object.assign(body, {
            tileSize: dziTileSize(m),
            levelDimensions: m.levels.map((l) => ({ width: l.width, height: l.height, downsample: l.downsample, tileWidth: l.tileWidth, tileHeight: l.tileHeight })),
            orientation: m.orientation,
            compression: m.compression,
            // the label and macro may carry PHI: listed only to those who may see them (managers by default)
            associatedImages: scope.actions.has('view-associated') ? m.associated.map((a) => ({ kind: a.kind, width: a.width, height: a.height })) : [],
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
      image: true,
      access: view,
      handler: async (ctx) => {
        const sizeParam = ctx.url.searchParams.get('size') ?? '256';
        const size = strictInt(sizeParam, 'size');
        if (size < 16 || size > 2048) throw new WsiError('BAD_REQUEST', 'size must be between 16 and 2048');
        o.viewed(ctx);
        sendTile(ctx, await service.thumbnail(slideScope(ctx).slideId, size, ctx.signal, ctx.url.searchParams.get('channels')));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/dzi/${ID}\\.dzi$`),
      access: view,
      handler: async (ctx) => {
        const xml = await service.dziDescriptor(slideScope(ctx).slideId);
        sendBytes(ctx.req, ctx.res, 'application/xml; charset=utf-8', xml, { cacheControl: 'private, no-cache' });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/dzi/${ID}_files/([^/]{1,20})/([^/_]{1,20})_([^/.]{1,20})\\.(jpeg|jpg)$`),
      image: true,
      access: view,
      handler: async (ctx) => {
        const [, l, c, r] = ctx.params as [string, string, string, string];
        const id = slideScope(ctx).slideId;
        const level = strictInt(l, 'level');
        const col = strictInt(c, 'column');
        const row = strictInt(r, 'row');
        const tile = await service.dziTile(id, level, col, row, ctx.signal, ctx.url.searchParams.get('channels'));
        o.viewed(ctx);
        sendTile(ctx, tile);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}$`),
      access: view,
      handler: async (ctx) => {
        ctx.res.writeHead(303, { Location: `/iiif/${ctx.params[0] as string}/info.json`, 'Content-Length': 0 });
        ctx.res.end();
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}/info\\.json$`),
      access: view,
      handler: async (ctx) => {
        const scope = slideScope(ctx);
        const info = await service.iiifInfo(scope.slideId, publicUrl(), scope.projectSlideId);
        const type = jsonLdAccepted(ctx.req) ? 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"' : 'application/json';
        sendBytes(ctx.req, ctx.res, type, JSON.stringify(info), { cacheControl: 'private, no-cache' });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}/manifest\\.json$`),
      access: view,
      handler: async (ctx) => {
        const scope = slideScope(ctx);
        const manifest = await service.iiifManifest(scope.slideId, publicUrl(), scope.projectSlideId);
        const type = jsonLdAccepted(ctx.req) ? `application/ld+json;profile="${PRESENTATION_CONTEXT}"` : 'application/json';
        sendBytes(ctx.req, ctx.res, type, JSON.stringify(manifest), { cacheControl: 'private, no-cache' });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/iiif/${ID}/([^/]{1,100})/([^/]{1,100})/([^/]{1,20})/([^/]{1,40})$`),
      image: true,
      access: view,
      handler: async (ctx) => {
        const [, region, size, rotation, qf] = ctx.params.map(safeDecode) as [string, string, string, string, string];
        const tile = await service.iiifImage(slideScope(ctx).slideId, region, size, rotation, qf, ctx.signal, ctx.url.searchParams.get('channels'));
        o.viewed(ctx);
        sendTile(ctx, tile);
      },
    },
  ];
}
