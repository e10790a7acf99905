/**
 * The regulatory report (issue 15), GET /api/projects/{id}/report, against
 * the built server: built twice from the same records it has the same
 * SHA-256 (header and field, equal to a hash of the body's canonical JSON
 * computed here); a change in the records (a review decision, a
 * qualification, a new object) changes it; every figure names the query it
 * came from; sections without records say so. Slides appear by study code
 * only, never by file name (DEID-10). Managers and auditors read it,
 * annotators get 403, outsiders and unknown projects 404 (SEC-01, SEC-17),
 * a bad format 400; each read is audited with its hash. The protocol and
 * qualifications it reports are versioned, managers-only and audited, and
 * every bad body is a 4xx with its code. Once a model run is triaged and
 * two readers painted an ROI of a reading, the AI corrections and
 * inter-observer sections carry their figures, equal to what was scripted.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { anonymous, asSession, createUser, sessionHeaders, signIn, type Session } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { b64, T, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, unknown>;
const FILE = 'aperio-jpeg-256-x2.svs';

let srv: TestServer;
let base = '';
let admin: Session;
let mona: Session;
let annie: Session;
let rita: Session;
let audrey: Session;
let otto: Session;
let project = '';
let slide = '';
const ids: Record<string, string> = {};

function as(who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return asSession(base, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

/** The report as JSON, with its hash header. */
async function report(who: Session, query = ''): Promise<{ status: number; body: Json; header: string | null; text: string; type: string | null }> {
  const res = await anonymous(`${base}/api/projects/${project}/report${query}`, { headers: sessionHeaders(base, who, {}) });
  const text = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    // the page
  }
  return { status: res.status, body, header: res.headers.get('x-report-sha256'), text, type: res.headers.get('content-type') };
}

function sha256(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
}

/** Every object in the body that has a `source`, with its path: the figures. */
function figures(v: unknown, path = '$', out: Array<{ path: string; source: unknown }> = []): Array<{ path: string; source: unknown }> {
  if (Array.isArray(v)) v.forEach((x, i) => figures(x, `${path}[${i}]`, out));
  else if (v && typeof v === 'object') {
    const o = v as Json;
    if ('source' in o) out.push({ path, source: o['source'] });
    for (const [k, x] of Object.entries(o)) if (k !== 'source') figures(x, `${path}.${k}`, out);
  }
  return out;
}

