/**
 * The contract a slide format fulfils to be served: how it recognises its
 * files in the slide folder, how it groups them into slides, and how it
 * opens one as a SlideSource. Formats are listed once, in formats.ts; the
 * scanner, the registry, the caches, the renderer and the routes only ever
 * see this interface.
 */
import type { DecodePool } from '../decode/pool.js';
import type { ByteSource } from '../tiff/byte-source.js';
import type { SlideSource } from './types.js';

/** A file found in the slide folder, before any format has looked inside. */
export interface ScannedFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the slide folder, with forward slashes. */
  rel: string;
  /** Lower-case extension with its dot ('.ome.tif' counts as '.tif'), or ''. */
  ext: string;
  size: number;
  mtimeMs: number;
  /** The file's first bytes (read once, on demand). */
  head(): Promise<Buffer>;
}

/** One slide as a format groups it: a single file, or several (a DICOM series). */
export interface SlideGroup {
  /** Shown in GET /api/slides and keyed into the slide id: unique in the folder. */
  name: string;
  files: ScannedFile[];
}

export interface SlideEntry {
  id: string;
  /** Path-like name relative to the slide folder, with forward slashes. */
  name: string;
  /** The format that grouped it (SlideFormat.name). */
  format: string;
  /** Absolute paths of every file of the slide; the first is its main file. */
  files: string[];
  /** Bytes of all files together. */
  size: number;
  /** Latest modification time of any file. */
  mtimeMs: number;
}

export interface OpenContext {
  pool: DecodePool;
  /**
   * Opens one of the slide's files for reading. Formats open files only
   * through this: it refuses paths that resolve outside the slide folder
   * and lets the registry notice when a path comes to name another file.
   */
  openFile(path: string): Promise<ByteSource>;
}

export interface SlideFormat {
  /** Human name, also recorded on each entry ("TIFF", "DICOM WSI", "Hamamatsu NDPI"). */
  readonly name: string;
  /** Whether the format takes this file. Checked in registration order; the first format that takes a file owns it. */
  supports(file: ScannedFile): Promise<boolean>;
  /** Groups the files of one folder this format took into slides; by default each file is a slide. */
  group?(files: ScannedFile[]): Promise<SlideGroup[]>;
  /** Opens a slide; errors are WsiErrors with specific codes. */
  open(entry: SlideEntry, ctx: OpenContext): Promise<SlideSource>;
}
