/**
 * The quarantine inbox's API for a project's managers (issue 15): its
 * de-identification jobs, a look at the inbox now, and the decision on a
 * verified copy. Jobs are named by id and study code; the server never
 * sends an original file name, so none can reach a URL or a log here.
 */
import { changeHeaders } from './http.js';
import { ApiError } from './slide-api.js';

export type JobState = 'queued' | 'running' | 'review' | 'approved' | 'rejected' | 'refused' | 'failed';

export interface InboxJob {
  id: string;
  studyCode: string;
  state: JobState;
  bytes: number;
  errorCode: string | null;
  original: 'quarantined' | 'deleted' | 'kept';
  projectSlideId: string | null;
  createdAt: string;
  updatedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  result?: string;
  label?: string;
  macro?: string;
  fieldsModified?: number;
  verification?: 'pass' | 'fail' | null;
}

export interface ManagedProject {
  id: string;
  name: string;
  role: string;
}

const projectUrl = (server: string, project: string): string => `${server}/api/projects/${encodeURIComponent(project)}`;

async function answer<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => ({}))) as T & { code?: string; message?: string };
  if (!res.ok) throw new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.message ?? res.statusText);
  return body;
}

/** The projects of the signed-in account, with its role in each. */
export async function myProjects(server: string): Promise<ManagedProject[]> {
  const me = await answer<{ projects?: ManagedProject[] }>(await fetch(`${server}/api/auth/me`, { headers: { Accept: 'application/json' } }));
  return me.projects ?? [];
}

export async function listJobs(server: string, project: string): Promise<InboxJob[]> {
  return (await answer<{ jobs: InboxJob[] }>(await fetch(`${projectUrl(server, project)}/inbox`, { headers: { Accept: 'application/json' } }))).jobs;
}

async function post<T>(url: string): Promise<T> {
  return answer<T>(await fetch(url, { method: 'POST', headers: changeHeaders({ 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() }), body: '{}' }));
}

/** Asks the server to look at the inbox now; new files become queued jobs. */
export function scanInbox(server: string, project: string): Promise<{ added: InboxJob[] }> {
  return post(`${projectUrl(server, project)}/inbox/scan`);
}

export function decide(server: string, project: string, job: string, decision: 'approve' | 'reject'): Promise<{ job: InboxJob }> {
  return post(`${projectUrl(server, project)}/inbox/${encodeURIComponent(job)}/${decision}`);
}

/** The job's report page and the copy's replacement label (while it waits for review). */
export const jobReportUrl = (server: string, project: string, job: string): string => `${projectUrl(server, project)}/inbox/${encodeURIComponent(job)}/report?format=html`;
export const jobLabelUrl = (server: string, project: string, job: string): string => `${projectUrl(server, project)}/inbox/${encodeURIComponent(job)}/label`;
/** The project's regulatory report, as the page to print. */
export const projectReportUrl = (server: string, project: string): string => `${projectUrl(server, project)}/report?format=html`;
