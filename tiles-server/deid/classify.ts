/**
 * What kind of file is being de-identified, and what each of its images is:
 * formats this module refuses (by extension or magic), the reader's layout
 * (with OME files that name themselves planned on their rewritten XML), and
 * each IFD's role — pyramid level, thumbnail, label or macro, the last two
 * found by name or, for Aperio files without the words (GT450), by
 * structure; anything else refuses the file (DEID-04).
 */
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { WsiError } from '../../src/core/errors.js';
import { planLayout } from '../slides/tiff-layouts.js';
import type { TiffIfd } from '../tiff/structure.js';
import type { TiffFile, TiffImage } from '../tiff/tiff-file.js';
import { rewriteOmeXml } from './ome-rewrite.js';
import { Findings } from './report.js';
import type { DeidRules } from './rules.js';

export type Role = 'level' | 'thumbnail' | 'label' | 'macro';

/** The refusal for a format this module does not rewrite. */
export function unsupported(what: string): WsiError {
  return new WsiError('DEID_UNSUPPORTED_FORMAT', `${what} files cannot be de-identified yet; convert to SVS, pyramidal TIFF or OME-TIFF first`);
}

/** Refuses formats this module does not rewrite, by extension or magic. */
export async function sniff(path: string): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (ext === '.ndpi') throw unsupported('Hamamatsu NDPI');
  if (ext === '.mrxs') throw unsupported('3DHISTECH MIRAX');
  const st = await stat(path);
  // DICOM files and folders are taken before this (dicom-deid.ts)
  if (st.isDirectory()) throw unsupported('Directory-based (MIRAX)');
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(132);
    const { bytesRead } = await fh.read(head, 0, 132, 0);
    const order = head.toString('latin1', 0, 2);
    if (bytesRead < 8 || (order !== 'II' && order !== 'MM')) throw new WsiError('DEID_UNSUPPORTED_FORMAT', 'the file is not a TIFF, SVS or OME-TIFF');
  } finally {
    await fh.close();
  }
}


/** Which role each IFD plays; label/macro found by name, or for Aperio by structure (GT450, DEID-04). */
export function classify(file: TiffFile, layout: ReturnType<typeof planLayout>): Map<TiffIfd, Role> {
  const roles = new Map<TiffIfd, Role>();
  for (const level of layout.levels) for (const p of level.planes) roles.set(p.image.ifd, 'level');
  const others: TiffImage[] = [];
  for (const a of layout.associated) {
    if (a.kind === 'label' || a.kind === 'macro' || a.kind === 'thumbnail') roles.set(a.image.ifd, a.kind);
    else others.push(a.image);
  }
  const chain = file.images.filter((i) => i.ifd.chainIndex >= 0);
  if (layout.vendor === 'aperio' && others.length > 0) {
    // Aperio writers mark the label NewSubfileType 1 and the macro 9; GT450 files carry no words
    const tail = new Set(chain.slice(-2).map((i) => i.ifd));
    const labels = others.filter((i) => i.newSubfileType === 1 && !i.ifd.tiled && tail.has(i.ifd));
    const macros = others.filter((i) => i.newSubfileType === 9 && !i.ifd.tiled && tail.has(i.ifd));
    if (labels.length + macros.length === others.length && labels.length <= 1 && macros.length <= 1 && ![...roles.values()].includes('label')) {
      for (const i of labels) roles.set(i.ifd, 'label');
      for (const i of macros) roles.set(i.ifd, 'macro');
      others.length = 0;
    }
  }
  if (others.length > 0) {
    throw new WsiError(
      'DEID_AMBIGUOUS_ASSOCIATED_IMAGE',
      `${others.map((i) => i.ifd.path).join(', ')}: an image that is neither a pyramid level nor recognisably a label, macro or thumbnail; the file stays quarantined`,
      { images: others.map((i) => i.ifd.path) },
    );
  }
  // IFDs the layout did not use (further Z/T planes, SubIFDs of other channels) are slide pixels
  const base = layout.levels[0]?.planes[0]?.image;
  for (const img of file.images) {
    if (roles.has(img.ifd)) continue;
    if (base && Math.abs(img.ifd.width / img.ifd.height - base.ifd.width / base.ifd.height) < 0.02) roles.set(img.ifd, 'level');
    else {
      throw new WsiError('DEID_AMBIGUOUS_ASSOCIATED_IMAGE', `${img.ifd.path} is not part of the pyramid and not a recognisable label, macro or thumbnail`, { images: [img.ifd.path] });
    }
  }
  return roles;
}

/**
 * The reader's layout. Our OME reader refuses any TiffData UUID with a
 * FileName (it takes it for a multi-file set), while single-file Bio-Formats
 * output names itself there: such a file is planned on its rewritten XML,
 * which has no file names (a set naming several files is still refused).
 */
export function layoutFor(file: TiffFile, rules: DeidRules): ReturnType<typeof planLayout> {
  try {
    return planLayout(file);
  } catch (err) {
    const first = file.images.find((i) => i.ifd.chainIndex === 0);
    if (!(err instanceof WsiError && err.code === 'UNSUPPORTED_FORMAT' && /multi-file OME/.test(err.message)) || !first?.description) throw err;
    const xml = rewriteOmeXml(first.description, 'layout', rules, true, new Findings());
    const images = file.images.map((i) => (i === first ? { ...i, description: xml } : i));
    return planLayout(Object.assign(Object.create(Object.getPrototypeOf(file) as object) as TiffFile, file, { images }));
  }
}

