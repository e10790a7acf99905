/**
 * Class merge and rename over HTTP (issue 11): POST
 * /api/projects/{id}/classes/relabel relabels the objects (a new version
 * each) and the mask pixels (counted directly in the tiles, before and
 * after) on the project's slides, in one step, with a dry run first; only
 * managers may (SEC-05: annotators 403, outsiders 404); it is audited with
 * ids and counts; bad requests are clear 4xx and change nothing (unknown
 * class, merge into itself, a rename onto a class there is); a review lock
 * refuses it (REV-01) and nothing changes; a client that edited an object
 * before the merge gets 412 on its stale version (DATA-06), not a silent
 * overwrite.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, asSession, createUser, sessionHeaders, signIn, type Session, type TestUser } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { b64, serverMask, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Cls {
  id: number;
  name: string;
}

let server: TestServer;
let base = '';
let admin: Session;
const users: Record<string, TestUser> = {};
const sessions: Record<string, Session> = {};
let project = '';
let ps = '';

function as(who: string, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const s = who === 'admin' ? admin : (sessions[who] as Session);
  return asSession(base, s, method, path, body, method === 'GET' ? extra : { 'Idempotency-Key': randomUUID(), ...extra });
}

const palette = async (): Promise<Cls[]> => (await as('admin', 'GET', `/api/projects/${project}/classes`)).body['classes'] as Cls[];
const idOf = async (name: string): Promise<number> => ((await palette()).find((c) => c.name === name) as Cls).id;

/** Pixels per class id in a mask, counted in the tiles themselves. */
async function pixels(annotator: string): Promise<Map<number, number>> {
  const tiles = await serverMask(base, ps, annotator, (url) => anonymous(url, { headers: sessionHeaders(base, admin, {}) }));
  const out = new Map<number, number>();
  for (const t of tiles.values()) for (const v of t) if (v) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

async function objects(): Promise<Array<{ id: string; version: number; classification: string | null }>> {
  return (await as('admin', 'GET', `/api/slides/${ps}/annotations`)).body['annotations'] as Array<{ id: string; version: number; classification: string | null }>;
}

async function draw(who: string, cls: string, x: number): Promise<string> {
  const a = square(x, 100, 40, { classification: cls });
  const r = await as(who, 'POST', `/api/slides/${ps}/annotations`, a);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return a['id'] as string;
}

const relabel = (who: string, body: unknown, dry = false): Promise<{ status: number; body: Record<string, unknown> }> => as(who, 'POST', `/api/projects/${project}/classes/relabel${dry ? '?dryRun=1' : ''}`, body);

beforeAll(async () => {
  server = await startTestServer(`${FIXTURES}/slides`);
  base = server.url;
  admin = server.session as Session;
  for (const name of ['ann', 'otto']) {
    users[name] = await createUser(base, admin, name);
    sessions[name] = await signIn(base, name);
  }
  const folder = (await as('admin', 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  const slideId = folder.find((s) => s.name === 'generic-deflate-256.tif')?.id ?? '';
  project = ((await as('admin', 'POST', '/api/projects', { name: 'Relabel study' })).body['project'] as { id: string }).id;
  ps = (await as('admin', 'POST', `/api/projects/${project}/slides`, { slideId })).body['id'] as string;
  expect((await as('admin', 'PUT', `/api/projects/${project}/members/${users['ann']?.id}`, { role: 'annotator' })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('class merge and rename', () => {
  it('merges Tumour into Stroma: objects get a new version, pixels move class (counted directly), the palette loses Tumour; a dry run first changes nothing', async () => {
    const T = await idOf('Tumour');
    const S = await idOf('Stroma');
    const t1 = await draw('ann', 'Tumour', 0);
    const t2 = await draw('ann', 'Tumour', 60);
    await draw('ann', 'Stroma', 120);
    const w = await as('ann', 'POST', `/api/slides/${ps}/masks/${users['ann']?.id}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x) => (x < 30 ? T : x < 50 ? S : 0)))) }] });
    expect(w.status, JSON.stringify(w.body)).toBeLessThan(300);
    const before = await pixels(users['ann']?.id as string);
    expect([before.get(T), before.get(S)]).toEqual([30 * 512, 20 * 512]);

    const dry = await relabel('admin', { from: 'Tumour', into: 'Stroma' }, true);
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, objects: 2, tiles: 1, pixels: 30 * 512 });
    expect((await objects()).filter((o) => o.classification === 'Tumour')).toHaveLength(2);

    const r = await relabel('admin', { from: 'Tumour', into: 'Stroma' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ mode: 'merge', objects: 2, tiles: 1, pixels: 30 * 512, from: { name: 'Tumour', id: T }, to: { name: 'Stroma', id: S } });
    const after = await objects();
    expect(after.filter((o) => o.classification === 'Tumour')).toHaveLength(0);
    expect(after.filter((o) => o.classification === 'Stroma')).toHaveLength(3);
    expect(after.find((o) => o.id === t1)?.version).toBe(2);
    const px = await pixels(users['ann']?.id as string);
    expect(px.get(T)).toBeUndefined();
    expect(px.get(S)).toBe(50 * 512);
    expect((await palette()).map((c) => c.name)).not.toContain('Tumour');
    // the way back: the object's history keeps the Tumour version, the tile's history the tile before
    const hist = (await as('admin', 'GET', `/api/slides/${ps}/annotations/${t2}/history`)).body['history'] as Array<{ version: number; annotation: { classification: string } }>;
    expect(hist.map((h) => [h.version, h.annotation.classification])).toEqual([
      [1, 'Tumour'],
      [2, 'Stroma'],
    ]);
    // audited, with ids and counts
    const records = (await as('admin', 'GET', `/api/audit?project=${project}&action=class.relabel`)).body['records'] as Array<{ detail: Record<string, unknown> }>;
    expect(records.at(-1)?.detail).toMatchObject({ mode: 'merge', fromId: T, toId: S, objects: 2, tiles: 1, pixels: 30 * 512 });
  });

  it('renames Necrosis keeping its place and paint; the new name gets its own mask id', async () => {
    const N = await idOf('Necrosis');
    const at = (await palette()).findIndex((c) => c.name === 'Necrosis');
    const n1 = await draw('ann', 'Necrosis', 200);
    const head = (await pixels(users['ann']?.id as string)).get(N) ?? 0;
    expect(head).toBe(0);
    const r = await relabel('admin', { from: 'Necrosis', rename: 'Necrotic tissue' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const after = await palette();
    expect(after[at]?.name).toBe('Necrotic tissue');
    expect(after[at]?.id).not.toBe(N);
    expect((await objects()).find((o) => o.id === n1)).toMatchObject({ classification: 'Necrotic tissue', version: 2 });
  });

  it('DATA-03: a retried rename with the same Idempotency-Key replays the first answer (not 404), changes nothing more and is audited once; the key with another request is refused', async () => {
    const put = await as('admin', 'PUT', `/api/projects/${project}/classes`, { classes: [...(await palette()), { name: 'Retried', color: '#123456' }] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const o1 = await draw('ann', 'Retried', 260);
    const key = `retry-${randomUUID()}`;
    const audits = async (): Promise<number> => ((await as('admin', 'GET', `/api/audit?project=${project}&action=class.relabel`)).body['records'] as unknown[]).length;
    const auditsBefore = await audits();
    const send = (body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => as('admin', 'POST', `/api/projects/${project}/classes/relabel`, body, { 'Idempotency-Key': key });
    const first = await send({ from: 'Retried', rename: 'Retried twice' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body['replayed']).toBeUndefined();
    const again = await send({ from: 'Retried', rename: 'Retried twice' });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toEqual({ ...first.body, replayed: true });
    // nothing was written twice: the object has one new version, and one class.relabel record
    expect((await objects()).find((o) => o.id === o1)).toMatchObject({ classification: 'Retried twice', version: 2 });
    expect(await audits()).toBe(auditsBefore + 1);
    // the same key with another request: refused, nothing changes
    const other = await send({ from: 'Retried twice', rename: 'Third name' });
    expect(other.status).toBe(422);
    expect(other.body['code']).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await palette()).map((c) => c.name)).toContain('Retried twice');
    // a change without a key is refused (a dry run needs none)
    const bare = await asSession(base, admin, 'POST', `/api/projects/${project}/classes/relabel`, { from: 'Retried twice', rename: 'Third name' }, {});
    expect(bare.status).toBe(400);
    expect((await relabel('admin', { from: 'Retried twice', rename: 'Third name' }, true)).status).toBe(200);
  });

  it('bad requests are clear and change nothing; only managers may; a review lock refuses; a stale client gets 412', async () => {
    const snapshot = async (): Promise<string> => JSON.stringify([await palette(), await objects(), [...(await pixels(users['ann']?.id as string))]]);
    const before = await snapshot();
    const cases: Array<[unknown, number, string]> = [
      [{ from: 'Nope', into: 'Stroma' }, 404, 'CLASS_NOT_FOUND'],
      [{ from: 'Stroma', into: 'stroma' }, 400, 'BAD_REQUEST'],
      [{ from: 'Stroma', into: 'Nope' }, 404, 'CLASS_NOT_FOUND'],
      [{ from: 'Stroma', rename: 'lymphocytes' }, 400, 'PALETTE_DUPLICATE_NAME'],
      [{ from: 'Stroma' }, 400, 'BAD_REQUEST'],
      [{ from: 'Stroma', into: 'Lymphocytes', rename: 'X' }, 400, 'BAD_REQUEST'],
      [[], 400, 'BAD_REQUEST'],
    ];
    for (const [body, status, code] of cases) {
      const r = await relabel('admin', body);
      expect([r.status, r.body['code']], JSON.stringify(body)).toEqual([status, code]);
    }
    // SEC-05: an annotator may not; someone outside the project does not see it
    expect((await relabel('ann', { from: 'Stroma', into: 'Lymphocytes' })).status).toBe(403);
    expect([404, 403]).toContain((await relabel('otto', { from: 'Stroma', into: 'Lymphocytes' })).status);
    expect(await snapshot()).toBe(before);

    // REV-01: an object under review is locked, so the merge is refused whole
    const locked = await draw('ann', 'Lymphocytes', 300);
    const sub = await as('ann', 'POST', `/api/slides/${ps}/reviews`, { object: locked, version: 0 });
    expect(sub.status, JSON.stringify(sub.body)).toBeLessThan(300);
    await draw('ann', 'Lymphocytes', 360);
    const lockedBefore = await snapshot();
    const refused = await relabel('admin', { from: 'Lymphocytes', into: 'Stroma' });
    expect([refused.status, refused.body['code']]).toEqual([409, 'REVIEW_LOCKED']);
    expect(await snapshot()).toBe(lockedBefore);

    // DATA-06: a client holding version 1 of an object that a merge moved on gets 412, and keeps its edit
    const stale = await draw('ann', 'Normal', 420);
    expect((await relabel('admin', { from: 'Normal', into: 'Other' })).status).toBe(200);
    const late = await as('ann', 'PATCH', `/api/slides/${ps}/annotations/${stale}`, { name: 'edited before the merge' }, { 'If-Match': '"1"' });
    expect(late.status).toBe(412);
    expect((await objects()).find((o) => o.id === stale)).toMatchObject({ classification: 'Other', version: 2 });
  });
});
