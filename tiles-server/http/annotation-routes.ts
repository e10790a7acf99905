/**
 * Annotation routes: CRUD with ETag/If-Match and Idempotency-Key, atomic
 * batches, history and restore, bounding-box reads, and import/export in
 * the formats other tools write (the class palettes: palette-routes.ts).
 */
import { attachment, downloadName } from './download-name.js';
import { authorNames } from './authors.js';
import type { AnnotationInput } from '../../src/core/annotation.js';
import { GeometryError, isAnnotationId, parseAnnotationInput } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import type { AnnotationService } from '../annotation-service.js';
import type { ImportAnswer } from '../import/import-jobs.js';
import { LAYERS, type BatchOp, type BatchResult, type Layer } from '../store/annotation-store.js';
import { operationId, readJson, requireIfMatch } from './body.js';
import { once } from 'node:events';
import { sendJson } from './respond.js';
import { principal, slideScope, type Route, type RouteContext } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const AID = '([A-Za-z0-9_-]{8,64})';
/** An import is named by its Idempotency-Key. */
const KEY = '([A-Za-z0-9_.:-]{8,128})';
const MAX_JSON = 32 * 1024 * 1024;

function etag(version: number): string {
  return `"${version}"`;
}

function invalid(err: unknown): never {
  if (err instanceof GeometryError) throw new WsiError('INVALID_ANNOTATION', err.message, { path: err.path });
  throw err;
}

/** ?layer=: which of a model run's objects (store LAYERS); all when absent. */
function parseLayer(s: string | null): Layer {
  if (s === null) return 'all';
  if (!Object.hasOwn(LAYERS, s)) throw new WsiError('BAD_REQUEST', `layer must be one of ${Object.keys(LAYERS).join(', ')}`);
  return s as Layer;
}

function parseBbox(s: string | null): [number, number, number, number] | undefined {
  if (s === null) return undefined;
  const parts = s.split(',').map(Number);
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v))) throw new WsiError('BAD_REQUEST', 'bbox must be x0,y0,x1,y1 in level-0 pixels');
  const [x0, y0, x1, y1] = parts as [number, number, number, number];
  return [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
}

/** The listing's query (limit, after, bbox, import, layer) as the store's list options; 400 BAD_REQUEST for a bad one. Shared with the columnar listing (columnar-routes.ts). */
export function listingOptions(q: URLSearchParams): NonNullable<Parameters<AnnotationService['store']['list']>[1]> {
  const limitRaw = q.get('limit');
  const afterRaw = q.get('after');
  const limit = limitRaw === null ? undefined : Number(limitRaw);
  const after = afterRaw === null ? undefined : Number(afterRaw);
  if ((limit !== undefined && !(Number.isInteger(limit) && limit > 0)) || (after !== undefined && !(Number.isInteger(after) && after >= 0))) {
    throw new WsiError('BAD_REQUEST', 'limit and after must be non-negative integers');
  }
  const bbox = parseBbox(q.get('bbox'));
  // ?import={Idempotency-Key of an import}: the objects that import made and that still live (undoing an import)
  const importOp = q.get('import');
  if (importOp !== null && !/^[A-Za-z0-9_.:-]{1,128}$/.test(importOp)) throw new WsiError('BAD_REQUEST', 'import must be the operation id (Idempotency-Key) of an import');
  // ?layer=working|model|corrected|manual: which of a model run's objects (store LAYERS; default all)
  const layerRaw = q.get('layer');
  if (layerRaw !== null && importOp !== null) throw new WsiError('BAD_REQUEST', 'layer and import cannot be combined');
  const layer = parseLayer(layerRaw);
  return { ...(bbox ? { bbox } : {}), ...(importOp !== null ? { importOp } : {}), ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}), layer };
}

const SERVER_OWNED = new Set(['id', 'version', 'source', 'parent', 'score', 'readOnly']);

function parseChanges(body: unknown): Partial<Omit<AnnotationInput, 'id'>> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WsiError('INVALID_ANNOTATION', 'the change must be a JSON object');
  const b = body as Record<string, unknown>;
  const allowed = ['kind', 'geometry', 'classification', 'name', 'note', 'locked', 'objectType', 'properties'];
  // id, version and provenance are the server's: a client echoing them back changes nothing
  const unknown = Object.keys(b).filter((k) => !allowed.includes(k) && !SERVER_OWNED.has(k));
  if (unknown.length > 0) throw new WsiError('INVALID_ANNOTATION', `fields that cannot be changed: ${unknown.join(', ')}`);
  const out: Record<string, unknown> = {};
  for (const k of allowed) if (b[k] !== undefined) out[k] = b[k];
  return out as Partial<Omit<AnnotationInput, 'id'>>;
}

