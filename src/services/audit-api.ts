/**
 * The audit log's API for auditors and admins (GET /api/audit, its CSV,
 * /api/audit/verify and /api/audit/access-review): the audit browser's only
 * way to the server. Filters travel as query parameters (ids and times
 * only: never a name or anything else that could be PHI).
 */
import type { VerifyResult } from '../core/audit-verify.js';
import { ApiError } from './slide-api.js';

export type { VerifyResult };

export interface AuditFilter {
  user?: string;
  project?: string;
  object?: string;
  action?: string;
  /** ISO 8601 times. */
  from?: string;
  to?: string;
}

export interface AuditRow {
  seq: number;
  at: string;
  user: string | null;
  action: string;
  outcome: 'ok' | 'denied' | 'failed';
  project: string | null;
  object: string | null;
  detail: Record<string, unknown>;
  ip: string | null;
  hash: string;
}

export interface AccessReview {
  generatedAt: string;
  dormantDays: number;
  users: Array<{
    id: string;
    username: string;
    globalRole: string;
    disabled: boolean;
    lastLoginAt: string | null;
    dormant: boolean;
    projects: Array<{ id: string; name: string | null; role: string }>;
    allProjects: boolean;
  }>;
}

function query(server: string, f: AuditFilter, extra: Record<string, string>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (typeof v === 'string' && v.trim() !== '') q.set(k, v.trim());
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return `${server}/api/audit?${q.toString()}`;
}

async function json<T>(url: string, okStatuses: number[] = [200]): Promise<T> {
  const res = await fetch(url, { headers: { Accept: 'application/json' } });
  const body = (await res.json().catch(() => ({}))) as T & { code?: string; message?: string };
  if (!okStatuses.includes(res.status)) throw new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.message ?? res.statusText);
  return body;
}

/** One page of records, oldest first, after record `after`. */
export function auditPage(server: string, f: AuditFilter, after: number | null, limit = 200): Promise<{ records: AuditRow[]; next: number | null }> {
  return json(query(server, f, { limit: String(limit), ...(after !== null ? { after: String(after) } : {}) }));
}

/** The URL of the CSV of the records a filter selects (at most 10,000 from the start). */
export function auditCsvUrl(server: string, f: AuditFilter): string {
  return query(server, f, { format: 'csv', limit: '10000' });
}

/** Walks the whole chain (409 names the first broken link). */
export function verifyChain(server: string): Promise<VerifyResult> {
  return json(`${server}/api/audit/verify`, [200, 409]);
}

export function accessReview(server: string): Promise<AccessReview> {
  return json(`${server}/api/audit/access-review`);
}
