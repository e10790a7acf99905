/**
 * Reference-mask routes (issue 14): accept a consensus of readers' masks
 * inside an ROI into the slide's reference mask, restore the reference to
 * an earlier version, and read its provenance. All need the 'review'
 * action (reviewers and managers, who see every reader's work; a write
 * action, so read-only projects refuse it but to managers). Accepts and
 * restores carry an Idempotency-Key and write an audit record
 * (consensus-service.ts); the provenance read is audited as a read. The
 * reference's pixels, history and export are the mask routes' (annotator
 * @reference), under the blind rule like any other mask.
 */
import type { ConsensusService } from '../consensus-service.js';
import type { OperationResult } from '../store/mask-store.js';
import { operationId, readJson } from './body.js';
import { sendJson } from './respond.js';
import { principal, slideScope, type Route, type RouteContext } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const MAX_JSON = 64 * 1024;

function sendResult(ctx: RouteContext, r: OperationResult): void {
  sendJson(ctx.res, r.body['replayed'] === true && r.status === 201 ? 200 : r.status, r.body);
}

export function consensusRoutes(svc: ConsensusService): Route[] {
  const base = `^/api/slides/${SLIDE}/reference`;
  const review = { slide: 0, action: 'review' } as const;
  return [
    {
      method: 'GET',
      pattern: new RegExp(`${base}$`),
      access: review,
      auditReads: true,
      handler: async (ctx) => sendJson(ctx.res, 200, await svc.events(slideScope(ctx))),
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/consensus$`),
      access: review,
      handler: async (ctx) => {
        const opId = operationId(ctx.req);
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        sendResult(ctx, await svc.accept(slideScope(ctx), principal(ctx).user.id, opId, body, ctx.signal));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/restore$`),
      access: review,
      handler: async (ctx) => {
        const opId = operationId(ctx.req);
        const body = await readJson(ctx.req, MAX_JSON, ctx.signal);
        sendResult(ctx, await svc.restore(slideScope(ctx), principal(ctx).user.id, opId, body, ctx.signal));
      },
    },
  ];
}