/** Turns a client's batch body into store operations, validating each. */
export function parseBatch(body: unknown): BatchOp[] {
  const ops = (body as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(ops) || ops.length === 0) throw new WsiError('BAD_REQUEST', 'send {"ops": [...]} with at least one operation');
  if (ops.length > 10_000) throw new WsiError('PAYLOAD_TOO_LARGE', 'a batch holds at most 10,000 operations; split it or use the import endpoint');
  return ops.map((raw, i): BatchOp => {
    const o = raw as Record<string, unknown>;
    const where = `ops[${i}]`;
    const version = (): number => {
      if (typeof o['ifMatch'] !== 'number' || !Number.isInteger(o['ifMatch'])) throw new WsiError('PRECONDITION_REQUIRED', `${where}: ifMatch (the version you edited) is required`);
      return o['ifMatch'];
    };
    const id = (): string => {
      if (!isAnnotationId(o['id'])) throw new WsiError('INVALID_ANNOTATION', `${where}: id is not an annotation id`);
      return o['id'];
    };
    try {
      switch (o?.['op']) {
        case 'create': {
          const parent = o['parent'];
          if (parent !== undefined && !isAnnotationId(parent)) throw new WsiError('INVALID_ANNOTATION', `${where}: parent must be the id of a prediction`);
          const annotation = parseAnnotationInput(o['annotation']);
          return parent === undefined ? { op: 'create', annotation } : { op: 'create', annotation, parent: parent as string };
        }
        case 'update':
          return { op: 'update', id: id(), ifMatch: version(), changes: parseChanges(o['changes']) };
        case 'delete':
          return { op: 'delete', id: id(), ifMatch: version() };
        case 'restore': {
          const to = o['toVersion'];
          if (to !== undefined && (typeof to !== 'number' || !Number.isInteger(to))) throw new WsiError('BAD_REQUEST', `${where}: toVersion must be an integer`);
          return to === undefined ? { op: 'restore', id: id(), ifMatch: version() } : { op: 'restore', id: id(), ifMatch: version(), toVersion: to as number };
        }
        default:
          throw new WsiError('BAD_REQUEST', `${where}: op must be create, update, delete or restore`);
      }
    } catch (err) {
      if (err instanceof GeometryError) throw new WsiError('INVALID_ANNOTATION', `${where}: ${err.message}`, { index: i });
      throw err;
    }
  });
}

function sendBatch(ctx: RouteContext, r: BatchResult, single?: { created?: boolean }): void {
  const results = r.body['results'] as Array<{ id: string; version: number; deleted: boolean }> | undefined;
  if (r.status !== 200 || !results) {
    const current = (r.body['detail'] as { current?: { version: number } } | undefined)?.current;
    sendJson(ctx.res, r.status, r.body, current ? { ETag: etag(current.version) } : {});
    return;
  }
  if (!single) {
    sendJson(ctx.res, 200, r.body);
    return;
  }
  const one = results[0] as { id: string; version: number; deleted: boolean };
  sendJson(ctx.res, single.created && !r.body['replayed'] ? 201 : 200, { ...one, opId: r.body['opId'], replayed: r.body['replayed'] === true }, { ETag: etag(one.version) });
}

/**
 * Changing others' objects needs `edit-others` (refused to annotators in
 * restricted projects, and in blind ones): every update, delete or restore
 * of an object someone else made is checked here, before the store runs.
 */
export function requireMayChange(ctx: RouteContext, svc: AnnotationService, ids: readonly string[]): void {
  const scope = slideScope(ctx);
  if (scope.actions.has('edit-others')) return;
  const me = principal(ctx).user.id;
  for (const id of ids) {
    const a = svc.store.get(id);
    if (a && svc.slideOf(id) === scope.projectSlideId && a.createdBy !== me) {
      throw new WsiError('FORBIDDEN', `annotation ${id} was made by someone else; your role changes only your own objects in this project`);
    }
  }
}

/** In blind projects annotators and viewers see only their own objects. */
export function visibleTo(ctx: RouteContext, a: { createdBy: string }): boolean {
  return slideScope(ctx).seesOthers || a.createdBy === principal(ctx).user.id;
}

const author = (ctx: RouteContext): string => principal(ctx).user.id;

