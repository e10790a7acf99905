/**
 * Mask routes: who paints (the signed-in user's id is their annotator), the masks of a slide, tile packs by
 * bounding box, atomic tile batches (per-tile ifMatch, Idempotency-Key),
 * per-tile history and any one version of a tile, stats, the pyramidal
 * TIFF export and label-image imports. docs/masks.md describes them for
 * users.
 */
import { downloadName } from './download-name.js';
import { sendExport } from './send-export.js';
import { authorNames } from './authors.js';
import { WsiError } from '../../src/core/errors.js';
import { MASK_TILE } from '../../src/core/mask/mask-grid.js';
import { isModelMaskAnnotator } from '../../src/core/model-mask.js';
import type { MaskService } from '../mask-service.js';
import { encodePack, PACK_CONTENT_TYPE } from '../masks/tile-codec.js';
import { parseRasterizeRequest } from '../masks/rasterize-annotations.js';
import { rm } from 'node:fs/promises';
import { receiveUpload } from '../masks/upload.js';
import type { OperationResult, RegionRow } from '../store/mask-store.js';
import { operationId, readJson } from './body.js';
import { sendJson } from './respond.js';
import { principal, slideScope, type Route, type RouteContext } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const WHO = '([^/]{1,200})';
/** Tile batches: 2,000 tiles of base64 fit comfortably. */
export const MAX_TILES_BODY = 64 * 1024 * 1024;

function parseBbox(s: string | null): [number, number, number, number] | undefined {
  if (s === null) return undefined;
  const parts = s.split(',').map(Number);
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v) || Math.abs(v) > 1e9)) throw new WsiError('BAD_REQUEST', 'bbox must be x0,y0,x1,y1 in level-0 pixels');
  const [x0, y0, x1, y1] = parts as [number, number, number, number];
  return [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
}

/** At most this many tiles (256 × 256 of them: 131,072 px square) in one region's history. */
const MAX_REGION_TILES = 65_536;
/** Tile versions read for one region's history (grouped into operations). */
const MAX_REGION_ROWS = 20_000;

/** The tile range [tx0, tx1] × [ty0, ty1] under a level-0 bbox (required), refused past MAX_REGION_TILES. */
function tileRange(url: URL): [number, number, number, number] {
  const bbox = parseBbox(url.searchParams.get('bbox'));
  if (!bbox) throw new WsiError('BAD_REQUEST', 'bbox=x0,y0,x1,y1 (level-0 pixels) is required');
  const T = MASK_TILE;
  const r: [number, number, number, number] = [Math.max(0, Math.floor(bbox[0] / T)), Math.max(0, Math.floor((bbox[2] - 1e-9) / T)), Math.max(0, Math.floor(bbox[1] / T)), Math.max(0, Math.floor((bbox[3] - 1e-9) / T))];
  if ((r[1] - r[0] + 1) * (r[3] - r[2] + 1) > MAX_REGION_TILES) throw new WsiError('BAD_REQUEST', `a region's history covers at most ${MAX_REGION_TILES.toLocaleString('en')} tiles; choose a smaller region`);
  return r;
}

/** Groups a region's tile versions (newest first) into operations, newest first. */
function operationsOf(rows: RegionRow[]): Array<{ seq: number; opId: string; op: string; author: string; at: string; tiles: Array<{ tx: number; ty: number; version: number }> }> {
  const byOp = new Map<string, { seq: number; opId: string; op: string; author: string; at: string; tiles: Array<{ tx: number; ty: number; version: number }> }>();
  for (const r of rows) {
    let o = byOp.get(r.op_id);
    if (!o) byOp.set(r.op_id, (o = { seq: r.seq, opId: r.op_id, op: r.op, author: r.author, at: r.at, tiles: [] }));
    o.tiles.push({ tx: r.tx, ty: r.ty, version: r.version });
  }
  return [...byOp.values()];
}

function tileIndex(s: string, what: string): number {
  if (!/^\d{1,7}$/.test(s)) throw new WsiError('BAD_REQUEST', `${what} must be a non-negative integer`);
  return Number(s);
}

/** A query parameter that must be an integer ≥ min (or absent: the default). */
function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return fallback;
  if (!/^-?\d+(\.\d+)?$/.test(v.trim()) || !Number.isInteger(Number(v)) || Number(v) < min || Number(v) > max) {
    throw new WsiError('BAD_REQUEST', `${name} must be an integer from ${min} to ${max} (got "${v.slice(0, 20)}")`);
  }
  return Number(v);
}

