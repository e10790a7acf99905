/**
 * The site and stain a manager sets per project slide (issue 15: the
 * report's dataset composition groups slides by them), against the built
 * server: members read them, managers set them (versioned, 412 on a stale
 * version, 428 without one); bad bodies — too long, control characters,
 * wrong types, unknown fields — are 4xx with their codes and change
 * nothing; unknown slides and other projects' slides are 404 (SEC-17),
 * non-managers 403 (SEC-01). The report groups slides by site and stain
 * with the query they came from, and its hash changes when a field
 * changes. The values stay out of the audit records and the server's log
 * (the record names the fields, not their text; DEID-10's rule).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, asSession, createUser, sessionHeaders, signIn, type Session } from '../helpers/accounts.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, unknown>;
const FILES = ['aperio-jpeg-256-x2.svs'];
const SITE = 'Site-SENTINEL-Kx7q Hospital';
const STAIN = 'H&E stain-SENTINEL-p9Zt';

let srv: TestServer;
let base = '';
let admin: Session;
let mona: Session;
let annie: Session;
let otto: Session;
let project = '';
let other = '';
let slide = '';
let otherSlide = '';
const ids: Record<string, string> = {};

function as(who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return asSession(base, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

async function report(): Promise<{ hash: string; body: Json }> {
  const r = await as(mona, 'GET', `/api/projects/${project}/report`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { hash: (r.body['hash'] as Json)['value'] as string, body: r.body['body'] as Json };
}

beforeAll(async () => {
  srv = await startTestServer(`${FIXTURES}/slides`);
  base = srv.url;
  admin = srv.session as Session;
  project = ((await as(admin, 'POST', '/api/projects', { name: 'Descriptor study' })).body['project'] as { id: string }).id;
  other = ((await as(admin, 'POST', '/api/projects', { name: 'Another study' })).body['project'] as { id: string }).id;
  const folder = ((await as(admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>).find((s) => s.name === FILES[0])?.id;
  const added = await as(admin, 'POST', `/api/projects/${project}/slides`, { slideId: folder, studyCode: 'DS-001' });
  expect(added.status).toBe(201);
  slide = added.body['id'] as string;
  const added2 = await as(admin, 'POST', `/api/projects/${other}/slides`, { slideId: folder, studyCode: 'AS-001' });
  expect(added2.status).toBe(201);
  otherSlide = added2.body['id'] as string;
  for (const [name, role] of [['mona', 'manager'], ['annie', 'annotator']] as const) {
    ids[name] = (await createUser(base, admin, name)).id;
    expect((await as(admin, 'PUT', `/api/projects/${project}/members/${ids[name]}`, { role })).status).toBe(200);
  }
  ids['otto'] = (await createUser(base, admin, 'otto')).id;
  [mona, annie, otto] = (await Promise.all(['mona', 'annie', 'otto'].map((n) => signIn(base, n)))) as [Session, Session, Session];
}, 180_000);

afterAll(async () => {
  await srv?.stop();
});

describe('slide descriptors (site and stain)', () => {
  let before = '';

  it('reads as unset (version 0) and the report says why it has no site/stain groups', async () => {
    const r = await as(annie, 'GET', `/api/slides/${slide}/descriptors`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ version: 0, site: null, stain: null, setBy: null, setAt: null });
    const rep = await report();
    before = rep.hash;
    const sas = (rep.body['dataset'] as Json)['siteAndStain'] as Json;
    expect(sas['status']).toBe('absent');
    expect((sas['source'] as Json)['query']).toBe('slideDescriptors');
  });

  it('is set by a manager, versioned, and grouped in the report with its source; the hash changes with it', async () => {
    const r = await as(mona, 'PUT', `/api/slides/${slide}/descriptors`, { version: 0, site: `  ${SITE} `, stain: STAIN });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ version: 1, site: SITE, stain: STAIN, setBy: ids['mona'] });
    expect((await as(annie, 'GET', `/api/slides/${slide}/descriptors`)).body).toMatchObject({ version: 1, site: SITE, stain: STAIN });
    const rep = await report();
    expect(rep.hash).not.toBe(before);
    const ds = rep.body['dataset'] as Json;
    expect((ds['slides'] as Json[])[0]).toMatchObject({ studyCode: 'DS-001', site: SITE, stain: STAIN, descriptorsVersion: 1 });
    const sas = ds['siteAndStain'] as Json;
    expect(sas).toMatchObject({ status: 'ok', bySite: [{ site: SITE, count: 1 }], byStain: [{ stain: STAIN, count: 1 }], bySiteAndStain: [{ site: SITE, stain: STAIN, count: 1 }], slidesWithout: 0 });
    expect((sas['source'] as Json)['query']).toBe('slideDescriptors');
    expect(String((sas['source'] as Json)['sql'])).toContain('FROM slide_descriptors');
    // same records, same hash
    expect((await report()).hash).toBe(rep.hash);
    // a field left out keeps its value; a change of one field changes the hash again
    const r2 = await as(mona, 'PUT', `/api/slides/${slide}/descriptors`, { version: 1, stain: 'PAS' });
    expect(r2.body).toMatchObject({ version: 2, site: SITE, stain: 'PAS' });
    const rep2 = await report();
    expect(rep2.hash).not.toBe(rep.hash);
    expect(((rep2.body['dataset'] as Json)['siteAndStain'] as Json)['byStain']).toEqual([{ stain: 'PAS', count: 1 }]);
    // the HTML page shows the groups
    const page = await anonymous(`${base}/api/projects/${project}/report?format=html`, { headers: sessionHeaders(base, mona, {}) });
    const html = await page.text();
    expect(html).toContain('Slides by stain');
    expect(html).toContain('PAS');
    // null clears a field back to "(not set)"
    const r3 = await as(mona, 'PUT', `/api/slides/${slide}/descriptors`, { version: 2, stain: null });
    expect(r3.body).toMatchObject({ version: 3, site: SITE, stain: null });
    const rep3 = await report();
    expect(((rep3.body['dataset'] as Json)['siteAndStain'] as Json)['byStain']).toEqual([{ stain: '(not set)', count: 1 }]);
  });

  it('refuses bad bodies with their codes and changes nothing', async () => {
    const current = (await as(mona, 'GET', `/api/slides/${slide}/descriptors`)).body;
    const v = current['version'] as number;
    const cases: Array<[unknown, number, string]> = [
      [{ version: v, site: 'x'.repeat(121) }, 400, 'BAD_REQUEST'],
      [{ version: v, site: 'Site\u0000A' }, 400, 'BAD_REQUEST'],
      [{ version: v, stain: 'H&E\nPAS' }, 400, 'BAD_REQUEST'],
      [{ version: v, stain: 'H&E\u202e' }, 400, 'BAD_REQUEST'],
      [{ version: v, site: 42 }, 400, 'BAD_REQUEST'],
      [{ version: v, site: 'A', patient: 'Doe' }, 400, 'BAD_REQUEST'],
      [{ version: v }, 400, 'BAD_REQUEST'],
      [[{ version: v }], 400, 'BAD_REQUEST'],
      [{ site: 'A' }, 428, 'PRECONDITION_REQUIRED'],
      [{ version: v - 1, site: 'A' }, 412, 'PRECONDITION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const r = await as(mona, 'PUT', `/api/slides/${slide}/descriptors`, body);
      expect([r.status, r.body['code']], JSON.stringify(body)).toEqual([status, code]);
      // the refusal never echoes the value
      expect(JSON.stringify(r.body)).not.toContain('Doe');
    }
    expect((await as(mona, 'GET', `/api/slides/${slide}/descriptors`)).body).toEqual(current);
  });

  it('lets managers alone set them: annotators 403, outsiders, unknown slides and other projects’ slides 404 (SEC-01, SEC-17)', async () => {
    const r = await as(annie, 'PUT', `/api/slides/${slide}/descriptors`, { version: 3, site: 'A' });
    expect([r.status, r.body['code']]).toEqual([403, 'FORBIDDEN']);
    const out = await as(otto, 'GET', `/api/slides/${slide}/descriptors`);
    expect(out.status).toBe(404);
    expect((await as(otto, 'PUT', `/api/slides/${slide}/descriptors`, { version: 3, site: 'A' })).status).toBe(404);
    expect((await as(mona, 'GET', '/api/slides/nosuchslide0000/descriptors')).status).toBe(404);
    expect((await as(mona, 'PUT', '/api/slides/nosuchslide0000/descriptors', { version: 0, site: 'A' })).status).toBe(404);
    // mona manages one project, not the other: its slide is not hers to read or set
    expect((await as(mona, 'PUT', `/api/slides/${otherSlide}/descriptors`, { version: 0, site: 'A' })).status).toBe(404);
    // descriptors are per project slide: the other project's copy of the file has none
    expect((await as(admin, 'GET', `/api/slides/${otherSlide}/descriptors`)).body).toMatchObject({ version: 0, site: null });
    expect((await as(mona, 'GET', `/api/slides/${slide}/descriptors`)).body['version']).toBe(3);
  });

  it('audits each change by field name and version, never the text; the server log never holds it', async () => {
    const records = (await as(admin, 'GET', `/api/audit?user=${ids['mona']}&limit=1000`)).body['records'] as Array<{ action: string; object: string | null; detail: Json }>;
    const mine = records.filter((x) => x.action === 'slide.descriptors');
    expect(mine.map((x) => [x.detail['version'], x.detail['changed']]).sort()).toEqual([
      [1, 'site,stain'],
      [2, 'stain'],
      [3, 'stain'],
    ]);
    expect(mine.every((x) => x.object === slide)).toBe(true);
    expect(records.some((x) => x.action === 'change' && x.detail['route'] === 'PUT /api/slides/*/descriptors')).toBe(true);
    const all = JSON.stringify(records);
    expect(all).not.toContain('SENTINEL');
    expect(srv.output()).not.toContain('SENTINEL');
  });
});
