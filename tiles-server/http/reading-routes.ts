/**
 * Reading routes (issue 14): a manager creates a reading (slides or ROIs,
 * readers), readers list their assignments and submit once; managers and
 * reviewers see every reading. Each route has its access rule here; the
 * dispatcher audits the changes and the service writes reading.create and
 * reading.submit records.
 */
import type { ReadingService } from '../reading-service.js';
import { readJson } from './body.js';
import { sendJson } from './respond.js';
import { projectScope } from './review-routes.js';
import { principal, type Route } from './routes.js';

const PID = '([A-Za-z0-9-]{1,64})';
const ITEM = '([A-Za-z0-9-]{8,64})';
const MAX_JSON = 4 * 1024 * 1024;

export function readingRoutes(svc: ReadingService): Route[] {
  const projectBase = `^/api/projects/${PID}`;
  const projectView = { project: 0, action: 'view' } as const;
  const manage = { project: 0, action: 'manage' } as const;
  return [
    {
      method: 'GET',
      pattern: new RegExp(`${projectBase}/readings$`),
      access: projectView,
      handler: async (ctx) => sendJson(ctx.res, 200, { readings: svc.readingsFor(projectScope(ctx), principal(ctx)) }),
    },
    {
      method: 'POST',
      pattern: new RegExp(`${projectBase}/readings$`),
      access: manage,
      handler: async (ctx) => sendJson(ctx.res, 201, await svc.createReading(projectScope(ctx), principal(ctx), await readJson(ctx.req, MAX_JSON, ctx.signal))),
    },
    {
      method: 'GET',
      pattern: new RegExp(`${projectBase}/readings/${ITEM}$`),
      access: projectView,
      handler: async (ctx) => sendJson(ctx.res, 200, svc.reading(projectScope(ctx), principal(ctx), ctx.params[1] as string)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`${projectBase}/readings/${ITEM}/submit$`),
      access: { project: 0, action: 'annotate' },
      handler: async (ctx) => sendJson(ctx.res, 200, svc.submitReading(projectScope(ctx), principal(ctx), ctx.params[1] as string)),
    },
  ];
}