/** A pack of tiles (application/x-wsi-mask-tiles) as encodePack made it. */
function sendPack(ctx: RouteContext, parts: Buffer[], headers: Record<string, string> = {}): void {
  const length = parts.reduce((n, b) => n + b.length, 0);
  ctx.res.writeHead(200, { 'Content-Type': PACK_CONTENT_TYPE, 'Content-Length': length, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
  if (ctx.req.method === 'HEAD') return void ctx.res.end();
  for (const p of parts) ctx.res.write(p);
  ctx.res.end();
}

function sendResult(ctx: RouteContext, r: OperationResult): void {
  sendJson(ctx.res, r.body['replayed'] === true && r.status === 201 ? 200 : r.status, r.body);
}

/** The annotator in the URL, when the caller may see that mask: in blind projects only their own (else 404, as for a mask that does not exist). */
function readableAnnotator(svc: MaskService, ctx: RouteContext): string {
  const annotator = svc.annotator(ctx.params[1] as string);
  // a model run's mask is the model's, not a reader's work: everyone who sees the slide sees it
  if (!slideScope(ctx).seesOthers && annotator !== principal(ctx).user.id && !isModelMaskAnnotator(annotator)) throw new WsiError('NOT_FOUND', 'no such mask on this slide');
  return annotator;
}

/** The slide, readable annotator and tile named by a `…/masks/{annotator}/tiles/{tx}/{ty}/…` path. */
async function tileAddress(svc: MaskService, ctx: RouteContext): Promise<{ slideId: string; annotator: string; tx: number; ty: number }> {
  const slideId = await svc.slideId(slideScope(ctx));
  const annotator = readableAnnotator(svc, ctx);
  return { slideId, annotator, tx: tileIndex(ctx.params[2] as string, 'tx'), ty: tileIndex(ctx.params[3] as string, 'ty') };
}

export function maskRoutes(svc: MaskService): Route[] {
  const base = `^/api/slides/${SLIDE}/masks`;
  const mask = `${base}/${WHO}`;
  const view = { slide: 0, action: 'view' } as const;
  const annotate = { slide: 0, action: 'annotate' } as const;
  const target = async (ctx: RouteContext): Promise<{ slide: Awaited<ReturnType<MaskService['slide']>>; annotator: string }> => ({
    slide: await svc.slide(slideScope(ctx)),
    annotator: readableAnnotator(svc, ctx),
  });
  /** For writes: the caller's own mask only. */
  const own = async (ctx: RouteContext): Promise<{ slide: Awaited<ReturnType<MaskService['slide']>>; annotator: string }> => {
    const t = await target(ctx);
    svc.requireWriter(t.annotator, principal(ctx).user.id);
    return t;
  };
  return [
    {
      method: 'GET',
      pattern: /^\/api\/me$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const u = principal(ctx).user;
        // `user` is the annotator the caller paints as (their user id)
        sendJson(ctx.res, 200, { user: u.id, username: u.username, displayName: u.displayName, globalRole: u.globalRole });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}$`),
      access: view,
      handler: async (ctx) => {
        const slideId = await svc.slideId(slideScope(ctx));
        const me = principal(ctx).user.id;
        const masks = svc.store.list(slideId).filter((m) => slideScope(ctx).seesOthers || m.annotator === me || isModelMaskAnnotator(m.annotator));
        sendJson(ctx.res, 200, { masks });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${mask}/tiles$`),
      access: view,
      handler: async (ctx) => {
        const slideId = await svc.slideId(slideScope(ctx));
        const annotator = readableAnnotator(svc, ctx);
        sendPack(ctx, svc.pack(slideId, annotator, parseBbox(ctx.url.searchParams.get('bbox'))));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${mask}/tiles$`),
      access: annotate,
      handler: async (ctx) => {
        const { slide, annotator } = await own(ctx);
        const opId = operationId(ctx.req);
        const body = await readJson(ctx.req, MAX_TILES_BODY, ctx.signal);
        sendResult(ctx, await svc.writeTiles(slide, annotator, opId, body, ctx.signal));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${mask}/tiles/([^/]{1,12})/([^/]{1,12})/history$`),
      access: view,
      handler: async (ctx) => {
        const { slideId, annotator, tx, ty } = await tileAddress(svc, ctx);
        const withData = ctx.url.searchParams.get('data') === '1';
        sendJson(ctx.res, 200, { slide: slideId, annotator, tx, ty, versions: await svc.store.history(slideId, annotator, tx, ty, withData) });
      },
    },
    {
      // a region's history: the operations that wrote tiles under bbox (who, when, which tiles), newest first;
      // ?asOf={seq of an operation}: each tile's version right after it and now (what restoring it would write)
      method: 'GET',
      pattern: new RegExp(`${mask}/history$`),
      access: view,
      handler: async (ctx) => {
        const slideId = await svc.slideId(slideScope(ctx));
        const annotator = readableAnnotator(svc, ctx);
        const [tx0, tx1, ty0, ty1] = tileRange(ctx.url);
        const asOfRaw = ctx.url.searchParams.get('asOf');
        if (asOfRaw !== null) {
          if (!/^[1-9]\d{0,14}$/.test(asOfRaw)) throw new WsiError('BAD_REQUEST', 'asOf must be the seq of an operation in this history (a positive integer)');
          const seq = Number(asOfRaw);
          const r = svc.store.regionAsOf(slideId, annotator, tx0, tx1, ty0, ty1, seq);
          if (!r) throw new WsiError('NOT_FOUND', `this mask has no version ${seq} (it may belong to another slide or reader)`);
          const tiles = [...new Set([...r.then.keys(), ...r.now.keys()])].map((k) => {
            const [tx, ty] = k.split(',').map(Number) as [number, number];
            return { tx, ty, then: r.then.get(k) ?? 0, now: r.now.get(k) ?? 0 };
          });
          return sendJson(ctx.res, 200, { slide: slideId, annotator, asOf: seq, tiles });
        }
        const rows = svc.store.regionHistory(slideId, annotator, tx0, tx1, ty0, ty1, MAX_REGION_ROWS + 1);
        const operations = operationsOf(rows.slice(0, MAX_REGION_ROWS));
        // the oldest operation may be cut short by the row limit: dropped rather than shown with part of its tiles
        if (rows.length > MAX_REGION_ROWS) operations.pop();
        sendJson(ctx.res, 200, { slide: slideId, annotator, operations, truncated: rows.length > MAX_REGION_ROWS, authors: await authorNames(ctx, svc.whoIs, operations.map((o) => o.author)) });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${mask}/tiles/([^/]{1,12})/([^/]{1,12})/versions/([^/]{1,12})$`),
      access: view,
      handler: async (ctx) => {
        const { slideId, annotator, tx, ty } = await tileAddress(svc, ctx);
        const version = tileIndex(ctx.params[4] as string, 'version');
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const data = svc.store.versionData(slideId, annotator, tx, ty, version);
        if (!data) throw new WsiError('NOT_FOUND', `tile (${tx}, ${ty}) of this mask has no version ${version}`);
        // how long the store took to rebuild it, in time and in the process's CPU time (the bench reads both beside the round trip)
        const cpu = process.cpuUsage(cpu0);
        const timing = `rebuild;dur=${(performance.now() - t0).toFixed(1)}, cpu;dur=${((cpu.user + cpu.system) / 1000).toFixed(1)}`;
        sendPack(ctx, encodePack([{ tx, ty, version, data }]), { 'Server-Timing': timing });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${mask}/summary$`),
      access: view,
      handler: async (ctx) => {
        const { slide, annotator } = await target(ctx);
        sendJson(ctx.res, 200, svc.summary(slide, annotator));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${mask}/export\\.tiff?$`),
      access: { slide: 0, action: 'export' },
      handler: async (ctx) => {
        const { slide, annotator } = await target(ctx);
        const file = await svc.exportTiff(slide, annotator, ctx.signal);
        // someone else's mask (a manager's export) carries the start of the annotator's id, so two readers' files differ
        const whose = annotator === ctx.auth.principal?.user.id ? 'mask' : `mask-${annotator.slice(0, 8)}`;
        await sendExport(ctx, file, 'image/tiff', downloadName(slideScope(ctx), await svc.fileNameOf(slideScope(ctx)), whose, 'tiff'));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${mask}/rasterize$`),
      access: annotate,
      handler: async (ctx) => {
        const { slide, annotator } = await own(ctx);
        const opId = operationId(ctx.req);
        const req = parseRasterizeRequest(await readJson(ctx.req, MAX_TILES_BODY, ctx.signal));
        sendResult(ctx, await svc.rasterize(slide, annotator, opId, req, ctx.signal));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${mask}/import$`),
      access: { slide: 0, action: 'import' },
      handler: async (ctx) => {
        const { slide, annotator } = await own(ctx);
        const opId = operationId(ctx.req);
        const x = intParam(ctx.url, 'x', 0, 0, 1e9);
        const y = intParam(ctx.url, 'y', 0, 0, 1e9);
        const downsample = intParam(ctx.url, 'downsample', 1, 1, 65536);
        // a full house is told so before the upload, not after it
        svc.admitImport();
        const upload = await receiveUpload(ctx.req, svc.imports.spoolDir, ctx.signal);
        let result: OperationResult;
        try {
          const queryTable = ctx.url.searchParams.get('classes');
          if (queryTable !== null && upload.classes !== null) throw new WsiError('BAD_REQUEST', 'send the class table once: as the query parameter classes or as the form part classes, not both');
          const table = upload.classes ?? queryTable;
          result = await svc.importLabels(slide, annotator, opId, { upload, table, x, y, downsample });
        } finally {
          // the spooled file is gone before the client hears the answer
          await rm(upload.image.path, { force: true });
        }
        sendResult(ctx, result);
      },
    },
  ];
}
