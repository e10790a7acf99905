/**
 * The quarantine inbox (INBOX_DIR): slides dropped there are de-identified
 * one at a time by a job, into a private pending folder under DATA_DIR,
 * never into the slide folder. A project manager reads the report (and the
 * replacement label) and approves the copy: it then moves into the slide
 * folder as `deid/<project id>/<study code><ext>` and joins the project
 * under its study code, and the original is deleted (or kept, by policy).
 * A refused, failed or rejected file stays in quarantine. The original name
 * is never stored, logged or audited: a job knows its file by a keyed hash
 * of path, size and modification time. A folder of DICOM instances is one
 * slide (one job; its copy is a folder). Every step is audited.
 */
import { createHmac } from 'node:crypto';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import { newId } from '../identity/secrets.js';
import { privateDir, type LogLine } from '../private-files.js';
import type { DeidJob, DeidJobStore } from '../store/deid-jobs.js';
import { FileByteSource } from '../tiff/byte-source.js';
import { TiffFile } from '../tiff/tiff-file.js';
import { layoutFor } from './classify.js';
import { deidentifyFile } from './deidentify.js';
import { isDicomInput } from './dicom-deid.js';
import { dicomLabelPng } from './dicom-label.js';
import type { DeidReport } from './report.js';
import { DEFAULT_RULES, type DeidRules } from './rules.js';

export interface InboxOptions {
  inboxDir: string;
  slidesDir: string;
  dataDir: string;
  /** The project whose managers approve, by name (resolved when files arrive). */
  projectName: string;
  keepOriginals: boolean;
  /** Study codes are `<prefix>-0001`, … per project. */
  prefix: string;
  rules?: DeidRules;
  strict?: boolean;
  secret: string;
  store: DeidJobStore;
  projectId(name: string): Promise<string | null>;
  /** Adds a slide of the folder to a project under a study code; returns the project-slide id. */
  addToProject(projectId: string, slideName: string, studyCode: string): Promise<string>;
  audit(e: AuditEvent): void;
  log: LogLine;
  /** How often the inbox is looked at (ms); 0: only when asked (tests, the scan route). */
  scanMs: number;
}

interface SeenFile {
  size: number;
  mtimeMs: number;
}

/** Size and newest change of a folder of DICOM instances (one slide), or null when the folder is not one. */
async function dicomFolder(path: string): Promise<SeenFile | null> {
  if (!(await isDicomInput(path).catch(() => false))) return null;
  let size = 0;
  let mtimeMs = 0;
  for (const name of await readdir(path)) {
    const st = await stat(join(path, name)).catch(() => null);
    if (!st) continue;
    size += st.size;
    mtimeMs = Math.max(mtimeMs, st.mtimeMs);
  }
  return { size, mtimeMs };
}

/** The extension a copy keeps: `.ome.tif(f)` whole, else the last one (lower case). */
function extOf(name: string): string {
  const m = /(\.ome\.tiff?|\.[A-Za-z0-9]{1,8})$/i.exec(name);
  return (m?.[1] ?? '').toLowerCase();
}

export class InboxService {
  private readonly seen = new Map<string, SeenFile>();
  private readonly pendingDir: string;
  private pumping: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout | null;
  private closed = false;

  constructor(private readonly o: InboxOptions) {
    this.pendingDir = join(o.dataDir, 'deid-pending');
    this.timer = o.scanMs > 0 ? setInterval(() => void this.tick(), o.scanMs) : null;
    this.timer?.unref();
  }

  async init(): Promise<void> {
    await mkdir(this.o.inboxDir, { recursive: true });
    await mkdir(this.pendingDir, { recursive: true });
    privateDir(this.pendingDir, this.o.log);
    // a job cut short by a stop runs again (its partial file is swept by the next run)
    for (const j of this.o.store.inState('running')) this.o.store.transition(j.id, ['running'], 'queued', { now: new Date().toISOString() });
  }

  private key(rel: string, st: SeenFile): string {
    return createHmac('sha256', this.o.secret).update(`inbox\0${rel}\0${st.size}\0${Math.trunc(st.mtimeMs)}`).digest('hex');
  }

