/**
 * Slides in an S3-compatible bucket (SLIDES_URL=s3://bucket/prefix/), seen
 * by the registry exactly as a slide folder is (slides/slide-storage.ts):
 * the listing is ListObjectsV2 under the prefix, "folders" are the key's
 * path, a file is opened as an S3ByteSource over the shared block cache, and
 * its identity is its ETag, so an object replaced in the bucket is a new
 * file. The listing is incremental where it costs: the first bytes each
 * format looks at are fetched once per object version and remembered across
 * scans, so a rescan of an unchanged bucket sends only the list requests.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ScannedFile, SlideEntry } from '../slides/format.js';
import { extensionOf, groupSlides } from '../slides/scan.js';
import { StorageProbe, type FileIdentity, type SlideStorage, type StorageState } from '../slides/slide-storage.js';
import { BlockCache, objectIdentity, S3ByteSource } from './s3-byte-source.js';
import type { S3Client, S3Object } from './s3-client.js';

const HEAD_BYTES = 512;
/** Keys deeper than this many folders are passed over, as in a slide folder. */
const MAX_DEPTH = 16;

export interface BucketFilesOptions {
  probeEveryMs: number;
  blockSize: number;
  cacheBytes: number;
}

export class BucketFiles implements SlideStorage {
  readonly cache: BlockCache;
  private readonly health: StorageProbe;
  /** First bytes by key and ETag, kept across scans. */
  private heads = new Map<string, Promise<Buffer>>();

  constructor(
    readonly client: S3Client,
    opts: BucketFilesOptions,
  ) {
    this.cache = new BlockCache(opts.blockSize, opts.cacheBytes);
    this.health = new StorageProbe(opts.probeEveryMs, () => client.probe(), () => 'the slide bucket cannot be listed');
  }

  get storage(): StorageState {
    return this.health.storage;
  }

  probe(force = false): Promise<StorageState> {
    return this.health.probe(force);
  }

  ensureAvailable(): Promise<void> {
    return this.health.ensureAvailable();
  }

  private inside(key: string): boolean {
    return key.startsWith(this.client.location.prefix);
  }

  async identity(path: string): Promise<(FileIdentity & { size: number; mtimeMs: number }) | null> {
    if (!this.inside(path)) return null;
    try {
      const o = await this.client.head(path);
      return { ...objectIdentity(o), size: o.size, mtimeMs: Date.parse(o.lastModified) || 0 };
    } catch (err) {
      if (err instanceof WsiError && err.code === 'SLIDE_NOT_FOUND') return null;
      throw err;
    }
  }

  async open(path: string): Promise<{ src: S3ByteSource; identity: FileIdentity }> {
    await this.ensureAvailable();
    if (!this.inside(path)) throw new WsiError('SLIDE_OUTSIDE_FOLDER', 'the slide object is outside the slide prefix and is not served');
    const o = await this.client.head(path);
    const src = new S3ByteSource(this.client, o, this.cache);
    return { src, identity: src.identity };
  }

  async scan(idOf: (name: string) => string): Promise<Map<string, SlideEntry>> {
    const prefix = this.client.location.prefix;
    const byDir = new Map<string, ScannedFile[]>();
    const seen = new Map<string, S3Object>();
    for await (const page of this.client.list()) {
      for (const o of page) {
        const rel = o.key.slice(prefix.length);
        const parts = rel.split('/');
        // folder markers, hidden names and partial uploads are not slides (as in a slide folder)
        if (!rel || rel.endsWith('/') || parts.some((p) => p === '' || p.startsWith('.') || p.includes('.partial-')) || parts.length > MAX_DEPTH + 1) continue;
        seen.set(o.key, o);
        const dir = parts.length > 1 ? parts.slice(0, -1).join('/') : '.';
        const list = byDir.get(dir) ?? [];
        list.push(this.scanned(o, rel));
        byDir.set(dir, list);
      }
    }
    // forget the first bytes of versions no longer listed
    for (const k of this.heads.keys()) {
      const key = k.slice(k.indexOf('\u0000') + 1);
      if (seen.get(key)?.etag !== k.slice(0, k.indexOf('\u0000'))) this.heads.delete(k);
    }
    for (const files of byDir.values()) files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    return groupSlides(byDir, idOf);
  }

  private scanned(o: S3Object, rel: string): ScannedFile {
    const headKey = `${o.etag}\u0000${o.key}`;
    return {
      path: o.key,
      rel,
      ext: extensionOf(rel),
      size: o.size,
      mtimeMs: Date.parse(o.lastModified) || 0,
      head: () => {
        let h = this.heads.get(headKey);
        if (!h) {
          h = o.size === 0 ? Promise.resolve(Buffer.alloc(0)) : this.client.getRange(o.key, 0, Math.min(HEAD_BYTES, o.size), o.etag).catch(() => Buffer.alloc(0));
          this.heads.set(headKey, h);
        }
        return h;
      },
    };
  }
}
