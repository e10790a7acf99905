/**
 * OME-TIFF: the OME-XML in the first ImageDescription says which IFDs hold
 * the channels of the main image; SubIFDs are its pyramid. RGB and single
 * channels are served as they are, several channels as a colour composite.
 */
import { WsiError } from '../../../src/core/errors.js';
import type { TiffFile, TiffImage } from '../../tiff/tiff-file.js';
import type { AssociatedKind, ChannelInfo } from '../types.js';
import { parseOmeXml } from '../ome-xml.js';
import { Photometric } from '../../tiff/tags.js';
import { decodeModeFor, keywordKind, orderLevels, PALETTE, resolutionMpp, singlePlaneLevel, type DecodeMode, type Layout, type PlannedLevel, type TiffLayoutRule } from '../tiff-layout.js';

function omeDescription(file: TiffFile): string | null {
  const d = file.images.find((i) => i.ifd.chainIndex === 0)?.description;
  return d && /<OME[\s>]/.test(d) ? d : null;
}

function plan(file: TiffFile): Layout {
  const xml = omeDescription(file) ?? '';
  const warnings: string[] = [];
  const images = parseOmeXml(xml);
  const chain = file.images.filter((i) => i.ifd.chainIndex >= 0);
  const isAssociatedName = (n: string): AssociatedKind | null => keywordKind(n) ?? (/macro|overview/i.test(n) ? 'macro' : /label/i.test(n) ? 'label' : null);
  const main = images
    .filter((im) => isAssociatedName(im.name) === null)
    .reduce<(typeof images)[number] | null>((a, b) => (!a || b.sizeX * b.sizeY > a.sizeX * a.sizeY ? b : a), null);
  if (!main) throw new WsiError('OME_XML_INVALID', 'OME-XML describes no image');
  const channelCount = Math.max(1, main.sizeC);
  const planeImages: TiffImage[] = [];
  for (let c = 0; c < channelCount; c++) {
    const ifdIndex = main.channelIfds[c] ?? c;
    const img = chain[ifdIndex];
    if (!img) throw new WsiError('OME_XML_INVALID', `OME-XML puts channel ${c} in IFD ${ifdIndex}, which the file does not have`);
    if (img.ifd.width !== main.sizeX || img.ifd.height !== main.sizeY) {
      throw new WsiError('OME_XML_INVALID', `IFD ${ifdIndex} is ${img.ifd.width}x${img.ifd.height}, OME-XML says ${main.sizeX}x${main.sizeY}`);
    }
    planeImages.push(img);
  }
  const first = planeImages[0] as TiffImage;
  const subImages = (img: TiffImage): TiffImage[] =>
    img.ifd.subIfds.map((s) => file.images.find((i) => i.ifd === s)).filter((i): i is TiffImage => !!i);
  const rgb = first.ifd.samplesPerPixel >= 3 || (channelCount === 1 && first.photometric === Photometric.RGB);

  let levels: PlannedLevel[];
  let channels: ChannelInfo[] | null = null;
  if (rgb || channelCount === 1) {
    const ordered = orderLevels([first, ...subImages(first)], warnings);
    levels = ordered.map(singlePlaneLevel);
  } else {
    const perChannel = planeImages.map((img) => [img, ...subImages(img)]);
    const depth = Math.min(...perChannel.map((l) => l.length));
    if (perChannel.some((l) => l.length !== depth)) warnings.push('channels have different pyramid depths; extra levels ignored');
    levels = [];
    for (let k = 0; k < depth; k++) {
      const imgs = perChannel.map((l) => l[k] as TiffImage);
      const ref = imgs[0] as TiffImage;
      if (imgs.some((i) => i.ifd.width !== ref.ifd.width || i.ifd.height !== ref.ifd.height || i.ifd.blockWidth !== ref.ifd.blockWidth || i.ifd.blockHeight !== ref.ifd.blockHeight)) {
        throw new WsiError('BAD_PYRAMID', `channels of pyramid level ${k} differ in size or tiling`);
      }
      const modes = imgs.map(decodeModeFor);
      levels.push({
        width: ref.ifd.width,
        height: ref.ifd.height,
        tileWidth: ref.ifd.blockWidth,
        tileHeight: ref.ifd.blockHeight,
        mode: modes[0] as DecodeMode,
        planes: imgs.map((image) => ({ image, sample: 0 })),
      });
    }
    for (let k = 1; k < levels.length; k++) {
      const a = levels[k - 1] as PlannedLevel;
      const b = levels[k] as PlannedLevel;
      if (b.width > a.width || b.height > a.height) throw new WsiError('BAD_PYRAMID', `pyramid level ${k} is larger than level ${k - 1}`);
    }
    channels = main.channels.slice(0, channelCount).map((ch, i) => ({
      name: ch.name,
      color: ch.color ?? (channelCount === 1 ? [255, 255, 255] : (PALETTE[i % PALETTE.length] as [number, number, number])),
    }));
    while (channels.length < channelCount) channels.push({ name: `Channel ${channels.length}`, color: PALETTE[channels.length % PALETTE.length] as [number, number, number] });
  }
  const associated: Layout['associated'] = [];
  for (const im of images) {
    const kind = isAssociatedName(im.name);
    const idx = im.channelIfds[0];
    if (!kind || idx === null || idx === undefined) continue;
    const img = chain[idx];
    if (img) associated.push({ kind, image: img });
  }
  return {
    vendor: 'ome-tiff',
    levels,
    associated,
    mpp: main.physicalSizeX !== null && main.physicalSizeX <= 50 ? main.physicalSizeX : resolutionMpp(first, warnings),
    objectivePower: main.nominalMagnification,
    channels,
    orientation: 1,
    warnings,
  };
}

export const omeLayout: TiffLayoutRule = {
  vendor: 'ome-tiff',
  supports: (file) => omeDescription(file) !== null,
  plan,
};
