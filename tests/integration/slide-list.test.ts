/**
 * The slide list's fields for search, sort, folders and badges (issue 11):
 * when each slide was added, its folder in the slide folder, and the work
 * on it — the annotation count and the labelled mask pixels — counted only
 * over what the caller may see. A blind project's annotator sees her own
 * work only, and no folder names (they can carry PHI, TEST-CATALOGUE
 * DEID-10); its manager sees everyone's.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, createUser, signIn, type Session, type TestUser } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { b64, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FOLDER = 'Smith_2024';

let dir: string;
let server: TestServer;
const sessions: Record<string, Session> = {};
const users: Record<string, TestUser> = {};

function as(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const s = who === 'admin' ? (server.session as Session) : (sessions[who] as Session);
  return asSession(server.url, s, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

interface Listed {
  id: string;
  name: string;
  addedAt?: string;
  folder?: string | null;
  objects?: number;
  labelledPx?: number;
}

async function listed(who: string, id: string): Promise<Listed | undefined> {
  const r = await as(who, 'GET', '/api/slides');
  expect(r.status).toBe(200);
  return (r.body['slides'] as Listed[]).find((s) => s.id === id);
}

let blindSlide = '';
let openSlide = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsi-slide-list-'));
  await mkdir(join(dir, 'slides', FOLDER), { recursive: true });
  await copyFile(join(FIXTURES, 'slides', 'generic-deflate-256.tif'), join(dir, 'slides', FOLDER, 'case-7.tif'));
  await copyFile(join(FIXTURES, 'slides', 'aperio-jpeg-240-x4.svs'), join(dir, 'slides', 'top.svs'));
  server = await startTestServer(dir);
  for (const name of ['alice', 'carol']) {
    users[name] = await createUser(server.url, server.session as Session, name);
    sessions[name] = await signIn(server.url, name);
  }
  const folderSlides = (await as('admin', 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  const inFolder = folderSlides.find((s) => s.name.includes('case-7'))?.id;
  const top = folderSlides.find((s) => s.name.includes('top'))?.id;
  const blind = ((await as('admin', 'POST', '/api/projects', { name: 'Blind reading', blind: true })).body['project'] as { id: string }).id;
  const open = ((await as('admin', 'POST', '/api/projects', { name: 'Open study' })).body['project'] as { id: string }).id;
  blindSlide = (await as('admin', 'POST', `/api/projects/${blind}/slides`, { slideId: inFolder, studyCode: 'BR-001' })).body['id'] as string;
  openSlide = (await as('admin', 'POST', `/api/projects/${open}/slides`, { slideId: inFolder })).body['id'] as string;
  expect((await as('admin', 'POST', `/api/projects/${open}/slides`, { slideId: top })).status).toBe(201);
  for (const p of [blind, open]) for (const who of ['alice', 'carol']) expect((await as('admin', 'PUT', `/api/projects/${p}/members/${users[who]?.id}`, { role: 'annotator' })).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the slide list (issue 11)', () => {
  it('says when each slide was added and in which folder, to those who see file names', async () => {
    const mine = await listed('alice', openSlide);
    expect(mine?.folder).toBe(`slides/${FOLDER}`);
    expect(Date.parse(mine?.addedAt ?? '')).toBeGreaterThan(Date.now() - 600_000);
    const blind = await listed('alice', blindSlide);
    expect(blind?.name).toBe('BR-001');
    expect(blind?.folder).toBeNull();
    expect(JSON.stringify((await as('alice', 'GET', '/api/slides')).body)).not.toContain('BR-001/');
    expect((await listed('admin', blindSlide))?.folder).toBe(`slides/${FOLDER}`);
  });

  it('counts the annotations and labelled pixels the caller may see: her own in a blind project, everyone’s for its manager', async () => {
    expect(await listed('alice', blindSlide)).toMatchObject({ objects: 0, labelledPx: 0 });
    for (const [x, who] of [[10, 'alice'], [60, 'alice'], [110, 'carol']] as const) expect((await as(who, 'POST', `/api/slides/${blindSlide}/annotations`, square(x, 10, 20))).status).toBe(201);
    // alice paints class 1 over the left 100 columns of tile (0, 0): 51,200 pixels
    const painted = tile((x) => (x < 100 ? 1 : 0));
    const w = await as('alice', 'POST', `/api/slides/${blindSlide}/masks/${users['alice']?.id}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(painted)) }] });
    expect(w.status, JSON.stringify(w.body)).toBe(200);
    expect(await listed('alice', blindSlide)).toMatchObject({ objects: 2, labelledPx: 100 * 512 });
    expect(await listed('carol', blindSlide)).toMatchObject({ objects: 1, labelledPx: 0 });
    expect(await listed('admin', blindSlide)).toMatchObject({ objects: 3, labelledPx: 100 * 512 });
    // the same slide in another project is another project slide: nothing of this work shows there
    expect(await listed('alice', openSlide)).toMatchObject({ objects: 0, labelledPx: 0 });
  });

  it('follows a change of the mask and a deletion at once (the remembered count is checked against the tiles)', async () => {
    const before = (await listed('admin', blindSlide))?.labelledPx ?? 0;
    const w = await as('alice', 'POST', `/api/slides/${blindSlide}/masks/${users['alice']?.id}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 1, data: b64(zlib(tile((x) => (x < 10 ? 1 : 0)))) }] });
    expect(w.status, JSON.stringify(w.body)).toBe(200);
    expect(before).toBe(100 * 512);
    expect((await listed('admin', blindSlide))?.labelledPx).toBe(10 * 512);
    const page = (await as('carol', 'GET', `/api/slides/${blindSlide}/annotations`)).body['annotations'] as Array<{ id: string }>;
    const del = await asSession(server.url, sessions['carol'] as Session, 'DELETE', `/api/slides/${blindSlide}/annotations/${page[0]?.id}`, undefined, { 'Idempotency-Key': randomUUID(), 'If-Match': '"1"' });
    expect(del.status).toBe(200);
    expect((await listed('admin', blindSlide))?.objects).toBe(2);
    // the deleted objects' list keeps the blind rule too (TEST-CATALOGUE AGR-06): carol's is not alice's to see
    const deleted = async (who: string): Promise<string[]> => ((await as(who, 'GET', `/api/slides/${blindSlide}/deleted-annotations`)).body['annotations'] as Array<{ id: string }>).map((a) => a.id);
    expect(await deleted('carol')).toEqual([page[0]?.id]);
    expect(await deleted('alice')).toEqual([]);
    expect(await deleted('admin')).toEqual([page[0]?.id]);
  });
});
