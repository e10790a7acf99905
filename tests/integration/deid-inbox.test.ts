/**
 * The quarantine inbox through the server (issue 15): a slide named after a
 * patient, in a folder named after a physician, arrives in INBOX_DIR; a job
 * de-identifies it into a pending copy; annotators cannot see it (DEID-14);
 * the manager reads the report, checks the replacement label and approves;
 * the copy joins the project under its study code, the server opens it and
 * its tiles are the original's bit for bit, and the original is deleted.
 * Names never reach the slide list, tile URLs, the audit log, the database
 * or the server's output (DEID-10). A file the rules do not cover stays
 * quarantined and can be rejected. A DICOM folder is one slide (DEID-09).
 * Every step is audited.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileByteSource } from '../../tiles-server/tiff/byte-source.js';
import { TiffFile } from '../../tiles-server/tiff/tiff-file.js';
import { asSession, createUser, signIn, type Session } from '../helpers/accounts.js';
import { dicomWriterMissing } from '../../scripts/fixtures/dicom.js';
import { writePhiSlide } from '../helpers/deid-dicom-fixtures.js';
import { S, writePhiSvs } from '../helpers/deid-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let base = '';
let root = '';
let inbox = '';
let slides = '';
let admin: Session;
let mona: Session;
let annie: Session;
let project = '';
const ORIGINAL = 'Doe_Jane_MRN123456.svs';
const FOLDER = 'Smith_2024';
const NAMES = ['Doe_Jane', 'MRN123456', 'Smith_2024'];

type Json = Record<string, unknown>;
function as(who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return asSession(base, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

async function jobsNow(): Promise<Json[]> {
  return (await as(mona, 'GET', `/api/projects/${project}/inbox`)).body['jobs'] as Json[];
}

/** Scans until the inbox has `n` jobs, then waits for them to finish running. */
async function settle(n: number): Promise<Json[]> {
  for (let i = 0; i < 200; i++) {
    if ((await jobsNow()).length < n) expect((await as(mona, 'POST', `/api/projects/${project}/inbox/scan`)).status).toBe(202);
    const jobs = await jobsNow();
    if (jobs.length >= n && jobs.every((j) => j['state'] !== 'queued' && j['state'] !== 'running')) return jobs;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`the inbox did not settle: ${JSON.stringify(await jobsNow())}\n${server.output().slice(-3000)}`);
}

