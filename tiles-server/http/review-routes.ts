/**
 * Review routes (issue 14): submit, the reviewer's transitions, reopening,
 * the queue, project progress, reject reasons, review settings
 * (self-review, significant classes and ROIs, experts) and threaded comments
 * on objects (readings: reading-routes.ts). Each route's access rule is here; the dispatcher
 * audits every change (and the service writes a review.* record with each
 * transition, in the same transaction). Blind projects: an annotator reads
 * only their own items, comments and progress rows.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ProjectScope } from '../identity/access-service.js';
import type { ReviewService } from '../review-service.js';
import { ifMatchVersion, readJson } from './body.js';
import { sendJson } from './respond.js';
import { principal, slideScope, type Route, type RouteContext } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const PID = '([A-Za-z0-9-]{1,64})';
const ITEM = '([A-Za-z0-9-]{8,64})';
const AID = '([A-Za-z0-9_-]{8,64})';
const CODE = '([a-z0-9_-]{1,40})';
const MAX_JSON = 256 * 1024;

/** The project the route's rule resolved (routes whose rule is `{ project: n }`). */
export function projectScope(ctx: RouteContext): ProjectScope {
  const s = ctx.auth.project;
  if (!s) throw new WsiError('INTERNAL', 'this route has no project rule');
  return s;
}

/** A body that may be absent (reopen, submit of a reading). */
async function optionalJson(ctx: RouteContext): Promise<unknown> {
  const length = Number(ctx.req.headers['content-length'] ?? 0);
  const chunked = ctx.req.headers['transfer-encoding'] !== undefined;
  return length > 0 || chunked ? readJson(ctx.req, MAX_JSON, ctx.signal) : {};
}

export function reviewRoutes(svc: ReviewService): Route[] {
  const slideBase = `^/api/slides/${SLIDE}/reviews`;
  const projectBase = `^/api/projects/${PID}`;
  const view = { slide: 0, action: 'view' } as const;
  const annotate = { slide: 0, action: 'annotate' } as const;
  const projectView = { project: 0, action: 'view' } as const;
  const manage = { project: 0, action: 'manage' } as const;
  const me = (ctx: RouteContext): string => principal(ctx).user.id;
  return [
    {
      method: 'GET',
      pattern: new RegExp(`${slideBase}$`),
      access: view,
      handler: async (ctx) => sendJson(ctx.res, 200, { items: svc.list(slideScope(ctx), me(ctx), ctx.url.searchParams) }),
    },
    {
      // the author submits an object or their painted region inside an ROI
      method: 'POST',
      pattern: new RegExp(`${slideBase}$`),
      access: annotate,
      handler: async (ctx) => {
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        const r = svc.submit(slideScope(ctx), principal(ctx), body, ifMatchVersion(ctx.req));
        sendJson(ctx.res, r.status, r.item, { ETag: `"${r.item.version}"` });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${slideBase}/bulk-accept$`),
      access: { slide: 0, action: 'review' },
      handler: async (ctx) => sendJson(ctx.res, 200, { items: svc.bulkAccept(slideScope(ctx), principal(ctx), await readJson(ctx.req, 4 * 1024 * 1024, ctx.signal)) }),
    },
    {
      method: 'GET',
      pattern: new RegExp(`${slideBase}/${ITEM}$`),
      access: view,
      handler: async (ctx) => {
        const item = svc.itemWithEvents(slideScope(ctx), me(ctx), ctx.params[1] as string);
        sendJson(ctx.res, 200, item, { ETag: `"${item.version}"` });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${slideBase}/${ITEM}/transition$`),
      access: { slide: 0, action: 'review' },
      handler: async (ctx) => {
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        const item = svc.transition(slideScope(ctx), principal(ctx), ctx.params[1] as string, body, ifMatchVersion(ctx.req));
        sendJson(ctx.res, 200, item, { ETag: `"${item.version}"` });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${slideBase}/${ITEM}/reopen$`),
      access: annotate,
      handler: async (ctx) => {
        const item = svc.reopen(slideScope(ctx), principal(ctx), ctx.params[1] as string, await optionalJson(ctx), ifMatchVersion(ctx.req));
        sendJson(ctx.res, 200, item, { ETag: `"${item.version}"` });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${SLIDE}/annotations/${AID}/comments$`),
      access: view,
      handler: async (ctx) => sendJson(ctx.res, 200, { comments: svc.comments(slideScope(ctx), me(ctx), ctx.params[1] as string) }),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/slides/${SLIDE}/annotations/${AID}/comments$`),
      access: annotate,
      handler: async (ctx) => sendJson(ctx.res, 201, svc.addComment(slideScope(ctx), principal(ctx), ctx.params[1] as string, await readJson(ctx.req, MAX_JSON, ctx.signal))),
    },
    {
      method: 'GET',
      pattern: new RegExp(`${projectBase}/reviews/queue$`),
      access: { project: 0, action: 'review' },
      handler: async (ctx) => sendJson(ctx.res, 200, await svc.queue(projectScope(ctx), ctx.url.searchParams)),
    },
    {
      method: 'GET',
      pattern: new RegExp(`${projectBase}/reviews/progress$`),
      access: projectView,
      handler: async (ctx) => sendJson(ctx.res, 200, await svc.progress(projectScope(ctx), principal(ctx))),
    },
    {
      method: 'GET',
      pattern: new RegExp(`${projectBase}/reviews/reasons$`),
      access: projectView,
      handler: async (ctx) => sendJson(ctx.res, 200, { reasons: svc.reasons(projectScope(ctx).project.id) }),
    },
    {
      method: 'POST',
      pattern: new RegExp(`${projectBase}/reviews/reasons$`),
      access: manage,
      handler: async (ctx) => {
        const r = svc.addReason(projectScope(ctx), principal(ctx), await readJson(ctx.req, MAX_JSON, ctx.signal));
        sendJson(ctx.res, r.status, { reasons: r.reasons });
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`${projectBase}/reviews/reasons/${CODE}$`),
      access: manage,
      handler: async (ctx) => {
        svc.retireReason(projectScope(ctx), principal(ctx), ctx.params[1] as string);
        sendJson(ctx.res, 200, { reasons: svc.reasons(projectScope(ctx).project.id) });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${projectBase}/reviews/settings$`),
      access: projectView,
      handler: async (ctx) => sendJson(ctx.res, 200, svc.settings(projectScope(ctx).project.id)),
    },
    {
      method: 'PUT',
      pattern: new RegExp(`${projectBase}/reviews/settings$`),
      access: manage,
      handler: async (ctx) => sendJson(ctx.res, 200, await svc.putSettings(projectScope(ctx), principal(ctx), await readJson(ctx.req, MAX_JSON, ctx.signal))),
    },
  ];
}
