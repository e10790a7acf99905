/**
 * Each project's class palette against the running server: the Default
 * project keeps the palette there was; a new project starts with a copy and
 * changes it alone; a class name keeps its mask id on the whole server, so a
 * mask value means one class whatever palette shows it; a mask accepts only
 * its project's classes; managers and admins change a palette, nobody else
 * (SEC-05: annotators and viewers get 403, outsiders 404), every change and
 * refusal is audited; bad palettes (duplicate names or hotkeys, more than
 * 255 classes, bad colours) are clear 4xx and change nothing. And the slide
 * route tells the viewer the caller's role and what they may do.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, createUser, signIn, type Session, type TestUser } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { b64, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Cls {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
}

let server: TestServer;
let base = '';
let admin: Session;
const users: Record<string, TestUser> = {};
const sessions: Record<string, Session> = {};
let defaultProject = '';
let pa = '';
let pr = '';
let psA = '';
let psR = '';
let folderSlide = '';

function as(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const s = who === 'admin' ? admin : (sessions[who] as Session);
  return asSession(base, s, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

const palette = async (who: string, path: string): Promise<Cls[]> => (await as(who, 'GET', path)).body['classes'] as Cls[];

beforeAll(async () => {
  server = await startTestServer(`${FIXTURES}/slides`);
  base = server.url;
  admin = server.session as Session;
  for (const name of ['mia', 'ann', 'vera', 'otto']) {
    users[name] = await createUser(base, admin, name);
    sessions[name] = await signIn(base, name);
  }
  const folder = (await as('admin', 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  folderSlide = folder.find((s) => s.name === 'generic-deflate-256.tif')?.id ?? '';
  const projects = (await as('admin', 'GET', '/api/projects')).body['projects'] as Array<{ id: string; name: string }>;
  defaultProject = projects.find((p) => p.name === 'Default')?.id ?? '';
  pa = ((await as('admin', 'POST', '/api/projects', { name: 'Palette study' })).body['project'] as { id: string }).id;
  pr = ((await as('admin', 'POST', '/api/projects', { name: 'Frozen study', editingMode: 'read-only' })).body['project'] as { id: string }).id;
  psA = (await as('admin', 'POST', `/api/projects/${pa}/slides`, { slideId: folderSlide })).body['id'] as string;
  psR = (await as('admin', 'POST', `/api/projects/${pr}/slides`, { slideId: folderSlide })).body['id'] as string;
  for (const [project, who, role] of [
    [pa, 'mia', 'manager'],
    [pa, 'ann', 'annotator'],
    [pa, 'vera', 'viewer'],
    [pr, 'mia', 'manager'],
    [pr, 'ann', 'annotator'],
  ] as const) {
    expect((await as('admin', 'PUT', `/api/projects/${project}/members/${users[who]?.id}`, { role })).status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('per-project class palettes', () => {
  it("the Default project's palette is the one global palette there was; a new project starts with a copy", async () => {
    expect(defaultProject).not.toBe('');
    const global = await palette('admin', '/api/classes');
    expect(global.slice(0, 6).map((c) => c.name)).toEqual(['Tumour', 'Stroma', 'Necrosis', 'Lymphocytes', 'Normal', 'Other']);
    expect(await palette('admin', `/api/projects/${defaultProject}/classes`)).toEqual(global);
    expect(await palette('admin', `/api/slides/${folderSlide}/classes`)).toEqual(global);
    expect(await palette('mia', `/api/projects/${pa}/classes`)).toEqual(global);
    expect(await palette('ann', `/api/slides/${psA}/classes`)).toEqual(global);
  });

  it('a manager changes their project palette alone; names keep their mask ids server-wide', async () => {
    const before = await palette('admin', '/api/classes');
    const tumour = before.find((c) => c.name === 'Tumour') as Cls;
    const r = await as('mia', 'PUT', `/api/projects/${pa}/classes`, {
      classes: [
        { name: 'Mitosis', color: '#FF00FF', hotkey: 'm' },
        { name: 'Tumour', color: '#00ff00', hotkey: 't', id: tumour.id },
      ],
    });
    expect(r.status).toBe(200);
    const mine = r.body['classes'] as Cls[];
    expect(mine.map((c) => [c.name, c.color, c.hotkey])).toEqual([
      ['Mitosis', '#ff00ff', 'm'],
      ['Tumour', '#00ff00', 't'],
    ]);
    // the same name, the same id; a new name, an id no class ever had
    expect(mine[1]?.id).toBe(tumour.id);
    const mitosis = mine[0]?.id as number;
    expect(before.map((c) => c.id)).not.toContain(mitosis);
    expect(await palette('ann', `/api/slides/${psA}/classes`)).toEqual(mine);
    // the Default project's palette, colours included, did not move
    expect(await palette('admin', '/api/classes')).toEqual(before);
    // another project naming Mitosis gets the same id: a mask value means one class on the whole server
    const again = await as('mia', 'PUT', `/api/projects/${pr}/classes`, { classes: [{ name: 'Mitosis', color: '#123456', hotkey: null }] });
    expect(again.status).toBe(200);
    expect((again.body['classes'] as Cls[])[0]?.id).toBe(mitosis);
  });

  it("a mask takes only its project's classes, and names them from its palette", async () => {
    const mitosis = (await palette('ann', `/api/slides/${psA}/classes`)).find((c) => c.name === 'Mitosis') as Cls;
    const stroma = (await palette('admin', '/api/classes')).find((c) => c.name === 'Stroma') as Cls;
    const path = `/api/slides/${psA}/masks/${users['ann']?.id}/tiles`;
    const refused = await as('ann', 'POST', path, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x) => (x < 10 ? stroma.id : 0)))) }] });
    expect([refused.status, refused.body['code']]).toEqual([400, 'INVALID_MASK']);
    const ok = await as('ann', 'POST', path, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x) => (x < 10 ? mitosis.id : 0)))) }] });
    expect(ok.status).toBe(200);
    const summary = (await as('ann', 'GET', `/api/slides/${psA}/masks/${users['ann']?.id}/summary`)).body as { classes: Cls[]; pixels: Record<string, number> };
    expect(summary.pixels[String(mitosis.id)]).toBe(10 * 512);
    expect(summary.classes.find((c) => c.id === mitosis.id)?.name).toBe('Mitosis');
  });

  it("regions are painted into a mask only with classes of the slide's project palette", async () => {
    const mitosis = (await palette('ann', `/api/slides/${psA}/classes`)).find((c) => c.name === 'Mitosis') as Cls;
    const inPalette = square(600, 600, 100, { classification: 'Mitosis' });
    const elsewhere = square(800, 600, 100, { classification: 'Stroma' });
    for (const a of [inPalette, elsewhere]) expect((await as('ann', 'POST', `/api/slides/${psA}/annotations`, a)).status).toBe(201);
    const r = await as('ann', 'POST', `/api/slides/${psA}/masks/${users['ann']?.id}/rasterize`, {});
    expect(r.status).toBe(201);
    expect(r.body['painted']).toBe(1);
    expect(r.body['skipped']).toEqual([{ id: elsewhere['id'], reason: `class "Stroma" is not in this project's palette` }]);
    const summary = (await as('ann', 'GET', `/api/slides/${psA}/masks/${users['ann']?.id}/summary`)).body as { pixels: Record<string, number> };
    expect(Object.keys(summary.pixels)).toEqual([String(mitosis.id)]);
  });

  it.each([
    ['a duplicate name (ignoring case)', { classes: [{ name: 'Gland', color: '#111111' }, { name: 'gland ', color: '#222222' }] }, 'PALETTE_DUPLICATE_NAME'],
    ['a duplicate hotkey', { classes: [{ name: 'A1', color: '#111111', hotkey: 'a' }, { name: 'A2', color: '#222222', hotkey: 'A' }] }, 'PALETTE_DUPLICATE_HOTKEY'],
    ['a colour that is not #rrggbb', { classes: [{ name: 'Red', color: 'red' }] }, 'PALETTE_BAD_COLOR'],
    ['256 classes', { classes: Array.from({ length: 256 }, (_, i) => ({ name: `C${i}`, color: '#101010' })) }, 'PALETTE_TOO_LARGE'],
    ['no class', { classes: [] }, 'PALETTE_INVALID'],
    ['an empty name', { classes: [{ name: '  ', color: '#101010' }] }, 'PALETTE_INVALID'],
    ['a chosen mask id', { classes: [{ name: 'Brand new', color: '#101010', id: 7 }] }, 'PALETTE_INVALID'],
    ['no classes field', { colours: [] }, 'BAD_REQUEST'],
  ])('refuses %s with 400 and its code, changing nothing', async (_what, body, code) => {
    const before = await palette('mia', `/api/projects/${pa}/classes`);
    const r = await as('mia', 'PUT', `/api/projects/${pa}/classes`, body);
    expect([r.status, r.body['code']]).toEqual([400, code]);
    expect(typeof r.body['message']).toBe('string');
    expect(await palette('mia', `/api/projects/${pa}/classes`)).toEqual(before);
  });

  it('only managers and admins change a palette: annotators and viewers 403, outsiders 404, all audited as denied', async () => {
    const body = { classes: [{ name: 'Mine', color: '#101010' }] };
    const before = await palette('mia', `/api/projects/${pa}/classes`);
    expect([(await as('ann', 'PUT', `/api/projects/${pa}/classes`, body)).status, (await as('vera', 'PUT', `/api/projects/${pa}/classes`, body)).status]).toEqual([403, 403]);
    const outsider = await as('otto', 'PUT', `/api/projects/${pa}/classes`, body);
    expect([outsider.status, outsider.body['code']]).toEqual([404, 'NOT_FOUND']);
    expect((await as('otto', 'GET', `/api/projects/${pa}/classes`)).status).toBe(404);
    expect((await as('otto', 'GET', `/api/slides/${psA}/classes`)).status).toBe(404);
    // the old route is the Default project's palette, and stays the admins'
    expect((await as('mia', 'PUT', '/api/classes', body)).status).toBe(403);
    expect(await palette('mia', `/api/projects/${pa}/classes`)).toEqual(before);
    const denied = (await as('admin', 'GET', `/api/audit?user=${users['ann']?.id}&action=access.denied`)).body['records'] as Array<{ detail: { route: string } }>;
    expect(denied.some((r) => r.detail.route === 'PUT /api/projects/*/classes')).toBe(true);
  });

  it('a manager of a read-only project still sets its palette; the admin too; each change is one palette.change record', async () => {
    expect((await as('mia', 'PUT', `/api/projects/${pr}/classes`, { classes: [{ name: 'Frozen', color: '#0000ff', hotkey: 'f' }] })).status).toBe(200);
    expect((await as('ann', 'PUT', `/api/projects/${pr}/classes`, { classes: [{ name: 'Nope', color: '#0000ff' }] })).status).toBe(403);
    expect((await as('admin', 'PUT', `/api/projects/${pr}/classes`, { classes: [{ name: 'Frozen', color: '#0000aa', hotkey: 'f' }] })).status).toBe(200);
    const records = (await as('admin', 'GET', `/api/audit?project=${pr}&action=palette.change`)).body['records'] as Array<{ user: string; detail: { ids: string; count: number } }>;
    // the earlier test's change (Mitosis), then these two
    expect(records.map((r) => r.user)).toEqual([users['mia']?.id, users['mia']?.id, server.admin?.id]);
    const frozen = (await palette('ann', `/api/slides/${psR}/classes`))[0] as Cls;
    expect(records[2]?.detail).toEqual({ ids: String(frozen.id), count: 1 });
  });

  it("the slide route says the caller's role, the project's mode and what they may do", async () => {
    const access = async (who: string, ps: string): Promise<Record<string, unknown>> => (await as(who, 'GET', `/api/slides/${ps}`)).body['access'] as Record<string, unknown>;
    expect(await access('ann', psA)).toEqual({ projectName: 'Palette study', role: 'annotator', editingMode: 'classic', blind: false, credential: 'write', actions: ['annotate', 'edit-others', 'export', 'import', 'view'] });
    expect(await access('vera', psA)).toMatchObject({ role: 'viewer', actions: ['export', 'view'] });
    expect(await access('ann', psR)).toMatchObject({ role: 'annotator', editingMode: 'read-only', actions: ['export', 'view'] });
    expect((await access('mia', psR))['actions']).toContain('manage');
    // a read-scoped token of the same annotator: nothing that changes
    const token = await as('ann', 'POST', '/api/auth/tokens', { name: 'reader', scope: 'read', expiresInDays: 1 });
    expect(token.status).toBe(201);
    const res = await fetch(`${base}/api/slides/${psA}`, { headers: { Authorization: `Bearer ${token.body['token'] as string}` } });
    expect(((await res.json()) as { access: Record<string, unknown> }).access).toMatchObject({ role: 'annotator', credential: 'read', actions: ['export', 'view'] });
  });
});

