/**
 * The slide folder as the server sees it: each slide gets an opaque stable
 * id (a keyed hash of its name, so file names never reach URLs), slides are
 * opened on demand through their format, a bounded set is kept open, and a
 * slide whose files changed on disk (another size or time, or a path that
 * now names another file) is reopened. While the folder itself is gone,
 * every slide answers STORAGE_UNAVAILABLE at once and the list is kept.
 */
import { createHmac } from 'node:crypto';
import { WsiError, type Problem } from '../../src/core/errors.js';
import type { DecodePool } from '../decode/pool.js';
import { TileReader, type DecodedCache } from '../render/tile-reader.js';
import type { ByteSource } from '../tiff/byte-source.js';
import type { SyncReads } from '../tiff/sync-reads.js';
import type { SlideEntry } from './format.js';
import { formatNamed } from './formats.js';
import { combinedStat } from './scan.js';
import { SlideFiles } from './slide-files.js';
import { sameFile, type FileIdentity, type SlideStorage, type StorageState } from './slide-storage.js';
import type { SlideMeta } from './types.js';

/** An unknown slide id rescans the folder at most this often. */
const UNKNOWN_ID_RESCAN_MS = 250;
export type { SlideEntry } from './format.js';

export interface OpenSlide {
  entry: SlideEntry;
  version: string;
  reader: TileReader;
  meta: SlideMeta;
  /** Failure of the open-time probe (decoding one tile), if any. */
  probeError: Problem | null;
}

interface CacheSlot {
  version: string;
  checkedAt: number;
  result: Promise<OpenSlide>;
  /** The files the format opened, and which file each path named then. */
  opened: Map<string, FileIdentity>;
}

export interface RegistryOptions {
  slidesDir: string;
  /** Where the slides are, when not the local folder `slidesDir` (an S3 bucket: storage/bucket-files.ts). */
  storage?: SlideStorage;
  secret: string;
  pool: DecodePool;
  decodedCache: DecodedCache;
  maxOpen: number;
  /** How long a stat result is trusted before the files are checked again. */
  recheckMs: number;
  /** How long a storage operation may take before the storage counts as stalled. */
  storageDeadlineMs: number;
  /** Small reads of slide files made synchronously (tiff/sync-reads.ts); null: every read through the thread pool. */
  syncReads?: SyncReads | null;
}

export function versionOf(entry: Pick<SlideEntry, 'size' | 'mtimeMs'>): string {
  return `${entry.size.toString(36)}-${Math.trunc(entry.mtimeMs).toString(36)}`;
}

export class SlideRegistry {
  private entries = new Map<string, SlideEntry>();
  private scannedAt = 0;
  private scanning: Promise<void> | null = null;
  private readonly open = new Map<string, CacheSlot>();
  readonly files: SlideStorage;

  private readonly watch: NodeJS.Timeout;

  constructor(private readonly opts: RegistryOptions) {
    this.files = opts.storage ?? new SlideFiles(opts.slidesDir, { deadlineMs: opts.storageDeadlineMs, probeEveryMs: opts.recheckMs, syncReads: opts.syncReads ?? null });
    // the storage state in /api/health stays current without requests
    this.watch = setInterval(() => void this.files.probe(true), opts.recheckMs);
    this.watch.unref();
  }

  get storage(): StorageState {
    return this.files.storage;
  }

  slideId(relPath: string): string {
    return createHmac('sha256', this.opts.secret).update(relPath).digest('hex').slice(0, 24);
  }

  /** Rescans the folder if the last scan is older than `maxAgeMs`. */
  async scan(maxAgeMs = 2000): Promise<void> {
    if (Date.now() - this.scannedAt < maxAgeMs) return;
    this.scanning ??= this.doScan().finally(() => {
      this.scanning = null;
    });
    await this.scanning;
  }

  private async doScan(): Promise<void> {
    // a folder that is gone is not an empty folder: keep the list, and say storage is unavailable
    if (!(await this.files.probe(true)).ok) {
      this.scannedAt = Date.now();
      return;
    }
    const found = await this.files.scan((rel) => this.slideId(rel));
    for (const [id, slot] of this.open) {
      if (!found.has(id)) {
        this.open.delete(id);
        void slot.result.then((s) => s.reader.slide.close(), () => undefined);
      }
    }
    this.entries = found;
    this.scannedAt = Date.now();
  }

