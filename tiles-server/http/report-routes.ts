/**
 * The regulatory record's routes (issue 15): the project report (JSON, or
 * a page to print), and what managers keep for it — the annotation
 * protocol and each member's qualifications, both versioned. The report
 * is for the project's managers and for auditors (the `report` action),
 * audited as a read, with its hash in the audit record; changes are
 * audited by the dispatcher and here by version (never the text).
 */
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import type { ProjectRecordStore } from '../store/project-records.js';
import { parseProtocol, parseQualification } from '../store/project-records.js';
import type { ProjectReportBuilder } from '../report/project-report.js';
import { projectReportHtml } from '../report/report-html.js';
import type { IdentityStore } from '../store/identity-store.js';
import { clientAddress } from './authorize.js';
import { readJson } from './body.js';
import { sendBytes, sendJson } from './respond.js';
import type { Route, RouteContext } from './routes.js';
import { projectScope } from './review-routes.js';

const PID = '([A-Za-z0-9-]{1,64})';
const UID = '([A-Za-z0-9-]{8,64})';
const MAX_BODY = 256 * 1024;
/** The report's formats; PDF is the page printed from a browser. */
const FORMATS = ['json', 'html'] as const;

export interface ReportRoutesOptions {
  builder: ProjectReportBuilder;
  records: ProjectRecordStore;
  identity: IdentityStore;
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
}

export function reportRoutes(o: ReportRoutesOptions | undefined): Route[] {
  // read at request time: the route walk (tests/helpers/route-walk.ts) builds the table without services
  const opts = (): ReportRoutesOptions => {
    if (!o) throw new WsiError('NOT_FOUND', 'the project report is not available on this server');
    return o;
  };
  const actor = (ctx: RouteContext): string => ctx.auth.principal?.user.id ?? '';
  const record = (ctx: RouteContext, action: string, detail: Record<string, string | number>): void =>
    opts().audit({ actor: actor(ctx), action, projectId: projectScope(ctx).project.id, target: projectScope(ctx).project.id, ip: clientAddress(ctx.req, opts().trustProxy), detail });
  return [
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/report$`),
      access: { project: 0, action: 'report' },
      auditReads: true,
      handler: async (ctx) => {
        const format = ctx.url.searchParams.get('format') ?? 'json';
        if (!(FORMATS as readonly string[]).includes(format)) {
          throw new WsiError('BAD_REQUEST', `format must be ${FORMATS.join(' or ')}${format === 'pdf' ? ' (for PDF, print the html format from a browser)' : ''}`);
        }
        const report = await opts().builder.build(projectScope(ctx).project, actor(ctx));
        record(ctx, 'report.read', { format, sha256: report.hash.value });
        const headers = { 'X-Report-SHA256': report.hash.value, ETag: `"${report.hash.value}"` };
        if (format === 'html') sendBytes(ctx.req, ctx.res, 'text/html; charset=utf-8', projectReportHtml(report), { extraHeaders: headers });
        else sendJson(ctx.res, 200, { report: 'wsi-annotate project report', ...report }, headers);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/protocol$`),
      access: { project: 0, action: 'view' },
      handler: async (ctx) => {
        const p = opts().records.protocol(projectScope(ctx).project.id);
        sendJson(ctx.res, 200, p ? { version: p.version, protocol: p.value, setBy: p.setBy, setAt: p.setAt } : { version: 0, protocol: null, setBy: null, setAt: null });
      },
    },
    {
      method: 'PUT',
      pattern: new RegExp(`^/api/projects/${PID}/protocol$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const body = await readJson(ctx.req, MAX_BODY, ctx.signal);
        const version = (body as Record<string, unknown> | null)?.['version'];
        if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) throw new WsiError('PRECONDITION_REQUIRED', 'send the version the protocol was edited from (`version`, 0 for the first)');
        const p = opts().records.setProtocol(projectScope(ctx).project.id, parseProtocol(body), version, actor(ctx), new Date().toISOString());
        record(ctx, 'protocol.change', { version: p.version, classes: p.value.classes.length });
        sendJson(ctx.res, 200, { version: p.version, protocol: p.value, setBy: p.setBy, setAt: p.setAt });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/qualifications$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const project = projectScope(ctx).project.id;
        const q = opts().records.qualifications(project);
        const members = await opts().identity.membersOf(project);
        sendJson(ctx.res, 200, {
          members: members.map((m) => {
            const v = q.get(m.userId);
            return { userId: m.userId, role: m.role, qualification: v ? { ...v.value, version: v.version, setBy: v.setBy, setAt: v.setAt } : null };
          }),
        });
      },
    },
    {
      method: 'PUT',
      pattern: new RegExp(`^/api/projects/${PID}/members/${UID}/qualification$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const project = projectScope(ctx).project.id;
        const user = ctx.params[1] as string;
        const q = parseQualification(await readJson(ctx.req, MAX_BODY, ctx.signal));
        const members = await opts().identity.membersOf(project);
        if (!members.some((m) => m.userId === user)) throw new WsiError('USER_NOT_FOUND', 'no member with this id in the project');
        const v = opts().records.setQualification(project, user, q, actor(ctx), new Date().toISOString());
        record(ctx, 'member.qualification', { user, version: v.version });
        sendJson(ctx.res, 200, { userId: user, qualification: { ...v.value, version: v.version, setBy: v.setBy, setAt: v.setAt } });
      },
    },
  ];
}
