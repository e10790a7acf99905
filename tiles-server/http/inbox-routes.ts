/**
 * The quarantine inbox's routes (issue 15): a project's managers list its
 * de-identification jobs, read each report (JSON or a page), look at the
 * replacement label of a copy waiting for review, and approve or reject
 * it. Every route needs `manage` (an annotator gets 403: DEID-14), and
 * each decision is audited by the service as well as by the dispatcher.
 * Jobs are shown by id and study code: the original file name is unknown here.
 */
import { WsiError } from '../../src/core/errors.js';
import type { InboxService } from '../deid/inbox.js';
import { reportHtml, type DeidReport } from '../deid/report.js';
import type { DeidJob } from '../store/deid-jobs.js';
import { clientAddress } from './authorize.js';
import { sendBytes, sendJson } from './respond.js';
import type { Route, RouteContext } from './routes.js';

const PID = '([A-Za-z0-9-]{1,64})';
const JOB = '([0-9a-f]{16,64})';

export interface InboxRoutesOptions {
  /** Null when INBOX_DIR is not set: every route answers 404. */
  inbox: InboxService | null;
  trustProxy: boolean;
}

function publicJob(j: DeidJob, report: DeidReport | null): Record<string, unknown> {
  return {
    id: j.id,
    studyCode: j.studyCode,
    state: j.state,
    bytes: j.bytes,
    errorCode: j.errorCode,
    original: j.original,
    projectSlideId: j.projectSlideId,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    decidedBy: j.decidedBy,
    decidedAt: j.decidedAt,
    ...(report ? { result: report.result, label: report.label, macro: report.macro, fieldsModified: report.fieldsModified, verification: report.verification?.result ?? null } : {}),
  };
}

export function inboxRoutes(o: InboxRoutesOptions | undefined): Route[] {
  const service = (): InboxService => {
    if (!o?.inbox) throw new WsiError('NOT_FOUND', 'the quarantine inbox is not configured (INBOX_DIR)');
    return o.inbox;
  };
  const project = (ctx: RouteContext): string => (ctx.auth.project as NonNullable<typeof ctx.auth.project>).project.id;
  const actor = (ctx: RouteContext): string => ctx.auth.principal?.user.id ?? '';
  const ip = (ctx: RouteContext): string => clientAddress(ctx.req, o?.trustProxy ?? false);
  return [
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/inbox$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const s = service();
        const pid = project(ctx);
        sendJson(ctx.res, 200, { jobs: s.list(pid).map((j) => publicJob(j, s.report(pid, j.id))) });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/projects/${PID}/inbox/scan$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const s = service();
        const added = await s.scan();
        void s.pump();
        sendJson(ctx.res, 202, { added: added.filter((j) => j.projectId === project(ctx)).map((j) => publicJob(j, null)) });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/inbox/${JOB}/report$`),
      access: { project: 0, action: 'manage' },
      auditReads: true,
      handler: async (ctx) => {
        const report = service().report(project(ctx), ctx.params[1] as string);
        if (!report) throw new WsiError('DEID_JOB_STATE', 'the job has not run yet');
        if (ctx.url.searchParams.get('format') === 'html') sendBytes(ctx.req, ctx.res, 'text/html; charset=utf-8', reportHtml(report));
        else sendJson(ctx.res, 200, report);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/inbox/${JOB}/label$`),
      access: { project: 0, action: 'manage' },
      auditReads: true,
      handler: async (ctx) => {
        const png = await service().labelPreview(project(ctx), ctx.params[1] as string);
        if (!png) throw new WsiError('NOT_FOUND', 'the de-identified copy has no label image');
        sendBytes(ctx.req, ctx.res, 'image/png', png);
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/projects/${PID}/inbox/${JOB}/approve$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const s = service();
        const j = await s.approve(project(ctx), ctx.params[1] as string, actor(ctx), ip(ctx));
        sendJson(ctx.res, 200, { job: publicJob(j, s.report(j.projectId, j.id)) });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/projects/${PID}/inbox/${JOB}/reject$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const s = service();
        const j = await s.reject(project(ctx), ctx.params[1] as string, actor(ctx), ip(ctx));
        sendJson(ctx.res, 200, { job: publicJob(j, s.report(j.projectId, j.id)) });
      },
    },
  ];
}
