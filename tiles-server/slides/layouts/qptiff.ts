/**
 * PerkinElmer/Akoya QPTIFF (Vectra, Polaris, Fusion): every page carries a
 * PerkinElmer-QPI XML description (qptiff-description.ts) saying what it
 * is. The FullResolution pages are one image: one RGB page (brightfield) or
 * one grey page per channel (fluorescence), each channel named and coloured
 * by its XML. ReducedResolution pages form the pyramid, one page per channel
 * per level, in the same order. Thumbnail, Overview and Label pages are
 * associated images. Fluorescence is served as a composite in the channel
 * colours. Pages are usually LZW strips, 8 bits per sample.
 */
import { WsiError } from '../../../src/core/errors.js';
import type { TiffFile, TiffImage } from '../../tiff/tiff-file.js';
import type { AssociatedKind, ChannelInfo } from '../types.js';
import { isQpiDescription, parseQpiDescription, type QpiPage } from '../qptiff-description.js';
import { decodeModeFor, orderLevels, PALETTE, resolutionMpp, sameAspect, singlePlaneLevel, type Layout, type PlannedLevel, type TiffLayoutRule } from '../tiff-layout.js';

const ASSOCIATED: Record<string, AssociatedKind> = { thumbnail: 'thumbnail', overview: 'macro', macro: 'macro', label: 'label' };

interface Page {
  image: TiffImage;
  qpi: QpiPage;
}

function sameGeometry(a: TiffImage, b: TiffImage): boolean {
  return a.ifd.width === b.ifd.width && a.ifd.height === b.ifd.height && a.ifd.blockWidth === b.ifd.blockWidth && a.ifd.blockHeight === b.ifd.blockHeight;
}

function describe(img: TiffImage): string {
  return `${img.ifd.path} (${img.ifd.width}x${img.ifd.height})`;
}

/** Consecutive reduced pages of one size are the channels of one level. */
function groupBySize(pages: Page[]): Page[][] {
  const groups: Page[][] = [];
  for (const p of pages) {
    const last = groups[groups.length - 1];
    const head = last?.[0];
    if (last && head && head.image.ifd.width === p.image.ifd.width && head.image.ifd.height === p.image.ifd.height) last.push(p);
    else groups.push([p]);
  }
  return groups;
}

/**
 * The pages of one reduced level in channel order: by name when every page
 * names a distinct channel of the image, else in file order.
 */
function channelOrder(group: Page[], channels: Page[]): Page[] {
  const names = channels.map((c) => c.qpi.name);
  const groupNames = group.map((g) => g.qpi.name);
  const distinct = (xs: Array<string | null>): boolean => xs.every((x) => x !== null) && new Set(xs).size === xs.length;
  if (distinct(names) && distinct(groupNames) && groupNames.every((n) => names.includes(n))) {
    return names.map((n) => group.find((g) => g.qpi.name === n) as Page);
  }
  return group;
}

function channelInfo(pages: Page[], warnings: string[]): ChannelInfo[] {
  return pages.map(({ image, qpi }, i) => {
    if (qpi.colorText !== null && qpi.color === null) warnings.push(`${image.ifd.path}: channel colour "${qpi.colorText.slice(0, 40)}" is not r,g,b; a default colour is used`);
    const info: ChannelInfo = {
      name: qpi.name ?? `Channel ${i}`,
      color: qpi.color ?? (PALETTE[i % PALETTE.length] as [number, number, number]),
    };
    if (qpi.biomarker !== null) info.biomarker = qpi.biomarker;
    return info;
  });
}

function compositeLevel(planes: TiffImage[]): PlannedLevel {
  const ref = planes[0] as TiffImage;
  const modes = planes.map(decodeModeFor);
  return {
    width: ref.ifd.width,
    height: ref.ifd.height,
    tileWidth: ref.ifd.blockWidth,
    tileHeight: ref.ifd.blockHeight,
    mode: modes[0] as PlannedLevel['mode'],
    planes: planes.map((image) => ({ image, sample: 0 })),
  };
}

