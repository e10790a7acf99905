/**
 * Aperio SVS: the ImageDescription starts with "Aperio"; tiled images of the
 * IFD chain are levels, the second image is the thumbnail, and "label" or
 * "macro" in a description marks the associated images.
 */
import type { TiffFile, TiffImage } from '../../tiff/tiff-file.js';
import { isAperioDescription, parseAperioDescription } from '../aperio-description.js';
import { keywordKind, orderLevels, resolutionMpp, singlePlaneLevel, type Layout, type TiffLayoutRule } from '../tiff-layout.js';

function plan(file: TiffFile): Layout {
  const warnings: string[] = [];
  const chain = file.images.filter((i) => i.ifd.chainIndex >= 0);
  const first = chain[0] as TiffImage;
  const desc = parseAperioDescription(first.description ?? '');
  warnings.push(...desc.warnings);
  const associated: Layout['associated'] = [];
  const levelImages: TiffImage[] = [];
  for (const img of chain) {
    if (img.ifd.tiled && keywordKind(img.description?.split(/\r?\n/).slice(1).join('\n') ?? null) === null) {
      levelImages.push(img);
      continue;
    }
    const tail = img.description?.split(/\r?\n/).slice(1).join('\n') ?? null;
    const kind = keywordKind(tail) ?? (img.ifd.chainIndex === 1 ? 'thumbnail' : 'other');
    associated.push({ kind, image: img });
  }
  const ordered = orderLevels(levelImages, warnings);
  return {
    vendor: 'aperio',
    levels: ordered.map(singlePlaneLevel),
    associated,
    mpp: desc.mpp ?? resolutionMpp(first, warnings),
    objectivePower: desc.appMag,
    channels: null,
    orientation: first.orientation,
    warnings,
  };
}

export const aperioLayout: TiffLayoutRule = {
  vendor: 'aperio',
  supports: (file) => isAperioDescription(firstImage(file)?.description ?? null),
  plan,
};

function firstImage(file: TiffFile): TiffImage | undefined {
  return file.images.find((i) => i.ifd.chainIndex === 0);
}