/**
 * Answers an import's POST: with its report when it ends, or — with
 * `Prefer: respond-async` — 202 as soon as the file is received, pointing
 * at …/annotations/import/{key} to follow it (annotation and model-run imports alike).
 */
export async function answerImport(ctx: RouteContext, svc: AnnotationService, slideId: string, opId: string, start: (received: () => void) => Promise<ImportAnswer>): Promise<void> {
  const early = /\brespond-async\b/i.test(String(ctx.req.headers['prefer'] ?? ''));
  let received!: () => void;
  const whenReceived = new Promise<null>((r) => {
    received = () => {
      // the body is in: the client now waits for the answer, for as long as the import takes,
      // on a connection with nothing to say meanwhile (the 5-minute idle timeout would cut it)
      ctx.req.socket.setTimeout(0);
      r(null);
    };
  });
  const run = start(received);
  const answer = early ? await Promise.race([run, whenReceived]) : await run;
  if (answer) return sendJson(ctx.res, answer.status, answer.body);
  run.catch(() => undefined);
  const where = `/api/slides/${slideId}/annotations/import/${encodeURIComponent(opId)}`;
  sendJson(ctx.res, 202, svc.imports.progress(slideId, opId), { Location: where, 'Preference-Applied': 'respond-async' });
}

export function annotationRoutes(svc: AnnotationService): Route[] {
  const base = `^/api/slides/${SLIDE}/annotations`;
  const view = { slide: 0, action: 'view' } as const;
  const annotate = { slide: 0, action: 'annotate' } as const;
  return [
    {
      method: 'GET',
      pattern: new RegExp(`${base}$`),
      access: view,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const q = ctx.url.searchParams;
        const page = svc.store.list(slideId, listingOptions(q));
        // view=lean leaves out properties (measurements can be most of the bytes); GET one annotation for them
        const seen = page.annotations.filter((a) => visibleTo(ctx, a));
        const annotations = q.get('view') === 'lean' ? seen.map(({ properties: _p, ...rest }) => ({ ...rest, properties: {} })) : seen;
        const total = slideScope(ctx).seesOthers ? svc.store.count(slideId) : svc.store.countBy(slideId, principal(ctx).user.id);
        sendJson(ctx.res, 200, { annotations, next: page.next, total });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}$`),
      access: annotate,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const opId = operationId(ctx.req);
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        let annotation: AnnotationInput;
        try {
          annotation = parseAnnotationInput(body);
        } catch (err) {
          invalid(err);
        }
        const r = svc.store.applyBatch(slideId, opId, author(ctx), [{ op: 'create', annotation }], body);
        if (r.status === 200) ctx.res.setHeader('Location', `/api/slides/${slideId}/annotations/${annotation.id}`);
        sendBatch(ctx, r, { created: true });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/batch$`),
      access: annotate,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const opId = operationId(ctx.req);
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        const ops = parseBatch(body);
        requireMayChange(ctx, svc, ops.flatMap((op) => (op.op === 'create' ? [] : [op.id])));
        sendBatch(ctx, svc.store.applyBatch(slideId, opId, author(ctx), ops, body));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/import$`),
      access: { slide: 0, action: 'import' },
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const opId = operationId(ctx.req);
        await answerImport(ctx, svc, slideId, opId, (received) => svc.importFile(slideScope(ctx), author(ctx), opId, ctx.url.searchParams.get('format') ?? '', ctx.req, ctx.signal, received));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/import/${KEY}$`),
      access: { slide: 0, action: 'import' },
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        sendJson(ctx.res, 200, svc.imports.progress(slideId, ctx.params[1] as string));
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`${base}/import/${KEY}$`),
      access: { slide: 0, action: 'import' },
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const r = await svc.imports.cancel(slideId, ctx.params[1] as string);
        sendJson(ctx.res, r.status, r.body);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/export$`),
      access: { slide: 0, action: 'export' },
      handler: async (ctx) => {
        if (!slideScope(ctx).seesOthers) throw new WsiError('FORBIDDEN', 'in a blind project only managers and reviewers export everyone\'s annotations');
        const slideId = await svc.slide(slideScope(ctx));
        const file = await svc.exportFile(slideId, ctx.url.searchParams.get('format') ?? '', parseLayer(ctx.url.searchParams.get('layer')));
        ctx.res.writeHead(200, {
          'Content-Type': `${file.contentType}; charset=utf-8`,
          'Content-Disposition': attachment(downloadName(slideScope(ctx), await svc.fileNameOf(slideScope(ctx)), 'annotations', file.ext)),
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        });
        for await (const chunk of file.chunks) {
          if (ctx.signal.aborted) return;
          if (!ctx.res.write(chunk)) await once(ctx.res, 'drain');
        }
        ctx.res.end();
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/${AID}$`),
      access: view,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const a = svc.store.get(ctx.params[1] as string);
        if (!a || svc.slideOf(a.id) !== slideId || !visibleTo(ctx, a)) throw new WsiError('ANNOTATION_NOT_FOUND', `no annotation ${ctx.params[1] as string} on this slide`);
        const correction = svc.correctionOf(a);
        sendJson(ctx.res, 200, correction === null ? a : { ...a, correction }, { ETag: etag(a.version) });
      },
    },
    {
      method: 'PATCH',
      pattern: new RegExp(`${base}/${AID}$`),
      access: annotate,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const ifMatch = requireIfMatch(ctx.req);
        const opId = operationId(ctx.req);
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        const changes = parseChanges(body);
        requireMayChange(ctx, svc, [ctx.params[1] as string]);
        sendBatch(ctx, svc.store.applyBatch(slideId, opId, author(ctx), [{ op: 'update', id: ctx.params[1] as string, ifMatch, changes }], { patch: body, ifMatch }), {});
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`${base}/${AID}$`),
      access: annotate,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const ifMatch = requireIfMatch(ctx.req);
        const opId = operationId(ctx.req);
        requireMayChange(ctx, svc, [ctx.params[1] as string]);
        sendBatch(ctx, svc.store.applyBatch(slideId, opId, author(ctx), [{ op: 'delete', id: ctx.params[1] as string, ifMatch }], { delete: ctx.params[1], ifMatch }), {});
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/${AID}/restore$`),
      access: annotate,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        requireMayChange(ctx, svc, [ctx.params[1] as string]);
        const ifMatch = requireIfMatch(ctx.req);
        const opId = operationId(ctx.req);
        const hasBody = Number(ctx.req.headers['content-length'] ?? 0) > 0;
        const body = hasBody ? ((await readJson(ctx.req, 1024, ctx.signal)) as { version?: unknown }) : {};
        const to = body?.version;
        if (to !== undefined && !(typeof to === 'number' && Number.isInteger(to) && to > 0)) throw new WsiError('BAD_REQUEST', 'version must be a positive integer');
        const op: BatchOp = to === undefined ? { op: 'restore', id: ctx.params[1] as string, ifMatch } : { op: 'restore', id: ctx.params[1] as string, ifMatch, toVersion: to as number };
        sendBatch(ctx, svc.store.applyBatch(slideId, opId, author(ctx), [op], { restore: ctx.params[1], ifMatch, to }), {});
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/${AID}/history$`),
      access: view,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const id = ctx.params[1] as string;
        const a = svc.store.get(id);
        if (svc.slideOf(id) !== slideId || (a && !visibleTo(ctx, a))) throw new WsiError('ANNOTATION_NOT_FOUND', `no annotation ${id} on this slide`);
        const history = svc.store.history(id);
        // a deleted object keeps its history (restorable); an id never stored here has none
        if (history.length === 0) throw new WsiError('ANNOTATION_NOT_FOUND', `no annotation ${id} on this slide`);
        sendJson(ctx.res, 200, { id, history, authors: await authorNames(ctx, svc.whoIs, history.map((h) => h.author)) });
      },
    },
    {
      // the slide's deleted objects, latest deletion first, to bring one back (a restore through the batch route)
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${SLIDE}/deleted-annotations$`),
      access: view,
      handler: async (ctx) => {
        const slideId = await svc.slide(slideScope(ctx));
        const q = ctx.url.searchParams;
        const count = (name: string, max: number): number | undefined => {
          const raw = q.get(name);
          if (raw === null) return undefined;
          if (!/^[0-9]{1,16}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new WsiError('BAD_REQUEST', `${name} must be a whole number from 1 to ${max}`);
          return Number(raw);
        };
        const limit = count('limit', 1000);
        const before = count('before', Number.MAX_SAFE_INTEGER);
        const page = svc.store.deletedOf(slideId, { ...(limit !== undefined ? { limit } : {}), ...(before !== undefined ? { before } : {}) });
        const annotations = page.annotations.filter((a) => visibleTo(ctx, a));
        sendJson(ctx.res, 200, { annotations, next: page.next, authors: await authorNames(ctx, svc.whoIs, annotations.map((a) => a.updatedBy)) });
      },
    },
  ];
}