describe('what uses each class (issue 11: class management)', () => {
  it('counts objects, painted pixels and slides per class for managers; keeps counting a class the palette dropped; audited as a read', async () => {
    const pu = ((await as('admin', 'POST', '/api/projects', { name: 'Usage study' })).body['project'] as { id: string }).id;
    const ps = (await as('admin', 'POST', `/api/projects/${pu}/slides`, { slideId: folderSlide })).body['id'] as string;
    for (const [who, role] of [['mia', 'manager'], ['ann', 'annotator']] as const) expect((await as('admin', 'PUT', `/api/projects/${pu}/members/${users[who]?.id}`, { role })).status).toBe(200);
    const fresh = await as('mia', 'GET', `/api/projects/${pu}/classes/usage`);
    expect(fresh.status).toBe(200);
    expect(fresh.body['slides']).toBe(1);
    expect((fresh.body['classes'] as Array<{ objects: number; labelledPx: number }>).every((c) => c.objects === 0 && c.labelledPx === 0)).toBe(true);
    for (const x of [10, 50]) expect((await as('ann', 'POST', `/api/slides/${ps}/annotations`, square(x, 10, 20, { classification: 'Tumour' }))).status).toBe(201);
    expect((await as('ann', 'POST', `/api/slides/${ps}/annotations`, square(90, 10, 20, { classification: null }))).status).toBe(201);
    const stroma = (await palette('mia', `/api/projects/${pu}/classes`)).find((c) => c.name === 'Stroma') as Cls;
    const w = await as('ann', 'POST', `/api/slides/${ps}/masks/${users['ann']?.id}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x, y) => (x < 30 && y < 40 ? stroma.id : 0)))) }] });
    expect(w.status, JSON.stringify(w.body)).toBe(200);
    type Use = { name: string; id: number | null; inPalette: boolean; objects: number; labelledPx: number; slides: number };
    const usage = async (): Promise<{ classes: Use[]; unclassified: number }> => (await as('mia', 'GET', `/api/projects/${pu}/classes/usage`)).body as unknown as { classes: Use[]; unclassified: number };
    const u1 = await usage();
    expect(u1.classes.find((c) => c.name === 'Tumour')).toMatchObject({ inPalette: true, objects: 2, labelledPx: 0, slides: 1 });
    expect(u1.classes.find((c) => c.name === 'Stroma')).toMatchObject({ id: stroma.id, inPalette: true, objects: 0, labelledPx: 30 * 40, slides: 1 });
    expect(u1.classes.find((c) => c.name === 'Necrosis')).toMatchObject({ objects: 0, labelledPx: 0, slides: 0 });
    expect(u1.unclassified).toBe(1);
    // the manager drops Tumour and Stroma: their uses stay counted, outside the palette
    const kept = (await palette('mia', `/api/projects/${pu}/classes`)).filter((c) => c.name !== 'Tumour' && c.name !== 'Stroma');
    expect((await as('mia', 'PUT', `/api/projects/${pu}/classes`, { classes: kept })).status).toBe(200);
    const u2 = await usage();
    expect(u2.classes.find((c) => c.name === 'Tumour')).toMatchObject({ inPalette: false, objects: 2, slides: 1 });
    expect(u2.classes.find((c) => c.name === 'Stroma')).toMatchObject({ inPalette: false, labelledPx: 30 * 40 });
    expect(u2.classes.filter((c) => c.inPalette).map((c) => c.name)).toEqual(kept.map((c) => c.name));
    // annotators 403, outsiders 404, never 500
    expect((await as('ann', 'GET', `/api/projects/${pu}/classes/usage`)).status).toBe(403);
    expect((await as('otto', 'GET', `/api/projects/${pu}/classes/usage`)).status).toBe(404);
    expect((await as('mia', 'GET', `/api/projects/nope/classes/usage`)).status).toBe(404);
    const reads = (await as('admin', 'GET', `/api/audit?user=${users['mia']?.id}&action=read`)).body['records'] as Array<{ detail: { route?: string } }>;
    expect(reads.filter((r) => JSON.stringify(r).includes('/classes/usage')).length).toBeGreaterThanOrEqual(3);
  });
});
