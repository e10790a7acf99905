/**
 * Finds the slides in the slide folder: walks it (recursively, following
 * links only to files inside it), offers each file to the registered formats
 * in order, and lets each format group the files it took into slides.
 */
import { open, lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ScannedFile, SlideEntry, SlideFormat } from './format.js';
import { SLIDE_FORMATS } from './formats.js';

const HEAD_BYTES = 512;
const MAX_DEPTH = 16;

export function extensionOf(name: string): string {
  const lower = name.toLowerCase();
  if (lower.endsWith('.ome.tif') || lower.endsWith('.ome.tiff')) return '.tif';
  const slash = lower.lastIndexOf('/');
  const dot = lower.lastIndexOf('.');
  return dot <= slash + 1 ? '' : lower.slice(dot);
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function scannedFile(path: string, rel: string, size: number, mtimeMs: number): ScannedFile {
  let head: Promise<Buffer> | null = null;
  return {
    path,
    rel,
    ext: extensionOf(rel),
    size,
    mtimeMs,
    head: () => (head ??= readHead(path).catch(() => Buffer.alloc(0))),
  };
}

/** Files of the slide folder, by the folder they are in (relative, '.' for the root). */
async function walk(root: string): Promise<Map<string, ScannedFile[]>> {
  const byDir = new Map<string, ScannedFile[]>();
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch {
    return byDir;
  }
  const visit = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
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
        await visit(full, depth + 1);
        continue;
      }
      if (!st.isFile()) continue;
      const relDir = relative(root, dir).split(sep).join('/') || '.';
      const rel = relative(root, full).split(sep).join('/');
      const list = byDir.get(relDir) ?? [];
      list.push(scannedFile(full, rel, st.size, st.mtimeMs));
      byDir.set(relDir, list);
    }
  };
  await visit(root, 0);
  return byDir;
}

/** Size and modification time of a slide made of several files. */
export function combinedStat(files: Array<{ size: number; mtimeMs: number }>): { size: number; mtimeMs: number } {
  return { size: files.reduce((s, f) => s + f.size, 0), mtimeMs: Math.max(0, ...files.map((f) => f.mtimeMs)) };
}

/**
 * Finds the slides under `root`. Each file belongs to the first format that
 * supports it; each format groups its files folder by folder.
 */
export async function scanSlideFolder(
  root: string,
  idOf: (name: string) => string,
  formats: readonly SlideFormat[] = SLIDE_FORMATS,
): Promise<Map<string, SlideEntry>> {
  return groupSlides(await walk(root), idOf, formats);
}

/**
 * Slides from files listed folder by folder (a local walk or a bucket
 * listing): each file goes to the first format that supports it, and each
 * format groups the files it took in a folder into slides.
 */
export async function groupSlides(
  byDir: Map<string, ScannedFile[]>,
  idOf: (name: string) => string,
  formats: readonly SlideFormat[] = SLIDE_FORMATS,
): Promise<Map<string, SlideEntry>> {
  const found = new Map<string, SlideEntry>();
  for (const files of byDir.values()) {
    const taken = new Map<SlideFormat, ScannedFile[]>();
    for (const file of files) {
      for (const format of formats) {
        if (await format.supports(file)) {
          const list = taken.get(format);
          if (list) list.push(file);
          else taken.set(format, [file]);
          break;
        }
      }
    }
    for (const [format, mine] of taken) {
      const groups = format.group ? await format.group(mine) : mine.map((f) => ({ name: f.rel, files: [f] }));
      for (const g of groups) {
        if (g.files.length === 0) continue;
        const id = idOf(g.name);
        found.set(id, { id, name: g.name, format: format.name, files: g.files.map((f) => f.path), ...combinedStat(g.files) });
      }
    }
  }
  return found;
}
