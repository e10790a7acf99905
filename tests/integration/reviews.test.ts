/**
 * Reviews through HTTP (issue 14): submit, accept, request changes, reject
 * with a reason from the project's list, reopen; the lock on reviewed work
 * in the annotation and mask write paths (REV-01); self-review (REV-02);
 * two reviewers on one object (REV-03); deleting an object under review
 * (REV-04); the expert stage and the slide's done flag (REV-05); the queue,
 * progress, comments and settings; blind projects and readings (AGR-06 for
 * these routes). Every bad request gets a 4xx with its code, never a 500.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, createUser, signIn, type Session } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { b64, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, unknown>;
interface Item {
  id: string;
  state: string;
  version: number;
  round: number;
  annotator: string;
  targetId: string;
  targetVersion: number | null;
  className: string | null;
  needsExpert: boolean;
  expertDone: boolean;
  events?: Array<{ action: string; from: string; to: string; actor: string; comment: string | null; reason: string | null; selfReview: boolean; expert: boolean }>;
}

let server: TestServer;
let base = '';
const sessions: Record<string, Session> = {};
const ids: Record<string, string> = {};
let project = '';
let blind = '';
let slide = '';
let slide2 = '';
let blindSlide = '';

function as(who: string, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  return asSession(base, sessions[who] as Session, method, path, body, method === 'GET' ? extra : { 'Idempotency-Key': randomUUID(), ...extra });
}

async function draw(who: string, on: string, x: number, classification = 'Tumour'): Promise<string> {
  const a = square(x, 100, 50, { classification });
  const r = await as(who, 'POST', `/api/slides/${on}/annotations`, a);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return a['id'] as string;
}

async function submit(who: string, on: string, object: string, version = 0): Promise<Item> {
  const r = await as(who, 'POST', `/api/slides/${on}/reviews`, { object, version });
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body as unknown as Item;
}

async function decide(who: string, on: string, item: Item, body: Json): Promise<{ status: number; body: Json }> {
  return as(who, 'POST', `/api/slides/${on}/reviews/${item.id}/transition`, { version: item.version, ...body });
}

async function audit(query: string): Promise<Array<{ action: string; user: string | null; outcome: string; detail: Json }>> {
  return (await as('admin', 'GET', `/api/audit?${query}&limit=1000`)).body['records'] as Array<{ action: string; user: string | null; outcome: string; detail: Json }>;
}

beforeAll(async () => {
  server = await startTestServer(`${FIXTURES}/slides`);
  base = server.url;
  sessions['admin'] = server.session as Session;
  ids['admin'] = server.admin?.id ?? '';
  for (const name of ['ann', 'bob', 'rev1', 'rev2', 'exp', 'vic']) {
    ids[name] = (await createUser(base, sessions['admin'], name)).id;
    sessions[name] = await signIn(base, name);
  }
  const folder = ((await as('admin', 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>).map((s) => s.id);
  project = ((await as('admin', 'POST', '/api/projects', { name: 'Review study' })).body['project'] as { id: string }).id;
  blind = ((await as('admin', 'POST', '/api/projects', { name: 'Blind reading', blind: true })).body['project'] as { id: string }).id;
  const roles: Record<string, string> = { ann: 'annotator', bob: 'annotator', rev1: 'reviewer', rev2: 'reviewer', exp: 'reviewer', vic: 'viewer' };
  for (const [who, role] of Object.entries(roles)) {
    expect((await as('admin', 'PUT', `/api/projects/${project}/members/${ids[who]}`, { role })).status).toBe(200);
    expect((await as('admin', 'PUT', `/api/projects/${blind}/members/${ids[who]}`, { role })).status).toBe(200);
  }
  const add = async (p: string, folderId: string, code: string): Promise<string> => {
    const r = await as('admin', 'POST', `/api/projects/${p}/slides`, { slideId: folderId, studyCode: code });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body['id'] as string;
  };
  slide = await add(project, folder[0] as string, 'RV-001');
  slide2 = await add(project, folder[1] as string, 'RV-002');
  blindSlide = await add(blind, folder[0] as string, 'BL-001');
  expect((await as('admin', 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'out-of-focus', label: 'Out of focus' })).status).toBe(201);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

describe('review states of an object', () => {
  it('submits, requests changes with a comment, resubmits, accepts, and locks accepted work (REV-01)', async () => {
    const a = await draw('ann', slide, 100);
    const first = await submit('ann', slide, a);
    expect(first).toMatchObject({ state: 'submitted', version: 1, round: 1, annotator: ids['ann'], targetId: a, targetVersion: 1, className: 'Tumour' });
    // under review, the object does not change
    const locked = await as('ann', 'PATCH', `/api/slides/${slide}/annotations/${a}`, { name: 'edited' }, { 'If-Match': '"1"' });
    expect([locked.status, locked.body['code']]).toEqual([409, 'REVIEW_LOCKED']);
    // request changes needs a comment
    const bare = await decide('rev1', slide, first, { action: 'request-changes' });
    expect([bare.status, bare.body['code']]).toEqual([400, 'REVIEW_COMMENT_REQUIRED']);
    const back = await decide('rev1', slide, first, { action: 'request-changes', comment: 'Include the invasive front' });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ state: 'changes_requested', version: 2 });
    // it goes back to the author: the item's history and the object's thread hold the comment
    const mine = (await as('ann', 'GET', `/api/slides/${slide}/reviews/${first.id}`)).body as unknown as Item;
    expect(mine.events?.map((e) => [e.action, e.to, e.actor])).toEqual([
      ['submit', 'submitted', ids['ann']],
      ['request-changes', 'changes_requested', ids['rev1']],
    ]);
    expect(mine.events?.[1]?.comment).toBe('Include the invasive front');
    const thread = (await as('ann', 'GET', `/api/slides/${slide}/annotations/${a}/comments`)).body['comments'] as Array<{ text: string; author: string }>;
    expect(thread.map((c) => [c.text, c.author])).toEqual([['Include the invasive front', ids['rev1']]]);
    // the author changes it and submits again
    expect((await as('ann', 'PATCH', `/api/slides/${slide}/annotations/${a}`, { name: 'with front' }, { 'If-Match': '"1"' })).status).toBe(200);
    const again = await submit('ann', slide, a, 2);
    expect(again).toMatchObject({ state: 'submitted', version: 3, targetVersion: 2 });
    const accepted = await decide('rev1', slide, again, { action: 'accept' });
    expect(accepted.body).toMatchObject({ state: 'accepted', version: 4, targetVersion: 2 });
    // accepted work is locked for its author: edit, delete and restore are refused, and the accepted version stays
    for (const [method, path, body] of [
      ['PATCH', `/api/slides/${slide}/annotations/${a}`, { name: 'sneaky' }],
      ['DELETE', `/api/slides/${slide}/annotations/${a}`, undefined],
      ['POST', `/api/slides/${slide}/annotations/${a}/restore`, undefined],
    ] as const) {
      const r = await as('ann', method, path, body, { 'If-Match': '"2"' });
      expect([r.status, r.body['code']], `${method} ${path}`).toEqual([409, 'REVIEW_LOCKED']);
    }
    const batch = await as('ann', 'POST', `/api/slides/${slide}/annotations/batch`, { ops: [{ op: 'update', id: a, ifMatch: 2, changes: { classification: 'Stroma' } }] });
    expect([batch.status, batch.body['code']]).toEqual([409, 'REVIEW_LOCKED']);
    const now = (await as('ann', 'GET', `/api/slides/${slide}/annotations/${a}`)).body;
    expect([now['version'], now['name'], now['classification']]).toEqual([2, 'with front', 'Tumour']);
    // changing it means submitting again: the author reopens (a new round), the accepted round stays in the history
    const reopened = await as('ann', 'POST', `/api/slides/${slide}/reviews/${first.id}/reopen`, { version: 4 });
    expect(reopened.body).toMatchObject({ state: 'draft', version: 5, round: 2 });
    expect((await as('ann', 'PATCH', `/api/slides/${slide}/annotations/${a}`, { name: 'round two' }, { 'If-Match': '"2"' })).status).toBe(200);
    const history = ((await as('admin', 'GET', `/api/slides/${slide}/reviews/${first.id}`)).body as unknown as Item).events?.map((e) => e.action);
    expect(history).toEqual(['submit', 'request-changes', 'submit', 'accept', 'reopen']);
    // every transition is in the audit log with who made it
    const records = (await audit(`action=review.accept`)).filter((r) => r.detail['item'] === first.id);
    expect(records.map((r) => [r.user, r.detail['from'], r.detail['to'], r.detail['version']])).toEqual([[ids['rev1'], 'submitted', 'accepted', 4]]);
    expect((await audit('action=review.reopen')).some((r) => r.detail['item'] === first.id && r.user === ids['ann'])).toBe(true);
  });

  it('refuses bad transitions with a clear 4xx: unknown item, illegal move, stale version, no version, wrong role', async () => {
    const a = await draw('ann', slide, 300);
    const item = await submit('ann', slide, a);
    const cases: Array<[string, string, string, Json, number, string]> = [
      ['unknown item', 'rev1', randomUUID(), { action: 'accept', version: 1 }, 404, 'REVIEW_NOT_FOUND'],
      ['malformed item id', 'rev1', 'not-an-item-id', { action: 'accept', version: 1 }, 404, 'REVIEW_NOT_FOUND'],
      ['stale version', 'rev1', item.id, { action: 'accept', version: 0 }, 412, 'PRECONDITION_FAILED'],
      ['no version', 'rev1', item.id, { action: 'accept' }, 428, 'PRECONDITION_REQUIRED'],
      ['unknown action', 'rev1', item.id, { action: 'approve', version: 1 }, 400, 'BAD_REQUEST'],
      ['annotator decides', 'bob', item.id, { action: 'accept', version: 1 }, 403, 'FORBIDDEN'],
      ['viewer decides', 'vic', item.id, { action: 'accept', version: 1 }, 403, 'FORBIDDEN'],
      ['not an object', 'rev1', item.id, [] as unknown as Json, 400, 'BAD_REQUEST'],
    ];
    for (const [what, who, id, body, status, code] of cases) {
      const r = await as(who, 'POST', `/api/slides/${slide}/reviews/${id}/transition`, body);
      expect([r.status, r.body['code']], what).toEqual([status, code]);
    }
    // If-Match works as the version too, and must agree with a version in the body
    const clash = await as('rev1', 'POST', `/api/slides/${slide}/reviews/${item.id}/transition`, { action: 'accept', version: 1 }, { 'If-Match': '"2"' });
    expect(clash.status).toBe(400);
    const viaHeader = await as('rev1', 'POST', `/api/slides/${slide}/reviews/${item.id}/transition`, { action: 'accept' }, { 'If-Match': '"1"' });
    expect(viaHeader.body).toMatchObject({ state: 'accepted', version: 2 });
    // accepting what is accepted, and — after a reopen — a draft, are illegal moves
    const twice = await as('rev1', 'POST', `/api/slides/${slide}/reviews/${item.id}/transition`, { action: 'accept', version: 2 });
    expect([twice.status, twice.body['code']]).toEqual([409, 'REVIEW_ILLEGAL_TRANSITION']);
    expect((await as('ann', 'POST', `/api/slides/${slide}/reviews/${item.id}/reopen`, { version: 2 })).status).toBe(200);
    const draft = await as('rev1', 'POST', `/api/slides/${slide}/reviews/${item.id}/transition`, { action: 'accept', version: 3 });
    expect([draft.status, draft.body['code']]).toEqual([409, 'REVIEW_ILLEGAL_TRANSITION']);
    // submitting: unknown object, someone else's object, a body naming neither or both, a stale version
    const submits: Array<[string, string, Json, number, string]> = [
      ['unknown object', 'ann', { object: randomUUID(), version: 0 }, 404, 'ANNOTATION_NOT_FOUND'],
      ["another's object", 'bob', { object: a, version: 3 }, 403, 'FORBIDDEN'],
      ['neither', 'ann', { version: 0 }, 400, 'BAD_REQUEST'],
      ['both', 'ann', { object: a, region: a, version: 0 }, 400, 'BAD_REQUEST'],
      ['stale', 'ann', { object: a, version: 1 }, 412, 'PRECONDITION_FAILED'],
      ['no version', 'ann', { object: a }, 428, 'PRECONDITION_REQUIRED'],
      ['viewer', 'vic', { object: a, version: 3 }, 403, 'FORBIDDEN'],
    ];
    for (const [what, who, body, status, code] of submits) {
      const r = await as(who, 'POST', `/api/slides/${slide}/reviews`, body);
      expect([r.status, r.body['code']], what).toEqual([status, code]);
    }
    // a reviewer may not reopen another's accepted work; a manager may
    const b = await submit('ann', slide, await draw('ann', slide, 500));
    const ok = await decide('rev1', slide, b, { action: 'accept' });
    const notAuthor = await as('rev2', 'POST', `/api/slides/${slide}/reviews/${b.id}/reopen`, { version: ok.body['version'] });
    expect(notAuthor.status).toBe(403);
    expect((await as('admin', 'POST', `/api/slides/${slide}/reviews/${b.id}/reopen`, { version: ok.body['version'] })).status).toBe(200);
  });

  it('rejects only with a reason from the project list, which managers keep', async () => {
    const item = await submit('ann', slide, await draw('ann', slide, 700));
    const none = await decide('rev1', slide, item, { action: 'reject' });
    expect([none.status, none.body['code']]).toEqual([400, 'REVIEW_REASON_REQUIRED']);
    const unknown = await decide('rev1', slide, item, { action: 'reject', reason: 'ugly' });
    expect([unknown.status, unknown.body['code']]).toEqual([400, 'REVIEW_REASON_UNKNOWN']);
    // the list: reviewers read it, only managers change it
    expect(((await as('rev1', 'GET', `/api/projects/${project}/reviews/reasons`)).body['reasons'] as Array<{ code: string }>).map((r) => r.code)).toEqual(['out-of-focus']);
    expect((await as('rev1', 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'ugly', label: 'Ugly' })).status).toBe(403);
    expect((await as('admin', 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'Bad Code!', label: 'x' })).status).toBe(400);
    expect((await as('admin', 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'wrong-class' })).status).toBe(400);
    expect((await as('admin', 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'wrong-class', label: 'Wrong class' })).status).toBe(201);
    expect((await as('admin', 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'wrong-class', label: 'Again' })).status).toBe(409);
    const rejected = await decide('rev1', slide, item, { action: 'reject', reason: 'wrong-class', comment: 'This is stroma' });
    expect(rejected.body).toMatchObject({ state: 'rejected', version: 2 });
    const events = ((await as('ann', 'GET', `/api/slides/${slide}/reviews/${item.id}`)).body as unknown as Item).events ?? [];
    expect(events[1]).toMatchObject({ action: 'reject', reason: 'wrong-class', comment: 'This is stroma', actor: ids['rev1'] });
    // a retired reason is offered no more, and a rejection naming it is refused
    expect((await as('admin', 'DELETE', `/api/projects/${project}/reviews/reasons/wrong-class`)).status).toBe(200);
    expect((await as('admin', 'DELETE', `/api/projects/${project}/reviews/reasons/wrong-class`)).status).toBe(404);
    const other = await submit('ann', slide, await draw('ann', slide, 900));
    const retired = await decide('rev1', slide, other, { action: 'reject', reason: 'wrong-class' });
    expect([retired.status, retired.body['code']]).toEqual([400, 'REVIEW_REASON_UNKNOWN']);
  });

  it('lets one of two reviewers acting on one version win; the other gets 412 and nothing is lost (REV-03)', async () => {
    for (let round = 0; round < 3; round++) {
      const item = await submit('ann', slide, await draw('ann', slide, 1100 + round * 100));
      const [one, two] = await Promise.all([decide('rev1', slide, item, { action: 'accept' }), decide('rev2', slide, item, { action: 'reject', reason: 'out-of-focus' })]);
      const statuses = [one.status, two.status].sort();
      expect(statuses).toEqual([200, 412]);
      const loser = one.status === 412 ? one : two;
      expect(loser.body['code']).toBe('PRECONDITION_FAILED');
      // the loser is told the current state
      expect((loser.body['detail'] as { current: { version: number } }).current.version).toBe(2);
      const events = ((await as('admin', 'GET', `/api/slides/${slide}/reviews/${item.id}`)).body as unknown as Item).events ?? [];
      expect(events.map((e) => e.action)).toEqual(['submit', one.status === 200 ? 'accept' : 'reject']);
    }
  });

  it('refuses self-review unless the project allows it, and the audit says which (REV-02)', async () => {
    const own = await draw('rev1', slide, 1500);
    const item = await submit('rev1', slide, own);
    const refused = await decide('rev1', slide, item, { action: 'accept' });
    expect([refused.status, refused.body['code']]).toEqual([403, 'REVIEW_SELF_REVIEW']);
    const denied = (await audit(`user=${ids['rev1']}&action=access.denied`)).filter((r) => r.detail['code'] === 'REVIEW_SELF_REVIEW');
    expect(denied.length).toBe(1);
    // only managers change the setting
    expect((await as('rev1', 'PUT', `/api/projects/${project}/reviews/settings`, { allowSelfReview: true })).status).toBe(403);
    expect((await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { allowSelfReview: 'yes' })).status).toBe(400);
    expect((await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { selfReview: true })).status).toBe(400);
    expect((await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { allowSelfReview: true })).body).toMatchObject({ allowSelfReview: true });
    try {
      const allowed = await decide('rev1', slide, item, { action: 'accept' });
      expect(allowed.status).toBe(200);
      const rec = (await audit('action=review.accept')).find((r) => r.detail['item'] === item.id);
      expect(rec?.detail['selfReview']).toBe(true);
      const other = (await audit('action=review.accept')).filter((r) => r.detail['item'] !== item.id);
      expect(other.length).toBeGreaterThan(0);
      expect(other.every((r) => r.detail['selfReview'] === false)).toBe(true);
    } finally {
      expect((await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { allowSelfReview: false })).status).toBe(200);
    }
  });

  it('closes the review of an object deleted under review, with the reason; history and audit keep both (REV-04)', async () => {
    const a = await draw('ann', slide, 1700);
    const item = await submit('ann', slide, a);
    const del = await as('ann', 'DELETE', `/api/slides/${slide}/annotations/${a}`, undefined, { 'If-Match': '"1"' });
    expect(del.status).toBe(200);
    const closed = (await as('ann', 'GET', `/api/slides/${slide}/reviews/${item.id}`)).body as unknown as Item;
    expect(closed).toMatchObject({ state: 'closed', version: 2 });
    expect(closed.events?.[1]).toMatchObject({ action: 'close', reason: 'deleted', actor: ids['ann'] });
    const history = (await as('ann', 'GET', `/api/slides/${slide}/annotations/${a}/history`)).body['history'] as Array<{ op: string }>;
    expect(history.map((h) => h.op)).toEqual(['create', 'delete']);
    expect((await audit('action=review.close')).some((r) => r.detail['item'] === item.id && r.detail['reason'] === 'deleted' && r.user === ids['ann'])).toBe(true);
    // a decision on the closed item is an illegal move; restored, the object can be submitted again (a new round)
    const late = await decide('rev1', slide, closed, { action: 'accept' });
    expect([late.status, late.body['code']]).toEqual([409, 'REVIEW_ILLEGAL_TRANSITION']);
    expect((await as('ann', 'POST', `/api/slides/${slide}/annotations/${a}/restore`, undefined, { 'If-Match': '"2"' })).status).toBe(200);
    const resubmitted = await as('ann', 'POST', `/api/slides/${slide}/reviews`, { object: a, version: 2 });
    expect(resubmitted.body).toMatchObject({ state: 'submitted', version: 3, round: 2, targetVersion: 3 });
  });
});

describe('expert review, queue and progress', () => {
  it('needs an expert stage for significant classes before the slide is done (REV-05)', async () => {
    // bad settings first: an expert who is not a reviewer of the project, a malformed list
    const notReviewer = await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { experts: [ids['ann']] });
    expect(notReviewer.status).toBe(400);
    expect((await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { significantClasses: 'Mitosis' })).status).toBe(400);
    const set = await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { significantClasses: ['Mitosis'], experts: [ids['exp'], ids['rev1']] });
    expect(set.body).toMatchObject({ significantClasses: ['Mitosis'], experts: [ids['exp'], ids['rev1']].sort() });
    const progress = async (): Promise<{ done: boolean; counts: Record<string, number> }> => {
      const p = (await as('admin', 'GET', `/api/projects/${project}/reviews/progress`)).body['slides'] as Array<{ slideId: string; done: boolean; annotators: Array<{ annotator: string; counts: Record<string, number> }> }>;
      const s = p.find((x) => x.slideId === slide2);
      return { done: s?.done ?? false, counts: s?.annotators.find((x) => x.annotator === ids['bob'])?.counts ?? {} };
    };
    expect((await progress()).done).toBe(false);
    const plain = await draw('bob', slide2, 100, 'Tumour');
    const mitosis = await draw('bob', slide2, 300, 'Mitosis');
    expect((await progress()).counts).toMatchObject({ draft: 2, submitted: 0, accepted: 0 });
    const p1 = await submit('bob', slide2, plain);
    const m1 = await submit('bob', slide2, mitosis);
    expect((await progress()).counts).toMatchObject({ draft: 0, submitted: 2 });
    expect((await decide('rev1', slide2, p1, { action: 'accept' })).body).toMatchObject({ state: 'accepted' });
    const first = await decide('rev1', slide2, m1, { action: 'accept' });
    expect(first.body).toMatchObject({ state: 'expert_review', needsExpert: true });
    expect(await progress()).toEqual({ done: false, counts: expect.objectContaining({ accepted: 1, expert_review: 1 }) });
    // the expert's queue; a reviewer who is not an expert cannot decide the expert stage
    const queue = (await as('exp', 'GET', `/api/projects/${project}/reviews/queue?stage=expert`)).body['items'] as Item[];
    expect(queue.map((i) => i.id)).toEqual([m1.id]);
    const notExpert = await as('rev2', 'POST', `/api/slides/${slide2}/reviews/${m1.id}/transition`, { action: 'accept', version: first.body['version'] });
    expect([notExpert.status, notExpert.body['code']]).toEqual([403, 'REVIEW_NOT_EXPERT']);
    // an expert who accepted the first stage does not decide the second
    const same = await as('rev1', 'POST', `/api/slides/${slide2}/reviews/${m1.id}/transition`, { action: 'accept', version: first.body['version'] });
    expect([same.status, same.body['code']]).toEqual([403, 'REVIEW_SAME_REVIEWER']);
    const expert = await as('exp', 'POST', `/api/slides/${slide2}/reviews/${m1.id}/transition`, { action: 'accept', version: first.body['version'] });
    expect(expert.body).toMatchObject({ state: 'accepted', expertDone: true });
    expect(await progress()).toEqual({ done: true, counts: expect.objectContaining({ accepted: 2, expert_review: 0, owesExpert: 0 }) });
    // a class marked significant after acceptance: the accepted object owes its expert stage, and the slide is not done
    expect((await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { significantClasses: ['Mitosis', 'Tumour'] })).status).toBe(200);
    expect(await progress()).toEqual({ done: false, counts: expect.objectContaining({ accepted: 1, owesExpert: 1 }) });
    const owed = (await as('exp', 'GET', `/api/projects/${project}/reviews/queue?stage=expert&slide=${slide2}`)).body['items'] as Item[];
    expect(owed.map((i) => i.id)).toEqual([p1.id]);
    const current = (await as('exp', 'GET', `/api/slides/${slide2}/reviews/${p1.id}`)).body as unknown as Item;
    expect((await decide('exp', slide2, current, { action: 'accept' })).body).toMatchObject({ state: 'accepted', expertDone: true });
    expect((await progress()).done).toBe(true);
    // an expert's decision is in the audit log as such
    expect((await audit('action=review.accept')).some((r) => r.detail['item'] === p1.id && r.detail['expert'] === true && r.user === ids['exp'])).toBe(true);
    // a new draft object makes the slide not done again
    await draw('bob', slide2, 500, 'Stroma');
    expect((await progress()).done).toBe(false);
    expect((await as('admin', 'PUT', `/api/projects/${project}/reviews/settings`, { significantClasses: [] })).status).toBe(200);
  });

  it('filters and pages the queue by slide, class and annotator, and refuses bad filters', async () => {
    const q = async (who: string, query: string): Promise<{ status: number; items: Item[]; next: string | null; code: unknown }> => {
      const r = await as(who, 'GET', `/api/projects/${project}/reviews/queue?${query}`);
      return { status: r.status, items: (r.body['items'] as Item[]) ?? [], next: (r.body['next'] as string | null) ?? null, code: r.body['code'] };
    };
    const t1 = await submit('bob', slide, await draw('bob', slide, 2100, 'Necrosis'));
    const t2 = await submit('bob', slide, await draw('bob', slide, 2300, 'Necrosis'));
    const t3 = await submit('ann', slide, await draw('ann', slide, 2500, 'Necrosis'));
    const byClass = await q('rev1', 'class=Necrosis');
    expect(byClass.items.map((i) => i.id).sort()).toEqual([t1.id, t2.id, t3.id].sort());
    expect(byClass.items.every((i) => Array.isArray((i as unknown as { bbox: unknown }).bbox))).toBe(true);
    const byBob = await q('rev1', `class=Necrosis&annotator=${ids['bob']}`);
    expect(byBob.items.map((i) => i.id).sort()).toEqual([t1.id, t2.id].sort());
    expect((await q('rev1', `class=Necrosis&slide=${slide2}`)).items).toEqual([]);
    // pages of one
    const seen: string[] = [];
    let after = '';
    for (let i = 0; i < 5; i++) {
      const page = await q('rev1', `class=Necrosis&limit=1${after ? `&after=${after}` : ''}`);
      seen.push(...page.items.map((x) => x.id));
      if (!page.next) break;
      after = page.next;
    }
    expect(seen.sort()).toEqual([t1.id, t2.id, t3.id].sort());
    for (const [query, status] of [
      ['limit=0', 400],
      ['limit=501', 400],
      ['limit=x', 400],
      ['stage=final', 400],
      ['after=nope', 400],
      [`slide=${blindSlide}`, 404],
    ] as const) {
      expect((await q('rev1', query)).status, query).toBe(status);
    }
    // annotators and viewers have no queue
    expect((await q('ann', '')).status).toBe(403);
    expect((await q('vic', '')).status).toBe(403);
  });
});

describe('bulk accept inside an ROI', () => {
  it('accepts the submitted objects inside an ROI in one step, and nothing when one is stale or outside', async () => {
    const roi = square(4000, 0, 1000, { classification: 'Tumour' });
    expect((await as('ann', 'POST', `/api/slides/${slide}/annotations`, roi)).status).toBe(201);
    const inside = [await submit('bob', slide, await draw('bob', slide, 4100)), await submit('bob', slide, await draw('bob', slide, 4400))];
    const outside = await submit('bob', slide, await draw('bob', slide, 6000));
    const bulk = (who: string, items: Item[], roiId = roi['id']): Promise<{ status: number; body: Json }> =>
      as(who, 'POST', `/api/slides/${slide}/reviews/bulk-accept`, { roi: roiId, items: items.map((i) => ({ id: i.id, version: i.version })) });
    // one outside the ROI, one stale version, an annotator, an unknown ROI: nothing changes
    expect((await bulk('rev1', [...inside, outside])).status).toBe(400);
    expect((await bulk('rev1', [inside[0] as Item, { ...(inside[1] as Item), version: 0 }])).status).toBe(412);
    expect((await bulk('ann', inside)).status).toBe(403);
    expect((await bulk('rev1', inside, randomUUID())).status).toBe(404);
    expect((await as('rev1', 'POST', `/api/slides/${slide}/reviews/bulk-accept`, { roi: roi['id'], items: [] })).status).toBe(400);
    for (const i of [...inside, outside]) expect(((await as('rev1', 'GET', `/api/slides/${slide}/reviews/${i.id}`)).body as unknown as Item).state).toBe('submitted');
    const ok = await bulk('rev1', inside);
    expect(ok.status).toBe(200);
    expect((ok.body['items'] as Item[]).map((i) => i.state)).toEqual(['accepted', 'accepted']);
    expect(((await as('rev1', 'GET', `/api/slides/${slide}/reviews/${outside.id}`)).body as unknown as Item).state).toBe('submitted');
    expect((await audit('action=review.accept')).filter((r) => inside.some((i) => i.id === r.detail['item'])).length).toBe(2);
  });
});

describe('comments on an object', () => {
  it('threads comments placed on the slide, and refuses bad ones', async () => {
    const a = await draw('ann', slide, 2700);
    const first = await as('rev1', 'POST', `/api/slides/${slide}/annotations/${a}/comments`, { text: 'Is this the margin?', at: [2720, 120] });
    expect(first.status).toBe(201);
    const reply = await as('ann', 'POST', `/api/slides/${slide}/annotations/${a}/comments`, { text: 'Yes', replyTo: first.body['id'] });
    expect(reply.status).toBe(201);
    const thread = (await as('ann', 'GET', `/api/slides/${slide}/annotations/${a}/comments`)).body['comments'] as Array<{ id: string; text: string; replyTo: string | null; point: number[] | null }>;
    expect(thread.map((c) => [c.text, c.replyTo, c.point])).toEqual([
      ['Is this the margin?', null, [2720, 120]],
      ['Yes', first.body['id'], null],
    ]);
    const other = await draw('ann', slide, 2900);
    for (const [what, who, id, body, status] of [
      ['no text', 'rev1', a, { at: [1, 1] }, 400],
      ['bad point', 'rev1', a, { text: 'x', at: [1] }, 400],
      ['reply to another object', 'rev1', other, { text: 'x', replyTo: first.body['id'] }, 400],
      ['too long', 'rev1', a, { text: 'x'.repeat(4001) }, 400],
      ['unknown object', 'rev1', randomUUID(), { text: 'x' }, 404],
      ['viewer', 'vic', a, { text: 'x' }, 403],
    ] as const) {
      expect((await as(who, 'POST', `/api/slides/${slide}/annotations/${id}/comments`, body)).status, what).toBe(status);
    }
    // the audit has the comment's id, never its text
    const rec = (await audit('action=review.comment')).find((r) => r.detail['comment'] === first.body['id']);
    expect(rec).toBeTruthy();
    expect(JSON.stringify(rec)).not.toContain('margin');
  });
});

describe('painted regions', () => {
  it('locks the tiles of a submitted region inside its ROI, not elsewhere (REV-01 for masks)', async () => {
    const roi = square(0, 0, 400, { classification: 'Tumour' });
    expect((await as('ann', 'POST', `/api/slides/${slide}/annotations`, roi)).status).toBe(201);
    const write = (tx: number, ty: number, ifMatch: number): Promise<{ status: number; body: Json }> =>
      as('ann', 'POST', `/api/slides/${slide}/masks/${ids['ann']}/tiles`, { ops: [{ tx, ty, ifMatch, data: b64(zlib(tile((x, y) => (x + y < 200 ? 1 : 0)))) }] });
    expect((await write(0, 0, 0)).status).toBe(200);
    const item = await as('ann', 'POST', `/api/slides/${slide}/reviews`, { region: roi['id'], version: 0 });
    expect(item.body).toMatchObject({ kind: 'region', state: 'submitted', annotator: ids['ann'], targetId: roi['id'] });
    const locked = await write(0, 0, 1);
    expect([locked.status, locked.body['code']]).toEqual([409, 'REVIEW_LOCKED']);
    // a tile away from the ROI is still the annotator's to paint
    const away = await write(1, 0, 0);
    expect(away.status, JSON.stringify(away.body)).toBe(200);
    // rasterizing into the mask is refused while a region of theirs is locked
    const raster = await as('ann', 'POST', `/api/slides/${slide}/masks/${ids['ann']}/rasterize`, { annotations: [roi['id']] });
    expect([raster.status, raster.body['code']]).toEqual([409, 'REVIEW_LOCKED']);
    // the ROI's outline is locked too
    const moved = await as('ann', 'PATCH', `/api/slides/${slide}/annotations/${String(roi['id'])}`, { name: 'moved' }, { 'If-Match': '"1"' });
    expect([moved.status, moved.body['code']]).toEqual([409, 'REVIEW_LOCKED']);
    // after changes are requested, painting goes on
    const back = await as('rev1', 'POST', `/api/slides/${slide}/reviews/${String(item.body['id'])}/transition`, { action: 'request-changes', version: 1, comment: 'the lower edge' });
    expect(back.status).toBe(200);
    expect((await write(0, 0, 1)).status).toBe(200);
    // progress counts the region with the annotator's objects
    const rows = (await as('admin', 'GET', `/api/projects/${project}/reviews/progress`)).body['slides'] as Array<{ slideId: string; annotators: Array<{ annotator: string; counts: Record<string, number> }> }>;
    expect(rows.find((s) => s.slideId === slide)?.annotators.find((a) => a.annotator === ids['ann'])?.counts['changes_requested']).toBeGreaterThanOrEqual(1);
  });
});

describe('blind projects and readings (AGR-06)', () => {
  let annObject = '';
  let bobObject = '';
  let reading = '';

  it('shows an annotator none of the other\'s review items, comments or progress', async () => {
    annObject = await draw('ann', blindSlide, 100);
    bobObject = await draw('bob', blindSlide, 300);
    const annItem = await submit('ann', blindSlide, annObject);
    await submit('bob', blindSlide, bobObject);
    expect((await as('rev1', 'POST', `/api/slides/${blindSlide}/annotations/${annObject}/comments`, { text: 'check' })).status).toBe(201);
    const bobList = (await as('bob', 'GET', `/api/slides/${blindSlide}/reviews`)).body['items'] as Item[];
    expect(bobList.map((i) => i.annotator)).toEqual([ids['bob']]);
    expect((await as('bob', 'GET', `/api/slides/${blindSlide}/reviews?object=${annObject}`)).body['items']).toEqual([]);
    expect((await as('bob', 'GET', `/api/slides/${blindSlide}/reviews/${annItem.id}`)).status).toBe(404);
    expect((await as('bob', 'GET', `/api/slides/${blindSlide}/annotations/${annObject}/comments`)).status).toBe(404);
    expect((await as('bob', 'POST', `/api/slides/${blindSlide}/annotations/${annObject}/comments`, { text: 'peek' })).status).toBe(404);
    expect((await as('bob', 'POST', `/api/slides/${blindSlide}/reviews`, { object: annObject, version: 0 })).status).toBe(404);
    const progress = (await as('bob', 'GET', `/api/projects/${blind}/reviews/progress`)).body['slides'] as Array<{ annotators: Array<{ annotator: string }> }>;
    expect(progress.flatMap((s) => s.annotators.map((a) => a.annotator))).toEqual([ids['bob']]);
    // the reviewer sees both
    const all = (await as('rev1', 'GET', `/api/slides/${blindSlide}/reviews`)).body['items'] as Item[];
    expect(all.map((i) => i.annotator).sort()).toEqual([ids['ann'], ids['bob']].sort());
  });

  it('creates a reading, refuses bad ones, and lists readers their assignments', async () => {
    const bad: Array<[string, Json, number]> = [
      ['no slides', { name: 'R', slides: [], readers: [ids['ann']] }, 400],
      ['slide of another project', { name: 'R', slides: [slide], readers: [ids['ann']] }, 400],
      ['reader not a member who annotates', { name: 'R', slides: [blindSlide], readers: [ids['vic']] }, 400],
      ['unknown reader', { name: 'R', slides: [blindSlide], readers: [randomUUID()] }, 400],
      ['roi not on the slide', { name: 'R', slides: [{ slide: blindSlide, roi: randomUUID() }], readers: [ids['ann']] }, 400],
      ['no name', { slides: [blindSlide], readers: [ids['ann']] }, 400],
    ];
    for (const [what, body, status] of bad) expect((await as('admin', 'POST', `/api/projects/${blind}/readings`, body)).status, what).toBe(status);
    expect((await as('ann', 'POST', `/api/projects/${blind}/readings`, { name: 'R', slides: [blindSlide], readers: [ids['ann']] })).status).toBe(403);
    const made = await as('admin', 'POST', `/api/projects/${blind}/readings`, { name: 'Ki-67 reading 1', slides: [blindSlide], readers: [ids['ann'], ids['bob']] });
    expect(made.status).toBe(201);
    reading = made.body['id'] as string;
    const bobs = (await as('bob', 'GET', `/api/projects/${blind}/readings`)).body['readings'] as Array<{ id: string; readers: Array<{ userId: string; submittedAt: string | null }> }>;
    expect(bobs.map((r) => r.id)).toEqual([reading]);
    expect((await as('rev2', 'GET', `/api/projects/${blind}/readings/${reading}`)).status).toBe(200);
    expect((await as('vic', 'GET', `/api/projects/${blind}/readings/${reading}`)).status).toBe(404);
    expect((await as('bob', 'GET', `/api/projects/${blind}/readings/${randomUUID()}`)).status).toBe(404);
  });

  it("hides the other reader's work from a blind reader before they submit (lists, masks, tiles, exports), and shows it after", async () => {
    // ann paints too
    const paint = await as('ann', 'POST', `/api/slides/${blindSlide}/masks/${ids['ann']}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile(() => 1))) }] });
    expect(paint.status).toBe(200);
    const bobSees = async (): Promise<{ objects: string[]; masks: string[]; tiles: number; summary: number; export: number; maskExport: number }> => {
      const objects = ((await as('bob', 'GET', `/api/slides/${blindSlide}/annotations`)).body['annotations'] as Array<{ id: string }>).map((a) => a.id);
      const masks = ((await as('bob', 'GET', `/api/slides/${blindSlide}/masks`)).body['masks'] as Array<{ annotator: string }>).map((m) => m.annotator);
      const tiles = (await as('bob', 'GET', `/api/slides/${blindSlide}/masks/${ids['ann']}/tiles`)).status;
      const summary = (await as('bob', 'GET', `/api/slides/${blindSlide}/masks/${ids['ann']}/summary`)).status;
      const exp = (await as('bob', 'GET', `/api/slides/${blindSlide}/annotations/export?format=qupath-geojson`)).status;
      const maskExport = (await as('bob', 'GET', `/api/slides/${blindSlide}/masks/${ids['ann']}/export.tiff`)).status;
      return { objects, masks, tiles, summary, export: exp, maskExport };
    };
    const before = await bobSees();
    expect(before.objects).toEqual([bobObject]);
    expect(before.masks).not.toContain(ids['ann']);
    expect([before.tiles, before.summary, before.export, before.maskExport]).toEqual([404, 404, 403, 404]);
    const submitted = await as('bob', 'POST', `/api/projects/${blind}/readings/${reading}/submit`);
    expect(submitted.status).toBe(200);
    expect((submitted.body['readers'] as Array<{ userId: string; submittedAt: string | null }>).find((r) => r.userId === ids['bob'])?.submittedAt).toBeTruthy();
    expect((await as('bob', 'POST', `/api/projects/${blind}/readings/${reading}/submit`)).status).toBe(409);
    // the rule: once a reader has submitted, they see the others' work on the reading's slides
    const after = await bobSees();
    expect(after.objects.sort()).toEqual([annObject, bobObject].sort());
    expect(after.masks).toContain(ids['ann']);
    expect([after.tiles, after.summary, after.export, after.maskExport]).toEqual([200, 200, 200, 200]);
    // still no changing it
    const edit = await as('bob', 'PATCH', `/api/slides/${blindSlide}/annotations/${annObject}`, { name: 'x' }, { 'If-Match': '"1"' });
    expect(edit.status).toBe(403);
    // ann has not submitted: she still sees only her own
    const annSees = ((await as('ann', 'GET', `/api/slides/${blindSlide}/annotations`)).body['annotations'] as Array<{ id: string }>).map((a) => a.id);
    expect(annSees).toEqual([annObject]);
    expect((await as('ann', 'GET', `/api/slides/${blindSlide}/masks/${ids['bob']}/summary`)).status).toBe(404);
    // a reviewer who is not a reader cannot submit it
    expect((await as('rev1', 'POST', `/api/projects/${blind}/readings/${reading}/submit`)).status).toBe(403);
    expect((await audit('action=reading.submit')).some((r) => r.user === ids['bob'] && r.detail['reading'] === reading)).toBe(true);
  });

  it('keeps the audit chain whole after all of it', async () => {
    const v = await as('admin', 'GET', '/api/audit/verify');
    expect([v.status, v.body['ok']]).toEqual([200, true]);
  });
});
