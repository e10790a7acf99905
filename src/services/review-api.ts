/**
 * Typed access to the server's review routes (README "Reviews and
 * readings") for the viewer's review mode: the reviewer's queue on one
 * slide, decisions, bulk accept inside an ROI, reject reasons and the
 * comment thread of an object. Every answer that is not a success throws
 * an ApiError with the server's code and message, which the tool shows.
 */
import { ApiError } from './slide-api.js';
import { authHeaders, changeHeaders } from './http.js';

export type ReviewStateName = 'draft' | 'submitted' | 'expert_review' | 'accepted' | 'changes_requested' | 'rejected' | 'closed';

export interface ReviewItem {
  id: string;
  kind: 'object' | 'region';
  targetId: string;
  annotator: string;
  state: ReviewStateName;
  version: number;
  className: string | null;
  needsExpert: boolean;
  /** The object's bounding box (level-0 px), from the queue. */
  bbox?: [number, number, number, number] | null;
}

export interface ReviewComment {
  id: string;
  replyTo: string | null;
  author: string;
  at: string;
  text: string;
  point: [number, number] | null;
}

export interface Reason {
  code: string;
  label: string;
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(url), Accept: 'application/json' };
  if (method !== 'GET') Object.assign(headers, changeHeaders({ 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() }));
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  let parsed: unknown = null;
  try {
    parsed = await res.json();
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const p = (parsed ?? {}) as { code?: string; message?: string };
    throw new ApiError(res.status, p.code ?? 'HTTP_ERROR', p.message ?? `${res.status} ${res.statusText}`);
  }
  return parsed as T;
}

const slideUrl = (server: string, slide: string): string => `${server}/api/slides/${encodeURIComponent(slide)}`;
const projectUrl = (server: string, project: string): string => `${server}/api/projects/${encodeURIComponent(project)}`;

/** The items on one slide waiting for the caller: submitted ones, or (stage 'expert') those owing an expert stage; all pages. */
export async function slideQueue(server: string, project: string, slide: string, stage: 'review' | 'expert'): Promise<ReviewItem[]> {
  const out: ReviewItem[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 200; guard++) {
    const q = new URLSearchParams({ slide, stage, limit: '500', ...(after ? { after } : {}) });
    const page: { items: ReviewItem[]; next: string | null } = await call('GET', `${projectUrl(server, project)}/reviews/queue?${q}`);
    out.push(...page.items);
    if (!page.next) break;
    after = page.next;
  }
  return out;
}

export function decide(server: string, slide: string, item: ReviewItem, action: 'accept' | 'request-changes' | 'reject', extra: { comment?: string; reason?: string } = {}): Promise<ReviewItem> {
  return call('POST', `${slideUrl(server, slide)}/reviews/${item.id}/transition`, { action, version: item.version, ...extra });
}

export function bulkAccept(server: string, slide: string, roi: string, items: ReviewItem[]): Promise<{ items: ReviewItem[] }> {
  return call('POST', `${slideUrl(server, slide)}/reviews/bulk-accept`, { roi, items: items.map((i) => ({ id: i.id, version: i.version })) });
}

export function reasons(server: string, project: string): Promise<Reason[]> {
  return call<{ reasons: Reason[] }>('GET', `${projectUrl(server, project)}/reviews/reasons`).then((r) => r.reasons);
}

export function comments(server: string, slide: string, annotation: string): Promise<ReviewComment[]> {
  return call<{ comments: ReviewComment[] }>('GET', `${slideUrl(server, slide)}/annotations/${encodeURIComponent(annotation)}/comments`).then((r) => r.comments);
}

export function addComment(server: string, slide: string, annotation: string, text: string, at: [number, number] | null, replyTo: string | null = null): Promise<ReviewComment> {
  return call('POST', `${slideUrl(server, slide)}/annotations/${encodeURIComponent(annotation)}/comments`, { text, ...(at ? { at } : {}), ...(replyTo ? { replyTo } : {}) });
}

/** The caller's review items on one object (empty when it was never submitted). */
export function itemsOfObject(server: string, slide: string, object: string): Promise<ReviewItem[]> {
  return call<{ items: ReviewItem[] }>('GET', `${slideUrl(server, slide)}/reviews?object=${encodeURIComponent(object)}`).then((r) => r.items);
}

/**
 * The review state of each object on a slide that the caller may see
 * (object id → state), for the annotation list's Review column: an object
 * with several items (rounds) shows its open one, else its last.
 */
export async function objectReviewStates(server: string, slide: string): Promise<Map<string, ReviewStateName>> {
  const { items } = await call<{ items: ReviewItem[] }>('GET', `${slideUrl(server, slide)}/reviews`);
  const out = new Map<string, ReviewStateName>();
  for (const i of items) {
    if (i.kind !== 'object') continue;
    const had = out.get(i.targetId);
    if (had === undefined || had === 'closed' || i.state !== 'closed') out.set(i.targetId, i.state);
  }
  return out;
}

/** The author submits an object, naming the review state version they saw (0: never submitted). */
export function submitObject(server: string, slide: string, object: string, version: number): Promise<ReviewItem> {
  return call('POST', `${slideUrl(server, slide)}/reviews`, { object, version });
}
