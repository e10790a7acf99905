/**
 * Where the slide files live, as the registry sees it: a local folder
 * (slide-files.ts, SLIDES_DIR) or an S3-compatible bucket
 * (storage/bucket-files.ts, SLIDES_URL). Both list the slides, open a file
 * as a ByteSource, tell which version of a file a path names now, and say
 * whether the storage is reachable — the registry needs nothing else.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ByteSource } from '../tiff/byte-source.js';
import type { SlideEntry } from './format.js';

/** Which file (or object version) a path names: device and inode, or for an object a hash of key and ETag. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export interface StorageState {
  ok: boolean;
  /** Why the storage is unavailable (no paths or keys: this reaches /api/health). */
  reason: string | null;
  since: string | null;
}

export interface SlideStorage {
  readonly storage: StorageState;
  /** Checks the storage (rate-limited unless forced). */
  probe(force?: boolean): Promise<StorageState>;
  /** Throws STORAGE_UNAVAILABLE at once while the storage is known to be down. */
  ensureAvailable(): Promise<void>;
  /** Which file a path names now, with its size and time, or null when it is gone. */
  identity(path: string): Promise<(FileIdentity & { size: number; mtimeMs: number }) | null>;
  /** Opens a slide file for reading. */
  open(path: string): Promise<{ src: ByteSource; identity: FileIdentity }>;
  /** Every slide in the storage, by id. */
  scan(idOf: (name: string) => string): Promise<Map<string, SlideEntry>>;
}

export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Whether a storage answers, kept current by probes: at most one probe at a
 * time and one every `everyMs` unless forced; a change of state is said once
 * on stdout (never with a path or key). `check` throws when the storage is
 * down; a WsiError's message is the reason, anything else gets `fallback`.
 */
export class StorageProbe {
  private state: StorageState = { ok: true, reason: null, since: null };
  private probing: Promise<void> | null = null;
  private probedAt = 0;

  constructor(
    private readonly everyMs: number,
    private readonly check: () => Promise<void>,
    private readonly fallback: (err: unknown) => string,
  ) {}

  get storage(): StorageState {
    return { ...this.state };
  }

  private mark(ok: boolean, reason: string | null): void {
    if (ok === this.state.ok) return;
    this.state = { ok, reason, since: new Date().toISOString() };
    process.stdout.write(ok ? 'slide storage is available again\n' : `slide storage is unavailable: ${reason ?? 'unknown'}\n`);
  }

  async probe(force = false): Promise<StorageState> {
    if (force || Date.now() - this.probedAt >= this.everyMs) {
      this.probing ??= (async () => {
        try {
          await this.check();
          this.mark(true, null);
        } catch (err) {
          this.mark(false, err instanceof WsiError ? err.message : this.fallback(err));
        } finally {
          this.probedAt = Date.now();
          this.probing = null;
        }
      })();
      await this.probing;
    }
    return this.storage;
  }

  /** Throws STORAGE_UNAVAILABLE at once while the storage is known to be down. */
  async ensureAvailable(): Promise<void> {
    const s = await this.probe();
    if (!s.ok) throw new WsiError('STORAGE_UNAVAILABLE', `slide storage is unavailable: ${s.reason ?? 'unknown'}`);
  }
}
