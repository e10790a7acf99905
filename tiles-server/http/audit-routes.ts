/**
 * The audit log for auditors and admins: browse it filtered by user,
 * project, object, action and time (JSON pages or CSV), verify its chain,
 * and review access: who can reach which project, when each account last
 * signed in, and which accounts are dormant.
 */
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent, AuditLog } from '../audit/audit-log.js';
import type { AuthService } from '../identity/auth-service.js';
import type { AuditQuery, AuditRecord } from '../store/audit-store.js';
import { clientAddress } from './authorize.js';
import { sendBytes, sendJson } from './respond.js';
import type { Route } from './routes.js';

export interface AuditRoutesOptions {
  log: AuditLog;
  query: (q: AuditQuery) => AuditRecord[];
  auth: AuthService;
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
  /** An account not signed in for this long is dormant. */
  dormantDays: number;
}

function parseQuery(url: URL): AuditQuery {
  const q = url.searchParams;
  const id = (name: string): string | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(v)) throw new WsiError('BAD_REQUEST', `${name} must be an id`);
    return v;
  };
  const time = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    const ms = Date.parse(v);
    if (!Number.isFinite(ms)) throw new WsiError('BAD_REQUEST', `${name} must be an ISO 8601 time`);
    return ms;
  };
  const limitRaw = q.get('limit');
  const limit = limitRaw === null ? 500 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new WsiError('BAD_REQUEST', 'limit must be 1–10000');
  const after = q.get('after');
  if (after !== null && !/^\d{1,15}$/.test(after)) throw new WsiError('BAD_REQUEST', 'after must be a record number');
  const out: AuditQuery = { limit };
  const actor = id('user');
  const projectId = id('project');
  const target = id('object');
  const action = id('action');
  const fromMs = time('from');
  const toMs = time('to');
  if (actor !== undefined) out.actor = actor;
  if (projectId !== undefined) out.projectId = projectId;
  if (target !== undefined) out.target = target;
  if (action !== undefined) out.action = action;
  if (fromMs !== undefined) out.fromMs = fromMs;
  if (toMs !== undefined) out.toMs = toMs;
  if (after !== null) out.afterSeq = Number(after);
  return out;
}

const view = (r: AuditRecord): Record<string, unknown> => ({
  seq: r.seq,
  at: new Date(r.at).toISOString(),
  user: r.actor,
  action: r.action,
  outcome: r.outcome,
  project: r.projectId,
  object: r.target,
  detail: JSON.parse(r.detail) as unknown,
  ip: r.ip,
  hash: r.hash.toString('hex'),
});

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // a leading = + - @ would be a formula in a spreadsheet
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditRoutes(o: AuditRoutesOptions): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/api\/audit$/,
      access: { global: ['auditor', 'admin'] },
      handler: async (ctx) => {
        const q = parseQuery(ctx.url);
        const rows = o.query(q);
        o.audit({ actor: ctx.auth.principal?.user.id ?? null, action: 'audit.read', ip: clientAddress(ctx.req, o.trustProxy), detail: { rows: rows.length, format: ctx.url.searchParams.get('format') ?? 'json' } });
        if (ctx.url.searchParams.get('format') === 'csv') {
          const header = ['seq', 'at', 'user', 'action', 'outcome', 'project', 'object', 'detail', 'ip', 'hash'];
          const lines = [header.join(','), ...rows.map((r) => header.map((h) => csvCell(view(r)[h])).join(','))];
          sendBytes(ctx.req, ctx.res, 'text/csv; charset=utf-8', `${lines.join('\r\n')}\r\n`, { extraHeaders: { 'Content-Disposition': 'attachment; filename="audit.csv"' } });
          return;
        }
        const last = rows[rows.length - 1];
        sendJson(ctx.res, 200, { records: rows.map(view), next: rows.length === q.limit && last ? last.seq : null });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/audit\/verify$/,
      access: { global: ['auditor', 'admin'] },
      handler: async (ctx) => {
        const result = o.log.verify();
        o.audit({ actor: ctx.auth.principal?.user.id ?? null, action: 'audit.verify', outcome: result.ok ? 'ok' : 'failed', ip: clientAddress(ctx.req, o.trustProxy), detail: { brokenAt: result.brokenAt } });
        sendJson(ctx.res, result.ok ? 200 : 409, result);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/audit\/access-review$/,
      access: { global: ['auditor', 'admin'] },
      handler: async (ctx) => {
        const users = (await o.auth.store.listUsers()).filter((u) => !u.legacy);
        const projects = await o.auth.store.listProjects();
        const dormantBefore = Date.now() - o.dormantDays * 86_400_000;
        const memberships = await Promise.all(users.map((u) => o.auth.store.membershipsOf(u.id)));
        const names = new Map(projects.map((p) => [p.id, p.name]));
        o.audit({ actor: ctx.auth.principal?.user.id ?? null, action: 'audit.access-review', ip: clientAddress(ctx.req, o.trustProxy) });
        sendJson(ctx.res, 200, {
          generatedAt: new Date().toISOString(),
          dormantDays: o.dormantDays,
          users: users.map((u, i) => ({
            id: u.id,
            username: u.username,
            globalRole: u.globalRole,
            disabled: u.disabled,
            lastLoginAt: u.lastLoginAt,
            dormant: !u.disabled && (u.lastLoginAt === null ? Date.parse(u.createdAt) < dormantBefore : Date.parse(u.lastLoginAt) < dormantBefore),
            projects: (memberships[i] ?? []).map((m) => ({ id: m.projectId, name: names.get(m.projectId) ?? null, role: m.role })),
            allProjects: u.globalRole === 'admin',
          })),
        });
      },
    },
  ];
}
