/**
 * The slide folder's storage, as formats reach it: every slide file is
 * opened through its resolved real path, checked to lie inside the folder at
 * the moment it is opened (a link re-pointed elsewhere after the listing is
 * refused), and remembered by device and inode so the registry can tell when
 * a path has come to name another file. The folder itself is probed with a
 * deadline: while it is gone or stalled (an unmounted disk, a hung network
 * share) requests fail fast with STORAGE_UNAVAILABLE, and the next good
 * probe brings it back.
 */
import { realpath, stat, statfs } from 'node:fs/promises';
import { sep } from 'node:path';
import { WsiError } from '../../src/core/errors.js';
import { FileByteSource } from '../tiff/byte-source.js';
import { isLocalFilesystem, type SyncReads } from '../tiff/sync-reads.js';
import type { SlideEntry } from './format.js';
import { scanSlideFolder } from './scan.js';
import { sameFile, StorageProbe, type FileIdentity, type SlideStorage, type StorageState } from './slide-storage.js';

export { sameFile, type FileIdentity, type StorageState } from './slide-storage.js';

/** Rejects with STORAGE_UNAVAILABLE when `p` has not settled within `ms` (a stalled mount). */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WsiError('STORAGE_UNAVAILABLE', `slide storage did not answer within ${ms} ms (${what})`)), ms);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

export class SlideFiles implements SlideStorage {
  private rootReal: string | null = null;
  private readonly health: StorageProbe;

  constructor(
    readonly root: string,
    private readonly opts: { deadlineMs: number; probeEveryMs: number; syncReads?: SyncReads | null },
  ) {
    // no synchronous read before a probe has seen which file system the folder is on
    if (opts.syncReads) opts.syncReads.allowed = false;
    this.health = new StorageProbe(opts.probeEveryMs, () => this.checkFolder(), (err) => `the slide folder cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }

  get storage(): StorageState {
    return this.health.storage;
  }

  /** Checks the folder (at most every `probeEveryMs`, one probe at a time). */
  probe(force = false): Promise<StorageState> {
    return this.health.probe(force);
  }

  /** Throws STORAGE_UNAVAILABLE at once while the folder is known to be unavailable. */
  ensureAvailable(): Promise<void> {
    return this.health.ensureAvailable();
  }

  private async checkFolder(): Promise<void> {
    const real = await withDeadline(realpath(this.root), this.opts.deadlineMs, 'resolving the slide folder');
    const st = await withDeadline(stat(real), this.opts.deadlineMs, 'reading the slide folder');
    if (!st.isDirectory()) throw new WsiError('STORAGE_UNAVAILABLE', 'the slide folder is not a folder');
    const sync = this.opts.syncReads;
    // small reads skip the thread pool only on a local file system (a network share can stall a read)
    if (sync) sync.allowed = isLocalFilesystem((await withDeadline(statfs(real), this.opts.deadlineMs, 'reading the slide folder')).type);
    this.rootReal = real;
  }

  scan(idOf: (name: string) => string): Promise<Map<string, SlideEntry>> {
    return scanSlideFolder(this.root, idOf);
  }

  private inside(real: string): boolean {
    const root = this.rootReal;
    return root !== null && (real === root || real.startsWith(root + sep));
  }

  /** Which file a path names now (following links), or null when it is gone. */
  async identity(path: string): Promise<(FileIdentity & { size: number; mtimeMs: number }) | null> {
    const st = await withDeadline(stat(path), this.opts.deadlineMs, 'checking a slide file').catch((err: unknown) => {
      if (err instanceof WsiError) throw err;
      return null;
    });
    return st ? { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs } : null;
  }

  /**
   * Opens a slide file through its real path, refusing one that resolves
   * outside the slide folder, and returns which file was opened.
   */
  async open(path: string): Promise<{ src: FileByteSource; identity: FileIdentity }> {
    await this.ensureAvailable();
    const failed = (err: unknown): never => {
      if (err instanceof WsiError) throw err;
      throw new WsiError('STORAGE_UNAVAILABLE', `the slide file cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    };
    const real = await withDeadline(realpath(path), this.opts.deadlineMs, 'resolving a slide file').catch(failed);
    if (!this.inside(real)) throw new WsiError('SLIDE_OUTSIDE_FOLDER', 'the slide file now resolves outside the slide folder and is not served');
    // a file on another file system than the folder's (a share mounted inside it) is checked on its own
    const sync = this.opts.syncReads && isLocalFilesystem((await withDeadline(statfs(real), this.opts.deadlineMs, 'checking a slide file').catch(failed)).type) ? this.opts.syncReads : null;
    const src = await withDeadline(FileByteSource.open(real, sync), this.opts.deadlineMs, 'opening a slide file').catch(failed);
    try {
      const opened = src.identity;
      // the path must still name the file that was opened (no swap between resolving and opening)
      const now = await withDeadline(realpath(path), this.opts.deadlineMs, 'resolving a slide file');
      const st = await withDeadline(stat(now), this.opts.deadlineMs, 'checking a slide file');
      if (!this.inside(now) || !sameFile(opened, { dev: st.dev, ino: st.ino })) {
        throw new WsiError('SLIDE_OUTSIDE_FOLDER', 'the slide file changed while it was being opened; it is not served');
      }
      return { src, identity: opened };
    } catch (err) {
      await src.close();
      return failed(err);
    }
  }
}
