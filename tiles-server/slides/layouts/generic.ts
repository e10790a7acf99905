/**
 * Generic pyramidal TIFF: the largest image is level 0, same-aspect images
 * (in the IFD chain or as SubIFDs of the first) are its reductions, and the
 * rest are associated images. Takes any TIFF the other layouts do not.
 */
import { WsiError } from '../../../src/core/errors.js';
import type { TiffFile, TiffImage } from '../../tiff/tiff-file.js';
import { keywordKind, orderLevels, resolutionMpp, sameAspect, singlePlaneLevel, type Layout, type TiffLayoutRule } from '../tiff-layout.js';

function plan(file: TiffFile): Layout {
  const warnings: string[] = [];
  const chain = file.images.filter((i) => i.ifd.chainIndex >= 0);
  const candidates = [...chain];
  // pyramids written as SubIFDs of the first image (libvips subifd, QPTIFF-like)
  const firstSubs = (chain[0]?.ifd.subIfds ?? []).map((s) => file.images.find((i) => i.ifd === s)).filter((i): i is TiffImage => !!i);
  candidates.push(...firstSubs);
  const associated: Layout['associated'] = [];
  const rest: TiffImage[] = [];
  for (const img of candidates) {
    const kind = keywordKind(img.description);
    if (kind) associated.push({ kind, image: img });
    else rest.push(img);
  }
  if (rest.length === 0) throw new WsiError('NO_PYRAMID_LEVELS', 'the file holds only label/macro/thumbnail images');
  const base = rest.reduce((a, b) => (b.ifd.width * b.ifd.height > a.ifd.width * a.ifd.height ? b : a));
  const levelImages: TiffImage[] = [];
  for (const img of rest) {
    if (img === base) levelImages.push(img);
    else if (!sameAspect(base, img)) associated.push({ kind: 'other', image: img });
    else if (base.ifd.tiled && !img.ifd.tiled) associated.push({ kind: 'thumbnail', image: img });
    else levelImages.push(img);
  }
  const ordered = orderLevels(levelImages, warnings);
  return {
    vendor: 'generic-tiff',
    levels: ordered.map(singlePlaneLevel),
    associated,
    mpp: resolutionMpp(base, warnings),
    objectivePower: null,
    channels: null,
    orientation: base.orientation,
    warnings,
  };
}

export const genericLayout: TiffLayoutRule = {
  vendor: 'generic-tiff',
  supports: () => true,
  plan,
};
