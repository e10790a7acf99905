/**
 * The TIFF container as a slide format: one file is one slide, whichever
 * vendor convention (tiff-layouts.ts) its images follow.
 */
import { WsiError } from '../../src/core/errors.js';
import { FileByteSource } from '../tiff/byte-source.js';
import type { SlideFormat } from './format.js';
import { TiffSlide } from './tiff-slide.js';

const TIFF_EXTENSIONS = new Set(['.svs', '.tif', '.tiff', '.btf', '.tf8', '.tf2', '.qptiff']);

/** Opens a slide file for reading; a file that cannot be opened is unavailable storage, not a bad slide. */
export async function openSlideFile(path: string): Promise<FileByteSource> {
  try {
    return await FileByteSource.open(path);
  } catch (err) {
    throw new WsiError('STORAGE_UNAVAILABLE', `the slide file cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export const tiffFormat: SlideFormat = {
  name: 'TIFF',
  supports: (file) => Promise.resolve(TIFF_EXTENSIONS.has(file.ext)),
  async open(entry, ctx) {
    const src = await openSlideFile(entry.files[0] as string);
    try {
      return await TiffSlide.open(src, { pool: ctx.pool });
    } catch (err) {
      await src.close();
      throw err;
    }
  },
};