beforeAll(async () => {
  srv = await startTestServer(`${FIXTURES}/slides`);
  base = srv.url;
  admin = srv.session as Session;
  project = ((await as(admin, 'POST', '/api/projects', { name: 'Report study' })).body['project'] as { id: string }).id;
  const folder = ((await as(admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>).find((s) => s.name === FILE)?.id;
  const added = await as(admin, 'POST', `/api/projects/${project}/slides`, { slideId: folder, studyCode: 'RS-001' });
  expect(added.status).toBe(201);
  slide = added.body['id'] as string;
  for (const [name, role] of [['mona', 'manager'], ['annie', 'annotator'], ['rita', 'reviewer']] as const) {
    ids[name] = (await createUser(base, admin, name)).id;
    expect((await as(admin, 'PUT', `/api/projects/${project}/members/${ids[name]}`, { role })).status).toBe(200);
  }
  ids['audrey'] = (await createUser(base, admin, 'audrey', 'auditor')).id;
  ids['otto'] = (await createUser(base, admin, 'otto')).id;
  const sessions = await Promise.all(['mona', 'annie', 'rita', 'audrey', 'otto'].map((n) => signIn(base, n)));
  [mona, annie, rita, audrey, otto] = sessions as [Session, Session, Session, Session, Session];
  expect((await as(mona, 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'out-of-focus', label: 'Out of focus' })).status).toBe(201);
  // annie draws three objects and submits them; rita accepts one and rejects one
  const items: string[] = [];
  for (const x of [600, 900, 1200]) {
    const a = square(x, 600, 120, { classification: 'Tumour' });
    expect((await as(annie, 'POST', `/api/slides/${slide}/annotations`, a)).status).toBe(201);
    const r = await as(annie, 'POST', `/api/slides/${slide}/reviews`, { object: a['id'], version: 0 });
    expect(r.status).toBe(201);
    items.push(r.body['id'] as string);
  }
  expect((await as(rita, 'POST', `/api/slides/${slide}/reviews/${items[0]}/transition`, { action: 'accept', version: 1 })).status).toBe(200);
  expect((await as(rita, 'POST', `/api/slides/${slide}/reviews/${items[1]}/transition`, { action: 'reject', version: 1, reason: 'out-of-focus' })).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await srv?.stop();
});

describe('the project report', () => {
  let first: Json = {};
  let firstHash = '';

  it('is the same, with the same hash, when built twice from the same records', async () => {
    const a = await report(mona);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const b = await report(mona);
    expect(b.status).toBe(200);
    const hashA = (a.body['hash'] as Json)['value'] as string;
    expect(hashA).toMatch(/^[0-9a-f]{64}$/);
    expect(a.header).toBe(hashA);
    // the hash is that of the body's canonical JSON, reproducible by anyone holding the body
    expect(sha256(a.body['body'])).toBe(hashA);
    expect((b.body['hash'] as Json)['value']).toBe(hashA);
    expect(canonicalJson(b.body['body'])).toBe(canonicalJson(a.body['body']));
    // what moves between builds stays outside the hashed body
    const att = a.body['attestation'] as Json;
    expect(att['generatedBy']).toBe(ids['mona']);
    expect((att['auditChain'] as Json)['ok']).toBe(true);
    expect((att['auditChain'] as Json)['headHash']).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(a.body['body'])).not.toContain('generatedAt');
    first = a.body['body'] as Json;
    firstHash = hashA;
  });

  it('holds each section, every figure naming its query, and never a file name (DEID-10)', () => {
    const b = first;
    expect(b['project']).toMatchObject({ id: project, name: 'Report study' });
    const classes = ((b['protocol'] as Json)['classes'] as Json)['rows'] as Json[];
    expect(classes.map((c) => c['name'])).toContain('Tumour');
    expect(((b['protocol'] as Json)['definitions'] as Json)['status']).toBe('absent');
    const members = (b['annotators'] as Json)['rows'] as Json[];
    expect(members.map((m) => [m['username'], m['role']]).sort()).toEqual([['annie', 'annotator'], ['mona', 'manager'], ['rita', 'reviewer']]);
    const slides = (b['dataset'] as Json)['slides'] as Json[];
    expect(slides).toHaveLength(1);
    expect(slides[0]).toMatchObject({ studyCode: 'RS-001', status: 'ok', width: expect.any(Number), height: expect.any(Number) });
    expect(b['deidentification']).toMatchObject({ status: 'absent' });
    expect(b['aiCorrections']).toMatchObject({ status: 'absent' });
    expect(b['interObserver']).toMatchObject({ status: 'absent' });
    const reviews = b['reviewOutcomes'] as Json;
    const states = Object.fromEntries(((reviews['states'] as Json)['rows'] as Json[]).map((r) => [r['state'], r['items']]));
    expect(states).toEqual({ accepted: 1, rejected: 1, submitted: 1 });
    expect((reviews['perSlide'] as Json)['rows']).toEqual([{ studyCode: 'RS-001', counts: { accepted: 1, rejected: 1, submitted: 1 } }]);
    expect((reviews['rejectionReasons'] as Json)['rows']).toEqual([{ reason: 'out-of-focus', label: 'Out of focus', events: 1 }]);
    expect((reviews['decisions'] as Json)['firstStageAcceptanceRate']).toBe(0.5);
    expect((b['annotationVolume'] as Json)['rows']).toEqual([{ class: 'Tumour', annotator: ids['annie'], origin: 'manual', objects: 3 }]);
    // every section and figure names where it came from: a query with its SQL, or a named computation
    const found = figures(b);
    for (const path of ['$.project', '$.protocol.classes', '$.annotators', '$.dataset', '$.deidentification', '$.annotationVolume', '$.reviewOutcomes.states', '$.reviewOutcomes.decisions', '$.aiCorrections', '$.interObserver']) {
      expect(found.map((f) => f.path), path).toContain(path);
    }
    for (const f of found) {
      for (const s of Array.isArray(f.source) ? f.source : [f.source]) {
        expect(typeof (s as Json)['query'], f.path).toBe('string');
        expect(Boolean((s as Json)['sql']) || Boolean((s as Json)['computation']), f.path).toBe(true);
        expect((s as Json)['params'], f.path).toBeTypeOf('object');
      }
    }
    expect(JSON.stringify(b)).not.toContain(FILE);
  });

  it('has another hash once a record changes, and the same again for the same records', async () => {
    const rid = ((await as(annie, 'GET', `/api/slides/${slide}/reviews`)).body['items'] as Json[]).find((i) => i['state'] === 'submitted') as Json;
    expect((await as(rita, 'POST', `/api/slides/${slide}/reviews/${rid['id'] as string}/transition`, { action: 'accept', version: rid['version'] })).status).toBe(200);
    const afterDecision = await report(mona);
    const h1 = (afterDecision.body['hash'] as Json)['value'];
    expect(h1).not.toBe(firstHash);
    // a qualification is a record too
    const q = await as(mona, 'PUT', `/api/projects/${project}/members/${ids['annie']}/qualification`, { text: 'Board-certified pathologist, GI subspecialty', date: '2024-03-01' });
    expect(q.status, JSON.stringify(q.body)).toBe(200);
    const afterQualification = await report(mona);
    const h2 = (afterQualification.body['hash'] as Json)['value'];
    expect(h2).not.toBe(h1);
    const annieRow = (((afterQualification.body['body'] as Json)['annotators'] as Json)['rows'] as Json[]).find((m) => m['username'] === 'annie');
    expect(annieRow?.['qualification']).toMatchObject({ version: 1, text: 'Board-certified pathologist, GI subspecialty', date: '2024-03-01', setBy: ids['mona'] });
    // so is a new object
    expect((await as(annie, 'POST', `/api/slides/${slide}/annotations`, square(2000, 600, 100, { classification: 'Stroma' }))).status).toBe(201);
    const afterObject = await report(mona);
    expect((afterObject.body['hash'] as Json)['value']).not.toBe(h2);
    // reading it again changes nothing but the attestation
    const again = await report(audrey);
    expect(again.status).toBe(200);
    expect((again.body['hash'] as Json)['value']).toBe((afterObject.body['hash'] as Json)['value']);
  });

  it('reports the protocol managers keep, versioned; refuses bad protocols with their codes', async () => {
    const protocol = {
      classes: [{ name: 'Tumour', definition: 'Invasive carcinoma cells and their stroma', referenceStandard: 'WHO 2019, 5th ed.' }],
      magnifications: [{ task: 'tumour outline', magnification: 10 }],
      acceptanceCriteria: 'Outline within 50 µm of the tumour border',
      rules: 'Exclude necrosis larger than 1 mm²',
      version: 0,
    };
    const set = await as(mona, 'PUT', `/api/projects/${project}/protocol`, protocol);
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body['version']).toBe(1);
    // stale, missing version, bad fields, not a manager
    expect((await as(mona, 'PUT', `/api/projects/${project}/protocol`, protocol)).status).toBe(412);
    expect((await as(mona, 'PUT', `/api/projects/${project}/protocol`, { ...protocol, version: undefined })).status).toBe(428);
    for (const bad of [
      { ...protocol, version: 1, classes: [{ name: 'Tumour' }] },
      { ...protocol, version: 1, classes: [protocol.classes[0], protocol.classes[0]] },
      { ...protocol, version: 1, magnifications: [{ task: 'x', magnification: -1 }] },
      { ...protocol, version: 1, colour: 'red' },
      [1, 2],
    ]) {
      const r = await as(mona, 'PUT', `/api/projects/${project}/protocol`, bad);
      expect([r.status, r.body['code']], JSON.stringify(bad)).toEqual([Array.isArray(bad) ? 428 : 400, Array.isArray(bad) ? 'PRECONDITION_REQUIRED' : 'BAD_REQUEST']);
    }
    expect((await as(annie, 'PUT', `/api/projects/${project}/protocol`, { ...protocol, version: 1 })).status).toBe(403);
    // members read it
    expect((await as(annie, 'GET', `/api/projects/${project}/protocol`)).body['version']).toBe(1);
    const r = await report(mona);
    const p = (r.body['body'] as Json)['protocol'] as Json;
    expect(p['definitions']).toMatchObject({ status: 'ok', version: 1, acceptanceCriteria: protocol.acceptanceCriteria, magnifications: protocol.magnifications });
    expect(((p['classes'] as Json)['rows'] as Json[]).find((c) => c['name'] === 'Tumour')).toMatchObject({ definition: protocol.classes[0]?.definition, referenceStandard: 'WHO 2019, 5th ed.' });
  });

  it('refuses bad qualifications, and keeps them to managers', async () => {
    const path = `/api/projects/${project}/members/${ids['annie']}/qualification`;
    for (const bad of [{ text: 'x', date: '2024-02-30' }, { text: '', date: '2024-01-01' }, { date: '2024-01-01' }, { text: 'x', date: 'yesterday' }]) {
      const r = await as(mona, 'PUT', path, bad);
      expect([r.status, r.body['code']], JSON.stringify(bad)).toEqual([400, 'BAD_REQUEST']);
    }
    expect((await as(mona, 'PUT', `/api/projects/${project}/members/${ids['otto']}/qualification`, { text: 'x', date: '2024-01-01' })).status).toBe(404);
    expect((await as(annie, 'PUT', path, { text: 'self-attested', date: '2024-01-01' })).status).toBe(403);
    expect((await as(annie, 'GET', `/api/projects/${project}/qualifications`)).status).toBe(403);
    const list = (await as(mona, 'GET', `/api/projects/${project}/qualifications`)).body['members'] as Json[];
    expect(list.find((m) => m['userId'] === ids['annie'])?.['qualification']).toMatchObject({ version: 1, date: '2024-03-01' });
  });

  it('lets managers and auditors read it; refuses annotators (403), outsiders and unknown projects (404), bad formats (400)', async () => {
    expect((await report(audrey)).status).toBe(200);
    expect((await report(admin)).status).toBe(200);
    const annotator = await report(annie);
    expect([annotator.status, annotator.body['code']]).toEqual([403, 'FORBIDDEN']);
    expect((await report(rita)).status).toBe(403);
    const outsider = await report(otto);
    expect([outsider.status, outsider.body['code']]).toEqual([404, 'NOT_FOUND']);
    const unknown = await as(mona, 'GET', '/api/projects/no-such-project/report');
    expect(unknown.status).toBe(404);
    for (const f of ['xml', 'pdf', '']) {
      const r = await report(mona, `?format=${f}`);
      expect([r.status, r.body['code']], f).toEqual([400, 'BAD_REQUEST']);
    }
    // the Default project holds every slide of the folder, damaged ones included: each listed by study code with its state
    const def = ((await as(admin, 'GET', '/api/projects')).body['projects'] as Array<{ id: string; allSlides: boolean }>).find((x) => x.allSlides)?.id as string;
    const folder = (await as(admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ name: string }>;
    const all = await as(admin, 'GET', `/api/projects/${def}/report`);
    expect(all.status).toBe(200);
    const ds = (all.body['body'] as Json)['dataset'] as Json;
    expect((ds['source'] as Json)['query']).toBe('folderSlides');
    expect(ds['count']).toBe(folder.length);
    const rows = ds['slides'] as Json[];
    expect(rows.some((x) => x['status'] === 'ok')).toBe(true);
    for (const x of rows) expect(x['status'] === 'ok' || (x['status'] === 'error' && typeof x['code'] === 'string'), JSON.stringify(x)).toBe(true);
    const text = JSON.stringify(all.body);
    for (const f of folder) expect(text).not.toContain(f.name);
    // an auditor reaches the report only: not the project's slides or settings
    expect((await as(audrey, 'GET', `/api/projects/${project}/protocol`)).status).toBe(404);
    expect((await as(audrey, 'GET', `/api/slides/${slide}`)).status).toBe(404);
  });

  it('prints as a page with the same hash, its figures and their queries, and no file name', async () => {
    const json = await report(mona);
    const page = await report(mona, '?format=html');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    const hash = (json.body['hash'] as Json)['value'] as string;
    expect(page.header).toBe(hash);
    expect(page.text).toContain(`<code data-report-hash>${hash}</code>`);
    expect(page.text).toContain('RS-001');
    expect(page.text).toContain('data-figure="Review items by state"');
    expect(page.text).toContain('Source: <b>reviewStates</b>');
    expect(page.text).toContain('Not available:');
    expect(page.text).not.toContain(FILE);
    expect(page.text).not.toMatch(/<script/i);
  });

  it('reports AI correction rates and inter-observer agreement once they exist, equal to the script', async () => {
    // a model run with two predictions: the annotator rejects one and accepts the other
    const run = await as(annie, 'POST', `/api/slides/${slide}/model-runs`, { model: { name: 'cellnet', version: '2.1.0' } });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const runId = run.body['id'] as string;
    const preds = [randomUUID(), randomUUID()];
    const file = {
      type: 'FeatureCollection',
      features: preds.map((id, i) => ({ type: 'Feature', id, geometry: { type: 'Polygon', coordinates: [[[3000 + i * 200, 3000], [3100 + i * 200, 3000], [3100 + i * 200, 3100], [3000 + i * 200, 3100], [3000 + i * 200, 3000]]] }, properties: { objectType: 'detection', classification: { name: 'Tumour' }, measurements: { probability: 0.9 } } })),
    };
    const up = await anonymous(`${base}/api/slides/${slide}/model-runs/${runId}/predictions?format=qupath-geojson`, {
      method: 'POST',
      headers: sessionHeaders(base, annie, { 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() }),
      body: JSON.stringify(file),
    });
    expect(up.status, await up.text()).toBe(201);
    const triage = await as(annie, 'POST', `/api/slides/${slide}/model-runs/${runId}/review`, { ops: [{ prediction: preds[0], action: 'reject' }, { prediction: preds[1], action: 'accept' }] });
    expect(triage.status, JSON.stringify(triage.body)).toBe(200);

    // two readers paint the same tile: annie all of it Tumour, rita its left half; a reading of an ROI over it
    const tumour = ((await as(mona, 'GET', `/api/projects/${project}/classes`)).body['classes'] as Array<{ id: number; name: string }>).find((c) => c.name === 'Tumour')?.id as number;
    for (const [who, session, fill] of [['annie', annie, () => tumour], ['rita', rita, (x: number) => (x < T / 2 ? tumour : 0)]] as const) {
      const r = await as(session, 'POST', `/api/slides/${slide}/masks/${ids[who]}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile(fill))) }] });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const roi = { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates: [[[0, 0], [T, 0], [T, T], [0, T], [0, 0]]] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation' };
    expect((await as(mona, 'POST', `/api/slides/${slide}/annotations`, roi)).status).toBe(201);
    const reading = await as(mona, 'POST', `/api/projects/${project}/readings`, { name: 'Tumour extent', slides: [{ slide, roi: roi.id }], readers: [ids['annie'], ids['rita']] });
    expect(reading.status, JSON.stringify(reading.body)).toBe(201);

    const r = await report(mona);
    const b = r.body['body'] as Json;
    const ai = b['aiCorrections'] as Json;
    expect(ai['status']).toBe('ok');
    const runRow = (ai['runs'] as Json[])[0] as Json;
    expect(runRow).toMatchObject({ run: runId, studyCode: 'RS-001', predictions: 2, corrected: 1, correctionRate: 0.5, errorRate: 0.5 });
    expect(runRow['counts']).toEqual({ untouched: 0, accepted: 1, edited: 0, relabelled: 0, both: 0, rejected: 1, missed: 0 });
    expect(ai['totals']).toMatchObject({ predictions: 2, corrected: 1, rejected: 1, missed: 0, correctionRate: 0.5 });
    const agreement = b['interObserver'] as Json;
    expect(agreement['status']).toBe('ok');
    const row = (agreement['readings'] as Json[])[0] as Json;
    const readers = [ids['annie'], ids['rita']].sort();
    expect(row).toMatchObject({ name: 'Tumour extent', studyCode: 'RS-001', roi: roi.id, readers, status: 'ok', pixels: T * T });
    expect(row['pairs']).toEqual([{ a: readers[0], b: readers[1], pixels: T * T, agree: (T * T) / 2, pixelAccuracy: 0.5, cohenKappa: expect.any(Number), perClass: expect.any(Array) }]);
    // per class, the figures' numbers: Tumour annie T², rita T²/2, both T²/2 → Dice 2/3, IoU 1/2; Unlabelled only rita → 0; palette classes nobody used → null (AGR-01)
    const perClass = row['perClass'] as Array<{ class: number; name: string | null; meanDice: number | null; meanIou: number | null }>;
    const tumourRow = perClass.find((c) => c.class === tumour);
    expect(tumourRow).toMatchObject({ name: 'Tumour', meanIou: 0.5 });
    expect(tumourRow?.meanDice).toBeCloseTo(2 / 3, 12);
    expect(perClass.find((c) => c.class === 0)).toMatchObject({ name: 'Unlabelled', meanDice: 0, meanIou: 0 });
    const unused = perClass.filter((c) => c.class !== 0 && c.class !== tumour);
    expect(unused.length).toBeGreaterThan(0); // the project's palette: Stroma and the rest, used by nobody
    for (const c of unused) expect(c).toMatchObject({ meanDice: null, meanIou: null });
    // the HTML page has both figures as static SVG (drawn on the server), without style sheet or script, and no NaN
    const page = await report(mona, '?format=html');
    const figure = (name: string): string => new RegExp(`<figure data-figure="${name}">(<svg[\\s\\S]*?</svg>)`).exec(page.text)?.[1] ?? '';
    const classes = figure('agreement-classes');
    expect(classes).toContain('<title>Tumour: mean Dice 0.667 over 1 pair(s)</title>');
    expect(classes).toContain('not defined');
    const matrix = figure('agreement-matrix');
    const kappa = Number((row['pairs'] as Json[])[0]!['cohenKappa']).toFixed(3);
    expect(matrix.match(/<title>(annie vs rita|rita vs annie): Cohen(&#39;|')s kappa ([^<]*)<\/title>/g)?.length).toBe(2);
    expect(matrix).toContain(`>${kappa}</text>`);
    expect(page.text).not.toMatch(/<style|<script|NaN/i);
    expect((row['source'] as Json)['query']).toBe('AgreementService.compute');
    // and the same records give the same hash again
    expect(((await report(mona)).body['hash'] as Json)['value']).toBe((r.body['hash'] as Json)['value']);
  });

  it('gives inter-observer intervals by a seeded cluster bootstrap over ROIs, with their sample sizes; none with fewer than 2 ROIs', async () => {
    const first = await report(mona);
    const iv = ((first.body['body'] as Json)['interObserver'] as Json)['intervals'] as Json;
    expect(iv['units']).toBe(1);
    expect(iv['pixelAgreement']).toMatchObject({ status: 'not computed', reason: 'fewer than 2 independent units (ROIs): 1', units: 1, estimate: 0.5 });
    expect((iv['source'] as Json)['query']).toBe('clusterBootstrap');
    // a second ROI, the tile's right half, where annie painted Tumour and rita nothing: agreement 0 there
    const roi2 = { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates: [[[T / 2, 0], [T, 0], [T, T], [T / 2, T], [T / 2, 0]]] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation' };
    expect((await as(mona, 'POST', `/api/slides/${slide}/annotations`, roi2)).status).toBe(201);
    const reading = await as(mona, 'POST', `/api/projects/${project}/readings`, { name: 'Tumour extent, right half', slides: [{ slide, roi: roi2.id }], readers: [ids['annie'], ids['rita']] });
    expect(reading.status, JSON.stringify(reading.body)).toBe(201);
    const r = await report(mona);
    const body = r.body['body'] as Json;
    const two = (body['interObserver'] as Json)['intervals'] as Json;
    expect(two['units']).toBe(2);
    const pa = two['pixelAgreement'] as Json;
    // pooled: (T²/2 + 0) / (T² + T²/2) = 1/3; resamples of two ROIs can only give 0, 1/3 or 1/2
    expect(pa).toMatchObject({ status: 'ok', units: 2, resamples: 2000, seed: 15, level: 0.95, resamplesUndefined: 0 });
    expect(pa['estimate']).toBeCloseTo(1 / 3, 12);
    expect(pa['lower']).toBe(0);
    expect(pa['upper']).toBe(0.5);
    const k = two['kappa'] as Json;
    expect(k['units']).toBe(2);
    if (k['status'] === 'ok') expect(Number(k['lower']) <= Number(k['estimate']) && Number(k['estimate']) <= Number(k['upper'])).toBe(true);
    // reproducible: the same records, the same intervals and hash
    const again = await report(mona);
    expect((again.body['hash'] as Json)['value']).toBe((r.body['hash'] as Json)['value']);
    expect(((again.body['body'] as Json)['interObserver'] as Json)['intervals']).toEqual(two);
    const page = await report(mona, '?format=html');
    expect(page.text).toContain('Confidence intervals');
    expect(page.text).toContain('seed 15');
  });

  it('audits every read with the hash it answered', async () => {
    const r = await report(mona);
    const hash = (r.body['hash'] as Json)['value'] as string;
    const records = (await as(admin, 'GET', `/api/audit?user=${ids['mona']}&limit=1000`)).body['records'] as Array<{ action: string; project: string | null; detail: Json }>;
    expect(records.some((x) => x.action === 'report.read' && x.detail['sha256'] === hash && x.detail['format'] === 'json' && x.project === project)).toBe(true);
    expect(records.some((x) => x.action === 'read' && x.detail['route'] === 'GET /api/projects/*/report')).toBe(true);
    expect(records.some((x) => x.action === 'member.qualification' && x.detail['version'] === 1)).toBe(true);
    expect(records.some((x) => x.action === 'protocol.change' && x.detail['version'] === 1)).toBe(true);
    // the qualification's text stays out of the audit log
    expect(JSON.stringify(records)).not.toContain('Board-certified');
  });
});