function plan(file: TiffFile): Layout {
  const warnings: string[] = [];
  const pages: Page[] = [];
  for (const image of file.images.filter((i) => i.ifd.chainIndex >= 0)) {
    if (!isQpiDescription(image.description)) {
      warnings.push(`${describe(image)} has no QPTIFF description and was ignored`);
      continue;
    }
    pages.push({ image, qpi: parseQpiDescription(image.description as string, image.ifd.path) });
  }
  const ofType = (t: string): Page[] => pages.filter((p) => p.qpi.imageType?.toLowerCase() === t.toLowerCase());
  const full = ofType('FullResolution');
  const reduced = ofType('ReducedResolution');
  const first = full[0];
  if (!first) throw new WsiError('NO_PYRAMID_LEVELS', 'the QPTIFF has no FullResolution page');
  const base = first.image;

  const associated: Layout['associated'] = [];
  for (const p of pages) {
    const type = p.qpi.imageType?.toLowerCase() ?? '';
    if (type === 'fullresolution' || type === 'reducedresolution') continue;
    const kind = ASSOCIATED[type];
    if (!kind) warnings.push(`${describe(p.image)} has ImageType "${(p.qpi.imageType ?? '').slice(0, 40)}", kept as an associated image`);
    associated.push({ kind: kind ?? 'other', image: p.image });
  }

  const rgb = base.ifd.samplesPerPixel >= 3;
  let levels: PlannedLevel[];
  let channels: ChannelInfo[] | null = null;
  if (rgb) {
    // brightfield: one RGB page per level
    if (full.length > 1) throw new WsiError('BAD_PYRAMID', `the QPTIFF has ${full.length} FullResolution pages but the first is RGB; a brightfield image has one`);
    const levelImages = [base];
    for (const group of groupBySize(reduced)) {
      const img = (group[0] as Page).image;
      if (group.length > 1) warnings.push(`${group.length} ReducedResolution pages of ${img.ifd.width}x${img.ifd.height} in an RGB QPTIFF; only the first was used`);
      if (sameAspect(base, img)) levelImages.push(img);
      else warnings.push(`${describe(img)} does not have the image's aspect ratio and was ignored`);
    }
    levels = orderLevels(levelImages, warnings).map(singlePlaneLevel);
  } else {
    // fluorescence: one grey page per channel, at every level
    for (const p of full) {
      if (p.image.ifd.samplesPerPixel !== 1) throw new WsiError('BAD_PYRAMID', `${describe(p.image)} has ${p.image.ifd.samplesPerPixel} samples per pixel; QPTIFF channel pages have one`);
      if (!sameGeometry(base, p.image)) {
        throw new WsiError('BAD_PYRAMID', `the channel pages differ in size or layout: ${describe(p.image)} vs ${describe(base)} (${base.ifd.blockWidth}x${base.ifd.blockHeight} blocks vs ${p.image.ifd.blockWidth}x${p.image.ifd.blockHeight})`);
      }
    }
    channels = channelInfo(full, warnings);
    const candidates: PlannedLevel[] = [compositeLevel(full.map((p) => p.image))];
    for (const group of groupBySize(reduced)) {
      const ref = (group[0] as Page).image;
      const size = `${ref.ifd.width}x${ref.ifd.height}`;
      if (group.length !== full.length) {
        warnings.push(`reduced level ${size} has ${group.length} of ${full.length} channel pages (a channel is missing) and was ignored`);
        continue;
      }
      const ordered = channelOrder(group, full);
      if (!ordered.every((p) => sameGeometry(ref, p.image) && p.image.ifd.samplesPerPixel === 1)) {
        warnings.push(`the channel pages of reduced level ${size} differ in layout; the level was ignored`);
        continue;
      }
      if (!sameAspect(base, ref)) {
        warnings.push(`reduced level ${size} does not have the image's aspect ratio and was ignored`);
        continue;
      }
      candidates.push(compositeLevel(ordered.map((p) => p.image)));
    }
    levels = orderPlannedLevels(candidates, warnings);
  }
  const mpp = resolutionMpp(base, warnings) ?? first.qpi.pixelSizeMicrons;
  return {
    vendor: 'qptiff',
    levels,
    associated,
    mpp,
    objectivePower: first.qpi.objective,
    channels,
    orientation: base.orientation,
    warnings,
  };
}

/** Composite levels largest first, each one a level 0 could be reduced to; duplicates dropped. */
function orderPlannedLevels(levels: PlannedLevel[], warnings: string[]): PlannedLevel[] {
  const images = levels.map((l) => (l.planes[0] as PlannedLevel['planes'][number]).image);
  const kept = orderLevels(images, warnings);
  return kept.map((img) => levels[images.indexOf(img)] as PlannedLevel);
}

export const qptiffLayout: TiffLayoutRule = {
  vendor: 'qptiff',
  supports: (file) => {
    const first = file.images.find((i) => i.ifd.chainIndex === 0);
    return isQpiDescription(first?.description ?? null) || (first?.software ?? '').startsWith('PerkinElmer-QPI');
  },
  plan,
};
