/**
 * Accounts, projects and roles against the running server, as an attacker
 * and as confused users would use it (../shared/TEST-CATALOGUE.md):
 * SEC-01 every route of the table refused without a credential, with a
 * garbage or revoked token, and to a user outside the project; SEC-03
 * private tiles; SEC-04 restricted projects; SEC-05 read-only projects and
 * viewers; SEC-06 disabling and removal within 10 s; SEC-07/09 sign-out
 * revokes the session; CSRF (same origin and token, form posts refused);
 * SEC-11 the chain verifies and auditors see no pixels; SEC-12 no slide
 * names or credentials in the database or the logs; SEC-13 equal answers
 * and lockouts; SEC-15 no default account, no plain-HTTP network bind,
 * setup from loopback only; SEC-17 other projects' slide, annotation and
 * mask ids answer 404. A client's mistake is never a 500.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, asSession, createToken, createUser, sessionHeaders, setupTokenIn, signIn, TEST_PASSWORD, type Session, type TestUser } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { FIXTURES } from '../helpers/paths.js';
import { allRoutes, pathFor, ruleKind } from '../helpers/route-walk.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A slide file name standing for one that names a patient (DEID sentinels): it must appear in no log and no record. */
const SENTINEL = 'SENTINEL-DOE-JANE-19700101';

let dir: string;
let logDir: string;
let server: TestServer;
let base = '';
let admin: Session;
const users: Record<string, TestUser> = {};
const sessions: Record<string, Session> = {};
let p1 = '';
let p2 = '';
/** The sentinel slide in P1, the other slide in P2, and the sentinel slide in P2 too. */
let ps1 = '';
let ps2 = '';
let ps2b = '';
let folderSentinel = '';
const secrets: string[] = [];

/** A call from a user's cookie session (CSRF token and Origin included; an operation id on changes). */
function as(who: string, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const s = who === 'admin' ? admin : (sessions[who] as Session);
  return asSession(base, s, method, path, body, { ...(method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() }), ...extra });
}