  private async files(): Promise<Array<{ path: string; rel: string; st: SeenFile }>> {
    const out: Array<{ path: string; rel: string; st: SeenFile }> = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      if (depth > 8) return;
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return;
      }
      for (const name of names.sort()) {
        if (name.startsWith('.')) continue;
        const path = join(dir, name);
        const st = await stat(path).catch(() => null);
        if (!st) continue;
        const rel = relative(this.o.inboxDir, path).split(sep).join('/');
        if (st.isDirectory()) {
          // a folder of DICOM instances is one slide: one job, its size and newest change the folder's
          const folder = await dicomFolder(path);
          if (folder) out.push({ path, rel, st: folder });
          else await walk(path, depth + 1);
        } else if (st.isFile()) out.push({ path, rel, st: { size: st.size, mtimeMs: st.mtimeMs } });
      }
    };
    await walk(this.o.inboxDir, 0);
    return out;
  }

  /** Looks at the inbox: a file unchanged since the last look gets a job. Returns the jobs added. */
  async scan(): Promise<DeidJob[]> {
    const projectId = await this.o.projectId(this.o.projectName);
    const added: DeidJob[] = [];
    const present = new Set<string>();
    for (const f of await this.files()) {
      present.add(f.rel);
      const before = this.seen.get(f.rel);
      this.seen.set(f.rel, f.st);
      // still being copied in: wait for a look at which it has not changed
      if (!before || before.size !== f.st.size || before.mtimeMs !== f.st.mtimeMs) continue;
      if (!projectId) continue;
      const ext = (await stat(f.path).then((st) => st.isDirectory(), () => false)) ? '' : extOf(f.rel);
      const job = this.o.store.add({ id: newId().replace(/-/g, ''), projectId, sourceKey: this.key(f.rel, f.st), prefix: this.o.prefix, ext, bytes: f.st.size, now: new Date().toISOString() });
      if (!job) continue;
      added.push(job);
      this.o.audit({ actor: null, action: 'deid.job.queue', projectId, target: job.id, detail: { bytes: job.bytes, studyCode: job.studyCode } });
    }
    for (const rel of [...this.seen.keys()]) if (!present.has(rel)) this.seen.delete(rel);
    if (added.length && !projectId) this.o.log('inbox: files wait for the INBOX_PROJECT project to exist');
    return added;
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      await this.scan();
      await this.pump();
    } catch (err) {
      this.o.log(`inbox: ${err instanceof WsiError ? err.code : ((err as NodeJS.ErrnoException).code ?? 'error')}`);
    }
  }

  /** Runs queued jobs one after another (resolves when the queue is empty). */
  pump(): Promise<void> {
    this.pumping ??= (async () => {
      // yield first: with an empty queue the body would otherwise finish (and reset `pumping`) before being assigned
      await Promise.resolve();
      try {
        for (let job = this.o.store.inState('queued')[0]; job && !this.closed; job = this.o.store.inState('queued')[0]) await this.runJob(job);
      } finally {
        this.pumping = null;
      }
    })();
    return this.pumping;
  }

  pendingPath(job: DeidJob): string {
    return join(this.pendingDir, `${job.id}${job.ext}`);
  }

  private async sourceOf(job: DeidJob): Promise<string | null> {
    for (const f of await this.files()) if (this.key(f.rel, f.st) === job.sourceKey) return f.path;
    return null;
  }

  private async runJob(job: DeidJob): Promise<void> {
    const now = (): string => new Date().toISOString();
    this.o.store.transition(job.id, ['queued'], 'running', { now: now() });
    let report: DeidReport | null = null;
    let code: string | null = null;
    try {
      const source = await this.sourceOf(job);
      if (!source) {
        code = 'NOT_FOUND';
      } else {
        await rm(this.pendingPath(job), { force: true, recursive: true });
        report = await deidentifyFile(source, this.pendingPath(job), { studyCode: job.studyCode, rules: this.o.rules ?? DEFAULT_RULES, strict: this.o.strict ?? false });
        code = report.error?.code ?? null;
      }
    } catch (err) {
      // an unexpected fault: its message may name the file, so only its code is kept
      code = err instanceof WsiError ? err.code : 'INTERNAL';
      this.o.log(`inbox: job ${job.id} failed (${err instanceof WsiError ? err.code : ((err as NodeJS.ErrnoException).code ?? 'error')})`);
    }
    const state = report?.result === 'de-identified' ? 'review' : report?.result === 'refused' ? 'refused' : 'failed';
    this.o.store.transition(job.id, ['running'], state, { ...(report ? { report } : {}), errorCode: code, now: now() });
    this.o.audit({
      actor: null,
      action: 'deid.job.finish',
      outcome: state === 'review' ? 'ok' : 'failed',
      projectId: job.projectId,
      target: job.id,
      detail: { state, code, fieldsModified: report?.fieldsModified ?? null, imagesModified: report?.imagesModified ?? null, bytesScanned: report?.verification?.bytesScanned ?? null },
    });
  }

  list(projectId: string): DeidJob[] {
    return this.o.store.list(projectId);
  }

  job(projectId: string, id: string): DeidJob {
    const j = this.o.store.get(id);
    if (!j || j.projectId !== projectId) throw new WsiError('DEID_JOB_NOT_FOUND', 'no such inbox job in this project');
    return j;
  }

  report(projectId: string, id: string): DeidReport | null {
    this.job(projectId, id);
    return this.o.store.report(id) as DeidReport | null;
  }

  /** The replacement label of a copy waiting for review, as PNG (null when it has none). */
  async labelPreview(projectId: string, id: string): Promise<Buffer | null> {
    const j = this.job(projectId, id);
    if (j.state !== 'review') throw new WsiError('DEID_JOB_STATE', `the job is ${j.state}: only a copy waiting for review has a label to check`);
    // a DICOM copy: its replaced LABEL instance, or none when it was dropped
    if (await isDicomInput(this.pendingPath(j))) return dicomLabelPng(this.pendingPath(j));
    const file = await TiffFile.open(await FileByteSource.open(this.pendingPath(j)));
    try {
      const label = layoutFor(file, this.o.rules ?? DEFAULT_RULES).associated.find((a) => a.kind === 'label')?.image;
      if (!label) return null;
      return await sharp(this.pendingPath(j), { page: label.ifd.chainIndex, failOn: 'none' }).png().toBuffer();
    } finally {
      await file.close();
    }
  }

  /** Moves the verified copy into the slide folder, adds it to the project, and deletes (or keeps) the original. */
  async approve(projectId: string, id: string, actor: string, ip: string | null): Promise<DeidJob> {
    const j = this.job(projectId, id);
    if (j.state !== 'review') throw new WsiError('DEID_JOB_STATE', `the job is ${j.state}; only a verified copy waiting for review can be approved`);
    const copyIsFolder = await stat(this.pendingPath(j)).then((st) => st.isDirectory(), () => false);
    const file = `deid/${projectId}/${j.studyCode}${j.ext}`;
    const dest = join(this.o.slidesDir, ...file.split('/'));
    // a DICOM folder is listed by its folder name (dir/), or by its file when one instance remains
    const name = copyIsFolder ? `${file}/` : file;
    await mkdir(dirname(dest), { recursive: true });
    if (await stat(dest).then(() => true, () => false)) throw new WsiError('DEID_OUTPUT_EXISTS', 'a slide with this study code is already in the slide folder');
    await moveFile(this.pendingPath(j), dest);
    const psId = await this.o.addToProject(projectId, name, j.studyCode);
    const now = new Date().toISOString();
    let done = this.o.store.transition(id, ['review'], 'approved', { projectSlideId: psId, decidedBy: actor, now });
    this.o.audit({ actor, action: 'deid.job.approve', projectId, target: id, ip, detail: { projectSlide: psId, studyCode: j.studyCode } });
    const source = await this.sourceOf(j);
    if (source && !this.o.keepOriginals) {
      await rm(source, { force: true, recursive: true });
      this.o.store.setOriginal(id, 'deleted', now);
      this.o.audit({ actor, action: 'deid.original.delete', projectId, target: id, ip });
    } else {
      this.o.store.setOriginal(id, 'kept', now);
      this.o.audit({ actor, action: 'deid.original.keep', projectId, target: id, ip, detail: { policy: this.o.keepOriginals, found: source !== null } });
    }
    done = this.o.store.get(id) as DeidJob;
    return done;
  }

  /** Discards the copy (if any); the original stays in quarantine. */
  async reject(projectId: string, id: string, actor: string, ip: string | null): Promise<DeidJob> {
    const j = this.job(projectId, id);
    const done = this.o.store.transition(id, ['review', 'refused', 'failed'], 'rejected', { decidedBy: actor, now: new Date().toISOString() });
    await rm(this.pendingPath(j), { force: true, recursive: true });
    this.o.audit({ actor, action: 'deid.job.reject', projectId, target: id, ip, detail: { was: j.state } });
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.pumping;
  }
}

/** Renames, or across file systems copies, fsyncs and renames (never a half-written slide under its final name). */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  const tmp = join(dirname(to), `.${newId()}.moving`);
  const files = (await stat(from)).isDirectory() ? await readdir(from) : null;
  if (files) await mkdir(tmp, { mode: 0o700 });
  for (const [src, dst] of files ? files.map((n) => [join(from, n), join(tmp, n)] as const) : [[from, tmp] as const]) {
    await copyFile(src, dst);
    const fh = await open(dst, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  await rename(tmp, to);
  await rm(from, { force: true, recursive: true });
}