  /**
   * The entry of a slide id. A known id needs no rescan (a write or a tile
   * never waits for the folder to be listed again; a file that changed or
   * went is noticed when it is opened, see get); an unknown one rescans the
   * folder, at most every UNKNOWN_ID_RESCAN_MS, so a slide just copied in is
   * found while a stream of made-up ids cannot keep the folder busy.
   */
  async entryOf(id: string): Promise<SlideEntry | undefined> {
    const known = this.entries.get(id);
    if (known) return known;
    await this.scan(UNKNOWN_ID_RESCAN_MS);
    return this.entries.get(id);
  }

  list(): SlideEntry[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  entry(id: string): SlideEntry | undefined {
    return this.entries.get(id);
  }

  /** Current size and time of a slide's files, or null when one is gone or names another file than was opened. */
  private async current(entry: SlideEntry, opened: Map<string, FileIdentity>): Promise<{ size: number; mtimeMs: number } | null> {
    const ids = await Promise.all(entry.files.map((f) => this.files.identity(f)));
    const stats: Array<{ size: number; mtimeMs: number }> = [];
    for (const [i, id] of ids.entries()) {
      if (!id) return null;
      const was = opened.get(entry.files[i] as string);
      if (was && !sameFile(was, id)) return null;
      stats.push(id);
    }
    return combinedStat(stats);
  }

  /** Opens (or returns the open) slide, reopening it if its files changed. */
  async get(id: string): Promise<OpenSlide> {
    let entry = await this.entryOf(id);
    if (!entry) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${id}`);
    await this.files.ensureAvailable();
    const now = Date.now();
    let slot = this.open.get(id);
    if (slot && now - slot.checkedAt > this.opts.recheckMs) {
      slot.checkedAt = now;
      const st = await this.current(entry, slot.opened);
      if (!st) {
        this.forget(id);
        throw new WsiError('STORAGE_UNAVAILABLE', 'the slide file is no longer readable or was replaced by another file');
      }
      if (st.size !== entry.size || st.mtimeMs !== entry.mtimeMs) {
        entry = { ...entry, size: st.size, mtimeMs: st.mtimeMs };
        this.entries.set(id, entry);
        this.forget(id);
        slot = undefined;
      }
    }
    if (!slot) {
      const opened = new Map<string, FileIdentity>();
      const result = this.openEntry(entry, opened);
      // a file that now resolves outside the folder is no longer this slide: drop it from the list, so
      // its id is unknown (404) and the next lookup rescans the folder (a link re-pointed inside is found again)
      result.catch((err: unknown) => {
        if (err instanceof WsiError && err.code === 'SLIDE_OUTSIDE_FOLDER' && this.open.get(id)?.result === result) {
          this.open.delete(id);
          this.entries.delete(id);
        }
      });
      slot = { version: versionOf(entry), checkedAt: now, result, opened };
      this.open.set(id, slot);
      this.evict();
    } else {
      // LRU order: most recently used last
      this.open.delete(id);
      this.open.set(id, slot);
    }
    return slot.result;
  }

  /** Drops an open slide (after its file changed or failed under us). */
  forget(id: string): void {
    const slot = this.open.get(id);
    if (!slot) return;
    this.open.delete(id);
    void slot.result.then((s) => s.reader.slide.close(), () => undefined);
  }

  private evict(): void {
    while (this.open.size > this.opts.maxOpen) {
      const oldest = this.open.keys().next().value as string;
      this.forget(oldest);
    }
  }

  private async openEntry(entry: SlideEntry, opened: Map<string, FileIdentity>): Promise<OpenSlide> {
    const format = formatNamed(entry.format);
    if (!format) throw new WsiError('UNSUPPORTED_FORMAT', `no reader for ${entry.format} slides`);
    const openFile = async (path: string): Promise<ByteSource> => {
      if (!entry.files.includes(path)) throw new WsiError('SLIDE_OUTSIDE_FOLDER', 'a slide format asked for a file that is not part of the slide');
      const { src, identity } = await this.files.open(path);
      opened.set(path, identity);
      return src;
    };
    const slide = await format.open(entry, { pool: this.opts.pool, openFile });
    const version = versionOf(entry);
    const reader = new TileReader(slide, `${entry.id}@${version}`, this.opts.decodedCache);
    let probeError: Problem | null = null;
    const top = slide.meta.levels.length - 1;
    try {
      await reader.read(top, 0, 0);
    } catch (err) {
      probeError = err instanceof WsiError ? err.toProblem() : { code: 'TILE_DECODE_ERROR', message: (err as Error).message };
    }
    return { entry, version, reader, meta: slide.meta, probeError };
  }

  async close(): Promise<void> {
    clearInterval(this.watch);
    for (const id of [...this.open.keys()]) this.forget(id);
  }
}