const code = (r: { body: Record<string, unknown> }): unknown => r.body['code'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsi-access-'));
  logDir = await mkdtemp(join(tmpdir(), 'wsi-access-log-'));
  await mkdir(join(dir, 'slides'));
  await copyFile(join(FIXTURES, 'slides', 'aperio-jpeg-240-x4.svs'), join(dir, 'slides', `${SENTINEL}.svs`));
  await copyFile(join(FIXTURES, 'slides', 'generic-deflate-256.tif'), join(dir, 'slides', 'other.tif'));
  server = await startTestServer(dir, { LOG_FILE: join(logDir, 'requests.log') });
  base = server.url;
  admin = server.session as Session;
  secrets.push(admin.sessionId, admin.csrf, server.token as string);
  for (const name of ['alice', 'bob', 'vic', 'carol']) users[name] = await createUser(base, admin, name);
  users['aud'] = await createUser(base, admin, 'aud', 'auditor');
  for (const name of Object.keys(users)) {
    sessions[name] = await signIn(base, name);
    secrets.push(sessions[name].sessionId, sessions[name].csrf);
  }
  const slides = (await as('admin', 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  folderSentinel = slides.find((s) => s.name.includes(SENTINEL))?.id ?? '';
  const folderOther = slides.find((s) => s.name.includes('other'))?.id ?? '';
  p1 = ((await as('admin', 'POST', '/api/projects', { name: 'Study one', editingMode: 'restricted' })).body['project'] as { id: string }).id;
  p2 = ((await as('admin', 'POST', '/api/projects', { name: 'Study two' })).body['project'] as { id: string }).id;
  ps1 = (await as('admin', 'POST', `/api/projects/${p1}/slides`, { slideId: folderSentinel })).body['id'] as string;
  ps2 = (await as('admin', 'POST', `/api/projects/${p2}/slides`, { slideId: folderOther })).body['id'] as string;
  ps2b = (await as('admin', 'POST', `/api/projects/${p2}/slides`, { slideId: folderSentinel })).body['id'] as string;
  for (const [who, role] of [['alice', 'annotator'], ['bob', 'annotator'], ['vic', 'viewer']] as const) {
    expect((await as('admin', 'PUT', `/api/projects/${p1}/members/${users[who]?.id}`, { role })).status).toBe(200);
  }
  expect((await as('admin', 'PUT', `/api/projects/${p2}/members/${users['carol']?.id}`, { role: 'manager' })).status).toBe(200);
  expect([ps1, ps2, ps2b].every((id) => /^[0-9a-f]{32}$/.test(id))).toBe(true);
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(logDir, { recursive: true, force: true });
});

describe('every route is authorised (SEC-01)', () => {
  const fill = (): string[] => [ps1, p1, users['alice']?.id ?? '', '0', 'jpeg', 'x'];

  it('refuses every route without a credential, with a garbage or a revoked token (401), and never answers 500', async () => {
    const carolToken = await createToken(base, sessions['carol'] as Session, 'read', 'to revoke');
    const list = (await asSession(base, sessions['carol'] as Session, 'GET', '/api/auth/tokens')).body['tokens'] as Array<{ id: string }>;
    expect((await asSession(base, sessions['carol'] as Session, 'DELETE', `/api/auth/tokens/${list[0]?.id}`)).status).toBe(200);
    const checked: string[] = [];
    for (const route of allRoutes()) {
      const path = pathFor(route, fill());
      const kind = ruleKind(route.access);
      for (const [what, headers] of [
        ['none', {}],
        ['garbage', { Authorization: 'Bearer wsi_at_not-a-token' }],
        ['revoked', { Authorization: `Bearer ${carolToken}` }],
      ] as const) {
        const res = await anonymous(`${base}${path}`, { method: route.method, headers });
        await res.arrayBuffer();
        const label = `${route.method} ${path} (${what})`;
        expect(res.status, label).toBeLessThan(500);
        if (kind !== 'public' || what !== 'none') expect(res.status, label).toBe(401);
      }
      checked.push(`${route.method} ${path}`);
    }
    expect(checked.length).toBe(allRoutes().length);
  });

  it('refuses a user outside the project: 404 for its slides and projects, 403 for others’ roles', async () => {
    const carol = await createToken(base, sessions['carol'] as Session, 'write', 'outsider');
    for (const route of allRoutes()) {
      const kind = ruleKind(route.access);
      if (kind === 'public' || kind === 'signedIn') continue;
      const path = pathFor(route, fill());
      const res = await anonymous(`${base}${path}`, { method: route.method, headers: { Authorization: `Bearer ${carol}` } });
      const body = (await res.json()) as { code?: string };
      const label = `${route.method} ${path}: ${JSON.stringify(body)}`;
      if (kind === 'global') expect(res.status, label).toBe(403);
      else expect(res.status, label).toBe(404);
    }
  });

  it('tells anyone whether the server is up, and only admins the details', async () => {
    const open = await anonymous(`${base}/api/health`);
    expect(await open.json()).toEqual({ ok: true });
    expect(Object.keys((await as('admin', 'GET', '/api/health')).body)).toEqual(expect.arrayContaining(['ok', 'slides', 'storage', 'tiles']));
    expect((await as('alice', 'GET', '/api/health')).body).toEqual({ ok: true });
  });
});

describe("other projects' ids (SEC-17)", () => {
  it('lists only the projects’ slides of the caller, under project-slide ids', async () => {
    const alice = (await as('alice', 'GET', '/api/slides')).body['slides'] as Array<{ id: string; name: string; project: string }>;
    expect(alice.map((s) => [s.id, s.project])).toEqual([[ps1, p1]]);
    const carol = (await as('carol', 'GET', '/api/slides')).body['slides'] as Array<{ id: string }>;
    expect(carol.map((s) => s.id).sort()).toEqual([ps2, ps2b].sort());
  });

  it('answers 404 for another project’s slide, for the folder’s own id, and on every image route', async () => {
    for (const id of [ps2, ps2b, folderSentinel, 'ffffffffffffffffffffffffffffffff']) {
      for (const path of [`/api/slides/${id}`, `/dzi/${id}.dzi`, `/dzi/${id}_files/0/0_0.jpeg`, `/iiif/${id}/info.json`, `/iiif/${id}/manifest.json`, `/iiif/${id}/full/64,/0/default.jpg`, `/api/slides/${id}/thumbnail`, `/api/slides/${id}/annotations`, `/api/slides/${id}/masks`]) {
        const r = await as('alice', 'GET', path);
        expect([path, r.status, code(r)]).toEqual([path, 404, 'SLIDE_NOT_FOUND']);
      }
    }
  });

  it('keeps a slide’s annotations and masks to its project, even when two projects hold the same slide', async () => {
    const mine = square(100, 100, 50);
    expect((await as('alice', 'POST', `/api/slides/${ps1}/annotations`, mine)).status).toBe(201);
    const theirs = square(300, 300, 50);
    expect((await as('carol', 'POST', `/api/slides/${ps2b}/annotations`, theirs)).status).toBe(201);
    const carolSees = (await as('carol', 'GET', `/api/slides/${ps2b}/annotations`)).body['annotations'] as Array<{ id: string }>;
    expect(carolSees.map((a) => a.id)).toEqual([theirs['id']]);
    // another project's annotation id through one's own slide
    for (const [method, path, extra] of [
      ['GET', `/api/slides/${ps1}/annotations/${String(theirs['id'])}`, {}],
      ['GET', `/api/slides/${ps1}/annotations/${String(theirs['id'])}/history`, {}],
      ['PATCH', `/api/slides/${ps1}/annotations/${String(theirs['id'])}`, { 'If-Match': '"1"' }],
      ['DELETE', `/api/slides/${ps1}/annotations/${String(theirs['id'])}`, { 'If-Match': '"1"' }],
    ] as const) {
      const r = await as('alice', method, path, method === 'PATCH' ? { note: 'mine now' } : undefined, extra);
      expect([method, r.status, code(r)]).toEqual([method, 404, 'ANNOTATION_NOT_FOUND']);
    }
    const a = users['alice']?.id ?? '';
    const tiles = { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]).toString('base64') }] };
    await as('alice', 'POST', `/api/slides/${ps1}/masks/${a}/tiles`, tiles);
    const carolMasks = (await as('carol', 'GET', `/api/slides/${ps2b}/masks`)).body['masks'] as unknown[];
    expect(carolMasks).toEqual([]);
    const packed = await anonymous(`${base}/api/slides/${ps2b}/masks/${a}/tiles`, { headers: sessionHeaders(base, sessions['carol'] as Session) });
    expect(Buffer.from(await packed.arrayBuffer()).length).toBeLessThan(64);
  });
});

