/**
 * Model run routes (issue 13, docs/ai-corrections.md): runs and their
 * prediction files, triage decisions on the corrected layer, checked areas
 * and the corrections report. Every route has its access rule here and is
 * audited by the dispatcher: changes as 'change', the report as a
 * 'download' (it exports everyone's decisions), the reads as 'read'.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ModelRunService } from '../model-run-service.js';
import type { AnnotationService } from '../annotation-service.js';
import { answerImport, requireMayChange } from './annotation-routes.js';
import { operationId, readJson } from './body.js';
import { sendJson } from './respond.js';
import { principal, slideScope, type Route, type RouteContext } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const RUN = '([A-Za-z0-9-]{8,64})';
const MAX_JSON = 32 * 1024 * 1024;

const author = (ctx: RouteContext): string => principal(ctx).user.id;

export function modelRunRoutes(svc: ModelRunService, annotations: AnnotationService): Route[] {
  const base = `^/api/slides/${SLIDE}/model-runs`;
  const view = { slide: 0, action: 'view' } as const;
  const annotate = { slide: 0, action: 'annotate' } as const;
  const imports = { slide: 0, action: 'import' } as const;
  return [
    {
      method: 'GET',
      pattern: new RegExp(`${base}$`),
      access: view,
      auditReads: true,
      handler: async (ctx) => sendJson(ctx.res, 200, { runs: await svc.list(slideScope(ctx)) }),
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}$`),
      access: imports,
      handler: async (ctx) => {
        const opId = operationId(ctx.req);
        const r = await svc.create(slideScope(ctx), author(ctx), opId, await readJson(ctx.req, 1 << 20, ctx.signal));
        sendJson(ctx.res, r.status, r.body);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/${RUN}$`),
      access: view,
      auditReads: true,
      handler: async (ctx) => sendJson(ctx.res, 200, await svc.run(slideScope(ctx), ctx.params[1] as string)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/${RUN}/predictions$`),
      access: imports,
      handler: async (ctx) => {
        const opId = operationId(ctx.req);
        const slideId = await annotations.slide(slideScope(ctx));
        await answerImport(ctx, annotations, slideId, opId, (received) =>
          svc.importPredictions(slideScope(ctx), author(ctx), opId, ctx.params[1] as string, ctx.url.searchParams.get('format') ?? '', ctx.req, ctx.signal, received),
        );
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/${RUN}/review$`),
      access: annotate,
      handler: async (ctx) => {
        const opId = operationId(ctx.req);
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        const { status, ...answer } = await svc.review(slideScope(ctx), author(ctx), opId, ctx.params[1] as string, body, (ids) => requireMayChange(ctx, annotations, ids));
        sendJson(ctx.res, status, answer);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/${RUN}/checked-areas$`),
      access: view,
      auditReads: true,
      handler: async (ctx) => sendJson(ctx.res, 200, { areas: await svc.areas(slideScope(ctx), ctx.params[1] as string) }),
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/${RUN}/checked-areas$`),
      access: annotate,
      handler: async (ctx) => {
        const opId = operationId(ctx.req);
        const r = await svc.addArea(slideScope(ctx), author(ctx), opId, ctx.params[1] as string, await readJson(ctx.req, MAX_JSON, ctx.signal));
        sendJson(ctx.res, r.status, r.body);
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`${base}/${RUN}/checked-areas/${RUN}$`),
      access: annotate,
      handler: async (ctx) => {
        await svc.removeArea(slideScope(ctx), author(ctx), ctx.params[1] as string, ctx.params[2] as string);
        sendJson(ctx.res, 200, { id: ctx.params[2], removed: true });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/${RUN}/report$`),
      // everyone's decisions per annotator: an export, audited as a download
      access: { slide: 0, action: 'export' },
      handler: async (ctx) => {
        if (!slideScope(ctx).seesOthers) throw new WsiError('FORBIDDEN', 'in a blind project only managers and reviewers see the corrections report');
        sendJson(ctx.res, 200, await svc.report(slideScope(ctx), ctx.params[1] as string, ctx.signal));
      },
    },
  ];
}
