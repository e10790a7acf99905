/**
 * Where the slide files live, as the registry sees it: a local folder
 * (slide-files.ts, SLIDES_DIR) or an S3-compatible bucket
 * (storage/bucket-files.ts, SLIDES_URL). Both list the slides, open a file
 * as a ByteSource, tell which version of a file a path names now, and say
 * whether the storage is reachable — the registry needs nothing else.
 */
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