async function blocks(path: string): Promise<Buffer[]> {
  const f = await TiffFile.open(await FileByteSource.open(path));
  try {
    const img = f.images.find((i) => i.ifd.chainIndex === 0);
    if (!img) return [];
    const t = await f.blockTable(img);
    const out: Buffer[] = [];
    for (let i = 0; i < t.offsets.length; i++) out.push(Buffer.from(await f.src.read(t.offsets[i] as number, t.counts[i] as number)));
    return out;
  } finally {
    await f.close();
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wsi-inbox-'));
  inbox = join(root, 'inbox');
  slides = join(root, 'slides');
  await mkdir(join(inbox, FOLDER), { recursive: true });
  await mkdir(slides, { recursive: true });
  server = await startTestServer(slides, { INBOX_DIR: inbox, INBOX_PROJECT: 'Inbox study', INBOX_SCAN_S: '0', LOG_REQUESTS: '1' });
  base = server.url;
  admin = server.session as Session;
  const created = await as(admin, 'POST', '/api/projects', { name: 'Inbox study' });
  expect(created.status).toBe(201);
  project = (created.body['project'] as { id: string }).id;
  const monaId = (await createUser(base, admin, 'mona')).id;
  const annieId = (await createUser(base, admin, 'annie')).id;
  expect((await as(admin, 'PUT', `/api/projects/${project}/members/${monaId}`, { role: 'manager' })).status).toBe(200);
  expect((await as(admin, 'PUT', `/api/projects/${project}/members/${annieId}`, { role: 'annotator' })).status).toBe(200);
  mona = await signIn(base, 'mona');
  annie = await signIn(base, 'annie');
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('the quarantine inbox', () => {
  let job = '';
  const keep = (): string => join(root, 'original-copy.svs');

  it('de-identifies a slide that arrives, and keeps the copy from everyone until a manager approves (DEID-14)', async () => {
    await writePhiSvs(join(inbox, FOLDER, ORIGINAL));
    await copyFile(join(inbox, FOLDER, ORIGINAL), keep());
    const jobs = await settle(1);
    expect(jobs).toHaveLength(1);
    const j = jobs[0] as Json;
    job = j['id'] as string;
    expect(j).toMatchObject({ studyCode: 'DEID-0001', state: 'review', result: 'de-identified', label: 'replaced', macro: 'removed', verification: 'pass', original: 'quarantined' });
    expect(JSON.stringify(j)).not.toMatch(/Doe|Smith|MRN/);

    // an annotator: no inbox, no report, no label, no decision
    for (const [method, path] of [
      ['GET', `/api/projects/${project}/inbox`],
      ['GET', `/api/projects/${project}/inbox/${job}/report`],
      ['GET', `/api/projects/${project}/inbox/${job}/label`],
      ['POST', `/api/projects/${project}/inbox/${job}/approve`],
      ['POST', `/api/projects/${project}/inbox/${job}/reject`],
      ['POST', `/api/projects/${project}/inbox/scan`],
    ] as const) {
      const r = await as(annie, method, path);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body['code']).toBe('FORBIDDEN');
    }
    // nobody sees an unapproved copy as a slide
    expect(((await as(mona, 'GET', '/api/slides')).body['slides'] as Json[]).length).toBe(0);
    expect(((await as(annie, 'GET', '/api/slides')).body['slides'] as Json[]).length).toBe(0);

    // the manager reads the report and checks the label
    const report = await as(mona, 'GET', `/api/projects/${project}/inbox/${job}/report`);
    expect(report.status).toBe(200);
    expect(report.body['result']).toBe('de-identified');
    expect((report.body['fields'] as Json[]).some((f) => f['field'] === 'Aperio Filename' && f['action'] === 'deleted')).toBe(true);
    const page = await fetch(`${base}/api/projects/${project}/inbox/${job}/report?format=html`, { headers: { Cookie: mona.cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('DEID-0001');
    const label = await fetch(`${base}/api/projects/${project}/inbox/${job}/label`, { headers: { Cookie: mona.cookie } });
    expect(label.status).toBe(200);
    expect(label.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await label.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
  });

  it('approval moves the copy into the project under its study code, the server serves it, and the original is deleted', async () => {
    const approved = await as(mona, 'POST', `/api/projects/${project}/inbox/${job}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body['job']).toMatchObject({ state: 'approved', original: 'deleted' });
    expect(existsSync(join(inbox, FOLDER, ORIGINAL))).toBe(false);
    expect((await as(mona, 'POST', `/api/projects/${project}/inbox/${job}/approve`)).body['code']).toBe('DEID_JOB_STATE');

    const list = (await as(annie, 'GET', '/api/slides')).body['slides'] as Json[];
    expect(list).toHaveLength(1);
    const slide = list[0] as Json;
    expect(slide['studyCode']).toBe('DEID-0001');
    expect(slide['name']).toBe(`deid/${project}/DEID-0001.svs`);
    expect(slide['status']).toBe('ok');
    const id = slide['id'] as string;
    const dzi = await fetch(`${base}/dzi/${id}.dzi`, { headers: { Cookie: annie.cookie } });
    expect(dzi.status).toBe(200);
    const tile = await fetch(`${base}/dzi/${id}_files/10/0_0.jpeg`, { headers: { Cookie: annie.cookie } });
    expect(tile.status).toBe(200);
    expect(tile.headers.get('content-type')).toBe('image/jpeg');
    await tile.arrayBuffer();
    // the stored copy's level-0 blocks are the original's, bit for bit
    const stored = join(slides, 'deid', project, 'DEID-0001.svs');
    const a = await blocks(keep());
    const b = await blocks(stored);
    expect(b.length).toBe(a.length);
    a.forEach((blk, i) => expect(b[i]?.equals(blk)).toBe(true));
    // the slide's label is for managers only, like every label
    expect((await as(annie, 'GET', `/api/slides/${id}`)).body['associatedImages']).toEqual([]);
  });

  it('a file the rules do not cover stays in quarantine, refused, and can be rejected', async () => {
    await writePhiSvs(join(inbox, FOLDER, 'Roe_Richard_MRN999.svs'), { privateTag: true });
    const jobs = await settle(2);
    const refused = jobs.find((j) => j['id'] !== job) as Json;
    expect(refused).toMatchObject({ studyCode: 'DEID-0002', state: 'refused', errorCode: 'DEID_UNCOVERED_FIELD', original: 'quarantined' });
    const report = (await as(mona, 'GET', `/api/projects/${project}/inbox/${refused['id'] as string}/report`)).body;
    expect((report['uncovered'] as string[]).join()).toContain('tag 65000 (private)');
    expect((await as(mona, 'POST', `/api/projects/${project}/inbox/${refused['id'] as string}/approve`)).body['code']).toBe('DEID_JOB_STATE');
    const rejected = await as(mona, 'POST', `/api/projects/${project}/inbox/${refused['id'] as string}/reject`);
    expect(rejected.body['job']).toMatchObject({ state: 'rejected', original: 'quarantined' });
    expect(existsSync(join(inbox, FOLDER, 'Roe_Richard_MRN999.svs'))).toBe(true);
    expect((await as(mona, 'GET', `/api/projects/${project}/inbox/${'0'.repeat(32)}/report`)).status).toBe(404);
  });

  it('a DICOM folder arrives as one slide: one job, approved into deid/<project>/<code>/, listed and served (DEID-09 through the server)', async () => {
    const missing = dicomWriterMissing();
    expect(missing, `the DICOM slide cannot be written: ${missing ?? ''}`).toBeNull();
    await writePhiSlide(join(inbox, FOLDER, 'Doe_Jane_DICOM'));
    const jobs = await settle(3);
    const j = jobs.find((x) => x['studyCode'] === 'DEID-0003') as Json;
    expect(j).toMatchObject({ state: 'review', result: 'de-identified', label: 'removed', macro: 'removed', verification: 'pass', original: 'quarantined' });
    const id = j['id'] as string;
    // the LABEL instance was dropped: there is no label to check
    expect((await as(mona, 'GET', `/api/projects/${project}/inbox/${id}/label`)).status).toBe(404);
    const approved = await as(mona, 'POST', `/api/projects/${project}/inbox/${id}/approve`);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body['job']).toMatchObject({ state: 'approved', original: 'deleted' });
    expect(existsSync(join(inbox, FOLDER, 'Doe_Jane_DICOM'))).toBe(false);
    const slide = ((await as(annie, 'GET', '/api/slides')).body['slides'] as Json[]).find((x) => x['studyCode'] === 'DEID-0003') as Json;
    expect(slide).toMatchObject({ name: `deid/${project}/DEID-0003/`, status: 'ok' });
    const tile = await fetch(`${base}/dzi/${slide['id'] as string}_files/9/0_0.jpeg`, { headers: { Cookie: annie.cookie } });
    expect(tile.status).toBe(200);
    await tile.arrayBuffer();
  });

  it('audits every step, and no name or sentinel reaches the audit log, the database or the server output (DEID-10)', async () => {
    const audit = (await as(admin, 'GET', '/api/audit?limit=10000')).body;
    const actions = ((audit['records'] ?? audit['events'] ?? []) as Json[]).map((r) => r['action']);
    for (const a of ['deid.job.queue', 'deid.job.finish', 'deid.job.approve', 'deid.original.delete', 'deid.job.reject']) expect(actions, a).toContain(a);
    const dbFiles = (await readdir(server.dataDir)).filter((f) => f.startsWith('wsi.db'));
    const blobs = [JSON.stringify(audit), server.output(), ...(await Promise.all(dbFiles.map((f) => readFile(join(server.dataDir, f), 'latin1'))))];
    for (const needle of [...NAMES, 'Roe_Richard', 'MRN999', S(1), S(5), S(19), S(101), S(108)]) {
      for (const blob of blobs) expect(blob.includes(needle), needle).toBe(false);
    }
  });
});
