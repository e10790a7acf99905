/**
 * The inbox's job life cycle without a server (store/deid-jobs.ts and
 * deid/inbox.ts on a real database file): a file still being copied in gets
 * no job; files wait for their project; study codes are numbered per
 * project; a job cut short by a stop (DEID-12: the server killed while it
 * wrote) runs again at the next start, leaving no partial file; the
 * keep-originals policy; the database never holds the file's name; and a
 * folder of DICOM instances is one slide (DEID-09).
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../tiles-server/audit/audit-log.js';
import { InboxService, type InboxOptions } from '../../tiles-server/deid/inbox.js';
import { openDatabase, type Db } from '../../tiles-server/store/database.js';
import { DeidJobStore } from '../../tiles-server/store/deid-jobs.js';
import { dicomWriterMissing } from '../../scripts/fixtures/dicom.js';
import { writePhiSlide } from '../helpers/deid-dicom-fixtures.js';
import { writePhiSvs } from '../helpers/deid-fixtures.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wsi-inbox-jobs-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Rig {
  inbox: InboxService;
  store: DeidJobStore;
  db: Db;
  dirs: { inbox: string; slides: string; data: string };
  events: AuditEvent[];
  added: Array<{ projectId: string; slideName: string; studyCode: string }>;
  project: { id: string | null };
}

async function rig(name: string, extra: Partial<InboxOptions> = {}, reuse?: Rig): Promise<Rig> {
  const dirs = reuse?.dirs ?? { inbox: join(root, name, 'inbox'), slides: join(root, name, 'slides'), data: join(root, name, 'data') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true });
  const db = reuse?.db ?? openDatabase(join(dirs.data, 'wsi.db'));
  const store = new DeidJobStore(db);
  const events: AuditEvent[] = [];
  const added: Rig['added'] = [];
  const project = reuse?.project ?? { id: 'p-1' as string | null };
  const inbox = new InboxService({
    inboxDir: dirs.inbox,
    slidesDir: dirs.slides,
    dataDir: dirs.data,
    projectName: 'Study',
    keepOriginals: false,
    prefix: 'DEID',
    secret: 'test-secret',
    store,
    projectId: () => Promise.resolve(project.id),
    addToProject: (projectId, slideName, studyCode) => {
      added.push({ projectId, slideName, studyCode });
      return Promise.resolve(`ps-${added.length}`);
    },
    audit: (e) => events.push(e),
    log: () => undefined,
    scanMs: 0,
    ...extra,
  });
  await inbox.init();
  return { inbox, store, db, dirs, events, added, project };
}

describe('inbox jobs', () => {
  it('waits until a file stops changing and its project exists; numbers study codes per project', async () => {
    const r = await rig('a');
    r.project.id = null;
    const file = join(r.dirs.inbox, 'Doe_Jane.svs');
    await writePhiSvs(file);
    expect(await r.inbox.scan()).toEqual([]); // first look
    expect(await r.inbox.scan()).toEqual([]); // unchanged, but no project yet
    r.project.id = 'p-1';
    await appendFile(file, Buffer.alloc(10)); // still being copied in
    expect(await r.inbox.scan()).toEqual([]);
    const jobs = await r.inbox.scan();
    expect(jobs.map((j) => j.studyCode)).toEqual(['DEID-0001']);
    await writePhiSvs(join(r.dirs.inbox, 'Roe_Richard.svs'), { noMacro: true });
    await r.inbox.scan();
    expect((await r.inbox.scan()).map((j) => j.studyCode)).toEqual(['DEID-0002']);
    expect(await r.inbox.scan()).toEqual([]); // known files get no second job
    await r.inbox.pump();
    expect(r.store.list('p-1').map((j) => j.state)).toEqual(['review', 'review']);
    // the trailing bytes appended above are unreferenced: gone from the copy, which still verified
    expect((r.inbox.report('p-1', jobs[0]?.id as string)?.verification?.result)).toBe('pass');
    const db = await readFile(join(r.dirs.data, 'wsi.db'), 'latin1');
    expect(db.includes('Doe_Jane')).toBe(false);
    expect(db.includes('Roe_Richard')).toBe(false);
    expect(JSON.stringify(r.events)).not.toMatch(/Doe_Jane|Roe_Richard/);
    await r.inbox.close();
    r.db.close();
  });

  it('a job cut short by a stop runs again at the next start, and no partial file is left (DEID-12)', async () => {
    const r = await rig('b');
    const file = join(r.dirs.inbox, 'Doe_Jane.svs');
    await writePhiSvs(file);
    await r.inbox.scan();
    const [job] = await r.inbox.scan();
    expect(job).toBeDefined();
    // the state a killed server leaves: the job running, a partial file of a process that is gone
    r.store.transition(job?.id as string, ['queued'], 'running', { now: new Date().toISOString() });
    const pending = join(r.dirs.data, 'deid-pending');
    await writeFile(join(pending, `.${job?.id as string}.svs.deid-partial-999999-abcdef12`), 'half a slide');
    await r.inbox.close();
    const again = await rig('b', {}, r);
    expect(again.store.get(job?.id as string)?.state).toBe('queued');
    await again.inbox.pump();
    expect(again.store.get(job?.id as string)?.state).toBe('review');
    expect((await readdir(pending)).filter((n) => n.includes('deid-partial'))).toEqual([]);
    expect(existsSync(file)).toBe(true);
    await again.inbox.close();
    r.db.close();
  });

  it('keeps the original after approval when the policy says so; a rejected copy is discarded', async () => {
    const r = await rig('c', { keepOriginals: true });
    const file = join(r.dirs.inbox, 'Doe_Jane.svs');
    await writePhiSvs(file);
    await writePhiSvs(join(r.dirs.inbox, 'Other.svs'), { noLabel: true });
    await r.inbox.scan();
    const [a, b] = await r.inbox.scan();
    await r.inbox.pump();
    const approved = await r.inbox.approve('p-1', a?.id as string, 'u-1', null);
    expect(approved).toMatchObject({ state: 'approved', original: 'kept', projectSlideId: 'ps-1', decidedBy: 'u-1' });
    expect(existsSync(file)).toBe(true);
    expect(existsSync(join(r.dirs.slides, 'deid', 'p-1', 'DEID-0001.svs'))).toBe(true);
    expect(r.added).toEqual([{ projectId: 'p-1', slideName: 'deid/p-1/DEID-0001.svs', studyCode: 'DEID-0001' }]);
    expect(r.events.map((e) => e.action)).toEqual(expect.arrayContaining(['deid.job.queue', 'deid.job.finish', 'deid.job.approve', 'deid.original.keep']));
    // a kept original is not queued again
    expect(await r.inbox.scan()).toEqual([]);
    const rejected = await r.inbox.reject('p-1', b?.id as string, 'u-1', null);
    expect(rejected.state).toBe('rejected');
    expect(existsSync(r.inbox.pendingPath(rejected))).toBe(false);
    await expect(r.inbox.approve('p-1', b?.id as string, 'u-1', null)).rejects.toMatchObject({ code: 'DEID_JOB_STATE' });
    await expect(r.inbox.approve('p-2', a?.id as string, 'u-1', null)).rejects.toMatchObject({ code: 'DEID_JOB_NOT_FOUND' });
    await r.inbox.close();
    r.db.close();
  });

  it('a folder of DICOM instances is one slide: one job, a folder copy with no label to check, approved as deid/<project>/<code>/ (DEID-09)', async () => {
    const missing = dicomWriterMissing();
    expect(missing, `the DICOM slide cannot be written: ${missing ?? ''}`).toBeNull();
    const r = await rig('dicom');
    await writePhiSlide(join(r.dirs.inbox, 'Smith_2024', 'Doe_Jane'));
    expect(await r.inbox.scan()).toEqual([]);
    const jobs = await r.inbox.scan();
    expect(jobs.map((j) => [j.studyCode, j.ext])).toEqual([['DEID-0001', '']]);
    await r.inbox.pump();
    const id = jobs[0]?.id as string;
    expect(r.store.get(id)?.state, JSON.stringify(r.inbox.report('p-1', id)?.error)).toBe('review');
    expect(r.inbox.report('p-1', id)?.verification?.result).toBe('pass');
    expect(await r.inbox.labelPreview('p-1', id)).toBeNull();
    await r.inbox.approve('p-1', id, 'u-1', null);
    expect(r.added.map((a) => a.slideName)).toEqual(['deid/p-1/DEID-0001/']);
    expect((await readdir(join(r.dirs.slides, 'deid', 'p-1', 'DEID-0001'))).sort()).toEqual(['DEID-0001-001.dcm', 'DEID-0001-002.dcm', 'DEID-0001-003.dcm']);
    expect(existsSync(join(r.dirs.inbox, 'Smith_2024', 'Doe_Jane'))).toBe(false);
    const db = await readFile(join(r.dirs.data, 'wsi.db'), 'latin1');
    expect(db.includes('Doe_Jane') || db.includes('Smith_2024')).toBe(false);
    expect(JSON.stringify(r.events)).not.toMatch(/Doe_Jane|Smith_2024|PHI-SENTINEL/);
    await r.inbox.close();
    r.db.close();
  });
});
