/**
 * The slide folder: finds slide-like files, gives each an opaque stable id
 * (a keyed hash of its relative path, so file names never reach URLs), opens
 * slides on demand, keeps a bounded set open and reopens a slide whose file
 * changed on disk.
 */
import { createHmac } from 'node:crypto';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { WsiError, type Problem } from '../../src/core/errors.js';
import type { DecodePool } from '../decode/pool.js';
import { TileReader, type DecodedCache } from '../render/tile-reader.js';
import { FileByteSource } from '../tiff/byte-source.js';
import { TiffSlide } from './tiff-slide.js';
import type { SlideMeta } from './types.js';

const TIFF_EXTENSIONS = ['.svs', '.tif', '.tiff', '.btf', '.tf8', '.tf2', '.qptiff'];
const UNSUPPORTED_EXTENSIONS: Record<string, string> = {
  '.ndpi': 'Hamamatsu NDPI',
  '.vms': 'Hamamatsu VMS',
  '.vmu': 'Hamamatsu VMU',
  '.mrxs': '3DHISTECH MIRAX',
  '.scn': 'Leica SCN',
  '.bif': 'Ventana BIF',
  '.czi': 'Zeiss CZI',
  '.isyntax': 'Philips iSyntax',
  '.dcm': 'DICOM WSI',
};

export interface SlideEntry {
  id: string;
  /** Path relative to the slide folder, with forward slashes. */
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
  /** Reason the format cannot be read at all, known from the name alone. */
  unsupported: string | null;
}

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
}

export interface RegistryOptions {
  slidesDir: string;
  secret: string;
  pool: DecodePool;
  decodedCache: DecodedCache;
  maxOpen: number;
  /** How long a stat result is trusted before the file is checked again. */
  recheckMs: number;
}

function extensionOf(name: string): string {
  const lower = name.toLowerCase();
  if (lower.endsWith('.ome.tif') || lower.endsWith('.ome.tiff')) return '.tif';
  const dot = lower.lastIndexOf('.');
  return dot < 0 ? '' : lower.slice(dot);
}

export function versionOf(entry: Pick<SlideEntry, 'size' | 'mtimeMs'>): string {
  return `${entry.size.toString(36)}-${Math.trunc(entry.mtimeMs).toString(36)}`;
}

/**
 * Finds slide-like files under `root` (recursively, not following links out
 * of it). A folder of DICOM files counts as one slide.
 */
export async function scanSlideFolder(root: string, idOf: (relPath: string) => string): Promise<Map<string, SlideEntry>> {
  const found = new Map<string, SlideEntry>();
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch {
    return found;
  }
  const dicomDirs = new Map<string, { size: number; mtimeMs: number }>();
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 16) return;
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.') || name.includes('.partial-')) continue;
      const full = join(dir, name);
      let st = await lstat(full).catch(() => null);
      if (!st) continue;
      if (st.isSymbolicLink()) {
        // follow links only to files inside the slide folder
        const target = await realpath(full).catch(() => null);
        if (!target || !(target === rootReal || target.startsWith(rootReal + sep))) continue;
        st = await stat(full).catch(() => null);
        if (!st || !st.isFile()) continue;
      }
      if (st.isDirectory()) {
        await walk(full, depth + 1);
        continue;
      }
      if (!st.isFile()) continue;
      const ext = extensionOf(name);
      const rel = relative(root, full).split(sep).join('/');
      if (ext === '.dcm') {
        const relDir = relative(root, dir).split(sep).join('/');
        const d = dicomDirs.get(relDir) ?? { size: 0, mtimeMs: 0 };
        d.size += st.size;
        d.mtimeMs = Math.max(d.mtimeMs, st.mtimeMs);
        dicomDirs.set(relDir, d);
        continue;
      }
      const unsupported = UNSUPPORTED_EXTENSIONS[ext];
      if (!TIFF_EXTENSIONS.includes(ext) && !unsupported) continue;
      const id = idOf(rel);
      found.set(id, { id, name: rel, path: full, size: st.size, mtimeMs: st.mtimeMs, unsupported: unsupported ?? null });
    }
  };
  await walk(root, 0);
  for (const [relDir, d] of dicomDirs) {
    const name = `${relDir || '.'}/`;
    const id = idOf(name);
    found.set(id, { id, name, path: join(root, relDir), size: d.size, mtimeMs: d.mtimeMs, unsupported: 'DICOM WSI' });
  }
  return found;
}

export class SlideRegistry {
  private entries = new Map<string, SlideEntry>();
  private scannedAt = 0;
  private scanning: Promise<void> | null = null;
  private readonly open = new Map<string, CacheSlot>();

  constructor(private readonly opts: RegistryOptions) {}

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
    const found = await scanSlideFolder(this.opts.slidesDir, (rel) => this.slideId(rel));
    for (const [id, slot] of this.open) {
      if (!found.has(id)) {
        this.open.delete(id);
        void slot.result.then((s) => s.reader.slide.close(), () => undefined);
      }
    }
    this.entries = found;
    this.scannedAt = Date.now();
  }

  list(): SlideEntry[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  entry(id: string): SlideEntry | undefined {
    return this.entries.get(id);
  }

  /** Opens (or returns the open) slide, reopening it if the file changed. */
  async get(id: string): Promise<OpenSlide> {
    let entry = this.entries.get(id);
    if (!entry) {
      await this.scan(0);
      entry = this.entries.get(id);
      if (!entry) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${id}`);
    }
    const now = Date.now();
    let slot = this.open.get(id);
    if (slot && now - slot.checkedAt > this.opts.recheckMs) {
      slot.checkedAt = now;
      const st = await stat(entry.path).catch(() => null);
      if (!st) {
        this.forget(id);
        throw new WsiError('STORAGE_UNAVAILABLE', 'the slide file is no longer readable');
      }
      if (st.size !== entry.size || st.mtimeMs !== entry.mtimeMs) {
        entry = { ...entry, size: st.size, mtimeMs: st.mtimeMs };
        this.entries.set(id, entry);
        this.forget(id);
        slot = undefined;
      }
    }
    if (!slot) {
      slot = { version: versionOf(entry), checkedAt: now, result: this.openEntry(entry) };
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

  private async openEntry(entry: SlideEntry): Promise<OpenSlide> {
    if (entry.unsupported) {
      throw new WsiError('UNSUPPORTED_FORMAT', `${entry.unsupported} slides are not supported yet; convert to pyramidal TIFF or OME-TIFF`);
    }
    let src: FileByteSource;
    try {
      src = await FileByteSource.open(entry.path);
    } catch (err) {
      throw new WsiError('STORAGE_UNAVAILABLE', `the slide file cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let slide: TiffSlide;
    try {
      slide = await TiffSlide.open(src, { pool: this.opts.pool });
    } catch (err) {
      await src.close();
      throw err;
    }
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
    for (const id of [...this.open.keys()]) this.forget(id);
  }
}