describe('roles and editing modes', () => {
  it("refuses an annotator's change of another's object in a restricted project, changes nothing, and audits the refusal (SEC-04)", async () => {
    const theirs = square(500, 500, 40);
    expect((await as('bob', 'POST', `/api/slides/${ps1}/annotations`, theirs)).status).toBe(201);
    const id = String(theirs['id']);
    const tries = [
      await as('alice', 'PATCH', `/api/slides/${ps1}/annotations/${id}`, { note: 'changed' }, { 'If-Match': '"1"' }),
      await as('alice', 'DELETE', `/api/slides/${ps1}/annotations/${id}`, undefined, { 'If-Match': '"1"' }),
      await as('alice', 'POST', `/api/slides/${ps1}/annotations/batch`, { ops: [{ op: 'update', id, ifMatch: 1, changes: { note: 'x' } }] }),
      await as('alice', 'POST', `/api/slides/${ps1}/annotations/${id}/restore`, undefined, { 'If-Match': '"1"' }),
    ];
    expect(tries.map((r) => [r.status, code(r)])).toEqual(Array(4).fill([403, 'FORBIDDEN']));
    const after = await as('bob', 'GET', `/api/slides/${ps1}/annotations/${id}`);
    expect([after.body['version'], after.body['note'] ?? null]).toEqual([1, null]);
    // her own object she may change; and bob's mask is bob's
    const own = square(700, 700, 30);
    expect((await as('alice', 'POST', `/api/slides/${ps1}/annotations`, own)).status).toBe(201);
    expect((await as('alice', 'PATCH', `/api/slides/${ps1}/annotations/${String(own['id'])}`, { note: 'fine' }, { 'If-Match': '"1"' })).status).toBe(200);
    const bobsMask = await as('alice', 'POST', `/api/slides/${ps1}/masks/${users['bob']?.id}/tiles`, { ops: [] });
    expect([bobsMask.status, code(bobsMask)]).toEqual([403, 'FORBIDDEN']);
    const all = (await as('admin', 'GET', `/api/audit?user=${users['alice']?.id}&action=access.denied`)).body['records'] as Array<{ outcome: string; object: string; detail: { route: string } }>;
    const denied = all.filter((r) => r.object === ps1);
    expect(denied.length).toBeGreaterThanOrEqual(5);
    expect(all.every((r) => r.outcome === 'denied')).toBe(true);
    expect(denied.map((r) => r.detail.route)).toContain('PATCH /api/slides/*/annotations/*');
  });

  it('refuses writes of a viewer, and of everyone but managers in a read-only project (SEC-05)', async () => {
    const v = await as('vic', 'POST', `/api/slides/${ps1}/annotations`, square(10, 10, 5));
    expect([v.status, code(v)]).toEqual([403, 'FORBIDDEN']);
    expect((await as('vic', 'GET', `/api/slides/${ps1}/annotations`)).status).toBe(200);
    expect((await as('admin', 'PATCH', `/api/projects/${p1}`, { editingMode: 'read-only' })).status).toBe(200);
    try {
      const a = await as('alice', 'POST', `/api/slides/${ps1}/annotations`, square(20, 20, 5));
      expect([a.status, code(a)]).toEqual([403, 'FORBIDDEN']);
      const m = await as('alice', 'POST', `/api/slides/${ps1}/masks/${users['alice']?.id}/tiles`, { ops: [] });
      expect(m.status).toBe(403);
    } finally {
      expect((await as('admin', 'PATCH', `/api/projects/${p1}`, { editingMode: 'restricted' })).status).toBe(200);
    }
  });

  it('hides file names and others’ work from annotators in a blind project, not from its manager', async () => {
    const p3 = ((await as('admin', 'POST', '/api/projects', { name: 'Blind study', blind: true })).body['project'] as { id: string }).id;
    const folder = ((await as('admin', 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>).find((x) => x.name.includes('other'))?.id;
    const added = await as('admin', 'POST', `/api/projects/${p3}/slides`, { slideId: folder, studyCode: 'BL-001' });
    const ps3 = added.body['id'] as string;
    for (const who of ['alice', 'carol']) expect((await as('admin', 'PUT', `/api/projects/${p3}/members/${users[who]?.id}`, { role: 'annotator' })).status).toBe(200);
    const listed = ((await as('alice', 'GET', '/api/slides')).body['slides'] as Array<{ id: string; name: string }>).find((x) => x.id === ps3);
    expect(listed?.name).toBe('BL-001');
    expect((await as('alice', 'GET', `/api/slides/${ps3}`)).body['name']).toBe('BL-001');
    const hers = square(10, 10, 20);
    const his = square(100, 10, 20);
    expect((await as('alice', 'POST', `/api/slides/${ps3}/annotations`, hers)).status).toBe(201);
    expect((await as('carol', 'POST', `/api/slides/${ps3}/annotations`, his)).status).toBe(201);
    const page = (await as('alice', 'GET', `/api/slides/${ps3}/annotations`)).body;
    expect([(page['annotations'] as Array<{ id: string }>).map((x) => x.id), page['total']]).toEqual([[hers['id']], 1]);
    expect((await as('alice', 'GET', `/api/slides/${ps3}/annotations/${String(his['id'])}`)).status).toBe(404);
    expect((await as('alice', 'GET', `/api/slides/${ps3}/annotations/export?format=qupath-geojson`)).status).toBe(403);
    await as('carol', 'POST', `/api/slides/${ps3}/masks/${users['carol']?.id}/tiles`, { ops: [] });
    expect((await as('alice', 'GET', `/api/slides/${ps3}/masks/${users['carol']?.id}/summary`)).status).toBe(404);
    const managerSees = ((await as('admin', 'GET', `/api/slides/${ps3}/annotations`)).body['annotations'] as Array<{ id: string }>).map((x) => x.id);
    expect(managerSees.sort()).toEqual([hers['id'], his['id']].sort());
    expect((await as('admin', 'GET', `/api/slides/${ps3}`)).body['name']).toBe('slides/other.tif');
    // history names (issue 11): the manager changes alice's object; alice's history names her own account, the manager only as "another reader"
    expect((await as('admin', 'PATCH', `/api/slides/${ps3}/annotations/${String(hers['id'])}`, { name: 'checked' }, { 'If-Match': '"1"' })).status).toBe(200);
    const hist = (await as('alice', 'GET', `/api/slides/${ps3}/annotations/${String(hers['id'])}/history`)).body;
    const authors = hist['authors'] as Record<string, { username: string; displayName: string } | null>;
    expect(authors[users['alice']?.id ?? '']?.username).toBe('alice');
    expect(authors[server.admin?.id ?? '']).toEqual({ username: '', displayName: 'another reader' });
    const managerView = (await as('admin', 'GET', `/api/slides/${ps3}/annotations/${String(hers['id'])}/history`)).body['authors'] as Record<string, { username: string } | null>;
    expect(managerView[users['alice']?.id ?? '']?.username).toBe('alice');
    // exports are named after the study code for the blind reader, after the slide for the manager (issue 11)
    const disposition = async (who: string, path: string): Promise<string | null> => {
      const res = await anonymous(`${base}${path}`, { headers: sessionHeaders(base, who === 'admin' ? admin : (sessions[who] as Session)) });
      await res.arrayBuffer();
      expect(res.status, path).toBe(200);
      return res.headers.get('content-disposition');
    };
    const day = new Date().toISOString().slice(0, 10);
    const hersMask = await disposition('alice', `/api/slides/${ps3}/masks/${users['alice']?.id}/export.tiff`);
    expect(hersMask).toBe(`attachment; filename="BL-001_mask_${day}.tiff"`);
    expect(await disposition('admin', `/api/slides/${ps3}/annotations/export?format=qupath-geojson`)).toBe(`attachment; filename="other_annotations_${day}.geojson"`);
    expect(await disposition('admin', `/api/slides/${ps3}/masks/${users['carol']?.id}/export.tiff`)).toBe(`attachment; filename="other_mask-${(users['carol']?.id ?? '').slice(0, 8)}_${day}.tiff"`);
  });

  it("answers the audit browser's malformed filters with 400 and a reason, never 500", async () => {
    for (const [query, reason] of [
      ['from=yesterday', /ISO 8601/],
      ['to=2026-13-45T99:00', /ISO 8601/],
      ['limit=0', /limit/],
      ['limit=100000', /limit/],
      ['after=-3', /record number/],
      [`user=${encodeURIComponent('../../etc/passwd')}`, /must be an id/],
      [`object=${encodeURIComponent("x' OR 1=1 --")}`, /must be an id/],
    ] as const) {
      const res = await as('aud', 'GET', `/api/audit?${query}`);
      expect(res.status, query).toBe(400);
      expect(String(res.body['message']), query).toMatch(reason);
    }
  });

  it('lists the label and macro to managers only, and shows slides to auditors never (SEC-11)', async () => {
    const viewer = (await as('vic', 'GET', `/api/slides/${ps1}`)).body;
    expect(viewer['associatedImages']).toEqual([]);
    expect(viewer['name']).toBe(`slides/${SENTINEL}.svs`);
    const manager = (await as('admin', 'GET', `/api/slides/${ps1}`)).body;
    expect((manager['associatedImages'] as Array<{ kind: string }>).map((x) => x.kind).sort()).toEqual(['label', 'macro', 'thumbnail']);
    expect((await as('aud', 'GET', `/api/slides/${ps1}`)).status).toBe(404);
    expect((await as('aud', 'GET', `/dzi/${ps1}_files/0/0_0.jpeg`)).status).toBe(404);
    const verify = await as('aud', 'GET', '/api/audit/verify');
    expect([verify.status, verify.body['ok']]).toEqual([200, true]);
  });

  it('serves tiles private to the credential that fetched them (SEC-03)', async () => {
    const res = await anonymous(`${base}/dzi/${ps1}_files/0/0_0.jpeg`, { headers: sessionHeaders(base, sessions['alice'] as Session) });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^private/);
    expect(res.headers.get('vary')).toMatch(/Cookie/);
    expect(res.headers.get('vary')).toMatch(/Authorization/);
  });
});

describe('cookie sessions and CSRF', () => {
  const post = (headers: Record<string, string>, body: string): Promise<Response> => anonymous(`${base}/api/slides/${ps1}/annotations`, { method: 'POST', headers: { 'Idempotency-Key': randomUUID(), ...headers }, body });

  it('refuses a change without the CSRF token, from another origin, or without any origin', async () => {
    const s = sessions['alice'] as Session;
    const json = JSON.stringify(square(40, 40, 5));
    const cases: Array<[string, Record<string, string>]> = [
      ['no token', { Cookie: s.cookie, Origin: base, 'Content-Type': 'application/json' }],
      ['a wrong token', { Cookie: s.cookie, Origin: base, 'X-CSRF-Token': 'x'.repeat(43), 'Content-Type': 'application/json' }],
      ['another origin', { Cookie: s.cookie, Origin: 'http://evil.example', 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json' }],
      ['no origin at all', { Cookie: s.cookie, 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json' }],
    ];
    for (const [what, headers] of cases) {
      const r = await post(headers, json);
      expect([what, r.status, ((await r.json()) as { code: string }).code]).toEqual([what, 403, 'CSRF_FAILED']);
    }
    const ok = await post({ ...sessionHeaders(base, s), 'Content-Type': 'application/json' }, json);
    expect(ok.status).toBe(201);
  });

  it('refuses cross-site form posts (text/plain, urlencoded, multipart)', async () => {
    const s = sessions['alice'] as Session;
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      for (const origin of ['http://evil.example', base]) {
        const r = await post({ Cookie: s.cookie, Origin: origin, 'Content-Type': type }, JSON.stringify(square(60, 60, 5)));
        expect([type, origin, r.status]).toEqual([type, origin, 403]);
      }
    }
  });

  it('refuses a sign-in posted as a form from another site (no login CSRF): no cookie is set', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await anonymous(`${base}/api/auth/session`, { method: 'POST', headers: { Origin: 'http://evil.example', 'Content-Type': type }, body: 'username=carol&password=x' });
      expect([type, r.status]).toEqual([type, 415]);
      expect(r.headers.getSetCookie()).toEqual([]);
    }
  });

  it('sign-out revokes the session on the server (SEC-07, SEC-09)', async () => {
    const s = await signIn(base, 'alice');
    expect((await asSession(base, s, 'GET', '/api/auth/me')).status).toBe(200);
    expect((await asSession(base, s, 'DELETE', '/api/auth/session')).status).toBe(200);
    const after = await asSession(base, s, 'GET', `/api/slides/${ps1}`);
    expect([after.status, code(after)]).toEqual([401, 'UNAUTHENTICATED']);
  });
});

describe('revocation (SEC-06)', () => {
  async function until401or404(fn: () => Promise<number>, want: number): Promise<number> {
    const t0 = Date.now();
    while (Date.now() - t0 < 12_000) {
      if ((await fn()) === want) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 200));
    }
    return Number.POSITIVE_INFINITY;
  }

  it('a disabled user’s session and tokens stop working within 10 s', async () => {
    const bob = sessions['bob'] as Session;
    const token = await createToken(base, bob, 'read', 'bob script');
    expect((await asSession(base, bob, 'GET', `/api/slides/${ps1}`)).status).toBe(200);
    expect((await as('admin', 'PATCH', `/api/admin/users/${users['bob']?.id}`, { disabled: true })).status).toBe(200);
    const viaSession = await until401or404(async () => (await asSession(base, bob, 'GET', `/api/slides/${ps1}`)).status, 401);
    const viaToken = await until401or404(async () => (await anonymous(`${base}/api/slides/${ps1}`, { headers: { Authorization: `Bearer ${token}` } })).status, 401);
    expect(viaSession).toBeLessThanOrEqual(10_000);
    expect(viaToken).toBeLessThanOrEqual(10_000);
    const again = await anonymous(`${base}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'bob', password: TEST_PASSWORD }) });
    expect(again.status).toBe(401);
  });

  it('a member removed from a project loses its slides within 10 s', async () => {
    expect((await as('vic', 'GET', `/api/slides/${ps1}`)).status).toBe(200);
    expect((await as('admin', 'DELETE', `/api/projects/${p1}/members/${users['vic']?.id}`)).status).toBe(200);
    expect(await until401or404(async () => (await as('vic', 'GET', `/dzi/${ps1}.dzi`)).status, 404)).toBeLessThanOrEqual(10_000);
  });
});

describe('sign-in attempts (SEC-13)', () => {
  it('answers an unknown name and a wrong password alike', async () => {
    const tryIt = async (username: string): Promise<[number, string]> => {
      const r = await anonymous(`${base}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password: 'not the password at all' }) });
      return [r.status, await r.text()];
    };
    expect(await tryIt('nobody-here')).toEqual(await tryIt('carol'));
    const [status, body] = await tryIt('carol');
    expect(status).toBe(401);
    expect(body).not.toMatch(/carol|unknown|no such/i);
  });

  it('locks an account after repeated failures, and says so without saying whether the password was right', async () => {
    const s = await startTestServer(join(dir, 'slides'));
    try {
      await createUser(s.url, s.session as Session, 'eve');
      const attempt = (password: string, username = 'eve'): Promise<Response> =>
        anonymous(`${s.url}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await attempt(`wrong password ${i}`)).status);
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses[5]).toBe(429);
      const right = await attempt(TEST_PASSWORD);
      expect([right.status, ((await right.json()) as { code: string }).code]).toEqual([429, 'TOO_MANY_ATTEMPTS']);
      // an unknown name locks the same way: no telling names apart
      for (let i = 0; i < 5; i++) await attempt(`wrong ${i}`, 'nobody');
      expect((await attempt('wrong again', 'nobody')).status).toBe(429);
      const failed = (await asSession(s.url, s.session as Session, 'GET', '/api/audit?action=auth.login')).body['records'] as Array<{ outcome: string }>;
      expect(failed.filter((r) => r.outcome === 'failed').length).toBeGreaterThanOrEqual(10);
    } finally {
      await s.stop();
    }
  });
});

describe('secure defaults (SEC-15)', () => {
  it('has no account before setup, and no default password', async () => {
    const s = await startTestServer(join(dir, 'slides'), {}, { signIn: false });
    try {
      expect(setupTokenIn(s.output())).not.toBeNull();
      for (const [username, password] of [['admin', 'admin'], ['admin', 'password'], ['root', 'root'], ['admin', TEST_PASSWORD]]) {
        const r = await anonymous(`${s.url}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
        expect(r.status).toBe(401);
      }
      const status = (await (await anonymous(`${s.url}/api/auth/status`)).json()) as { setupNeeded: boolean; signedIn: boolean };
      expect(status).toMatchObject({ setupNeeded: true, signedIn: false });
      expect((await anonymous(`${s.url}/api/slides`)).status).toBe(401);
      // a forged or reused setup token is refused
      const forged = await anonymous(`${s.url}/api/auth/setup`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: 'x'.repeat(43), username: 'mallory', password: TEST_PASSWORD }) });
      expect(forged.status).toBe(403);
      // through a proxy on this machine, setup is not "from loopback"
      const proxied = await anonymous(`${s.url}/api/auth/setup`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.9' },
        body: JSON.stringify({ token: setupTokenIn(s.output()), username: 'mallory', password: TEST_PASSWORD }),
      });
      expect(proxied.status).toBe(403);
    } finally {
      await s.stop();
    }
  });

  it('sends a script policy with no inline script on pages and one that allows nothing on data, no referrer and no sniffing on every answer', async () => {
    for (const path of ['/', '/signin.html', '/audit.html', '/report.html', '/favicon.svg', '/api/health', `/dzi/${ps1}.dzi`, `/dzi/${ps1}_files/0/0_0.jpeg`, '/api/nothing-here']) {
      const res = await anonymous(`${base}${path}`, { headers: sessionHeaders(base, sessions['alice'] as Session) });
      await res.arrayBuffer();
      const csp = res.headers.get('content-security-policy') ?? '';
      if (/^\/(api|dzi|iiif)\//.test(path)) expect(csp, path).toMatch(/^default-src 'none'; /);
      else expect(csp, path).toMatch(/script-src 'self'(;|$)/);
      expect(csp, path).toMatch(/frame-ancestors 'self'/);
      expect(csp, path).not.toMatch(/unsafe-eval|unsafe-inline'[^;]*script|script-src[^;]*unsafe-inline/);
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('refuses to listen on the network over plain HTTP, and takes setup from loopback only', async () => {
    await expect(startTestServer(join(dir, 'slides'), { HOST: '0.0.0.0' }, { signIn: false })).rejects.toThrow(/TRUST_PROXY/);
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!lan) {
      process.stdout.write('[access] SKIP setup from a LAN address: this machine has no non-loopback IPv4 address\n');
      return;
    }
    const s = await startTestServer(join(dir, 'slides'), { HOST: '0.0.0.0', TRUST_PROXY: '1', ALLOWED_HOSTS: '*' }, { signIn: false });
    try {
      const port = new URL(s.url).port;
      const body = JSON.stringify({ token: setupTokenIn(s.output()), username: 'mallory', password: TEST_PASSWORD });
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: lan, port, path: '/api/auth/setup', method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(403);
    } finally {
      await s.stop();
    }
  });
});

describe('no PHI and no credentials in records and logs (SEC-12)', () => {
  it('finds neither the slide file name nor any token or session id in the database, the audit log or the server’s output', async () => {
    // every route once more as admin, so that each may write what it writes
    for (const route of allRoutes().filter((r) => r.method === 'GET')) await as('admin', 'GET', pathFor(route, [ps1, p1, users['alice']?.id ?? '', '0', 'jpeg', 'x']));
    const embed = (await as('alice', 'POST', '/api/auth/embed-token', { scope: 'read' })).body['token'] as string;
    secrets.push(embed);
    await anonymous(`${base}/dzi/${ps1}.dzi`, { headers: { Authorization: `Bearer ${embed}` } }).then((r) => r.arrayBuffer());
    const audit = JSON.stringify((await as('admin', 'GET', '/api/audit?limit=10000')).body);
    expect(audit.length).toBeGreaterThan(1000);
    const data = server.dataDir;
    const files = (await readdir(data)).filter((f) => f.startsWith('wsi.db'));
    const blobs = [audit, server.output(), ...(await Promise.all(files.map((f) => readFile(join(data, f), 'latin1')))), ...(await Promise.all((await readdir(logDir)).map((f) => readFile(join(logDir, f), 'latin1'))))];
    expect(files.length).toBeGreaterThan(0);
    for (const blob of blobs) {
      expect(blob.includes(SENTINEL), 'the slide file name').toBe(false);
      for (const secret of secrets) expect(blob.includes(secret), 'a token, session id or CSRF token').toBe(false);
    }
  });
});
