/**
 * The TIFF container as a slide format: one file is one slide, whichever
 * vendor convention (tiff-layouts.ts) its images follow.
 */
import type { SlideFormat } from './format.js';
import { TiffSlide } from './tiff-slide.js';

const TIFF_EXTENSIONS = new Set(['.svs', '.tif', '.tiff', '.btf', '.tf8', '.tf2', '.qptiff']);

export const tiffFormat: SlideFormat = {
  name: 'TIFF',
  supports: (file) => Promise.resolve(TIFF_EXTENSIONS.has(file.ext)),
  async open(entry, ctx) {
    const src = await ctx.openFile(entry.files[0] as string);
    try {
      return await TiffSlide.open(src, { pool: ctx.pool });
    } catch (err) {
      await src.close();
      throw err;
    }
  },
};
