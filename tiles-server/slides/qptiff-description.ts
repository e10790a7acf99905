/**
 * The PerkinElmer/Akoya QPTIFF page description (Vectra, Polaris, Fusion):
 * every page's ImageDescription is a <PerkinElmer-QPI-ImageDescription>
 * document saying what the page is (ImageType FullResolution,
 * ReducedResolution, Thumbnail, Overview, Label) and, on channel pages, the
 * channel's Name, Color ("r,g,b") and Biomarker. The declaration says
 * utf-16 while most files are UTF-8 and some really are UTF-16; tiff/text.ts
 * decoded the bytes, so either arrives here as text. Parsed by safe-xml.ts.
 */
import { WsiError } from '../../src/core/errors.js';
import { parseSafeXml, type XmlNode } from './safe-xml.js';

export const QPI_ROOT = 'PerkinElmer-QPI-ImageDescription';

export interface QpiPage {
  /** FullResolution, ReducedResolution, Thumbnail, Overview, Label (as written), or null when absent. */
  imageType: string | null;
  name: string | null;
  biomarker: string | null;
  /** The Color element as written, and as RGB when it is three numbers 0–255. */
  colorText: string | null;
  color: [number, number, number] | null;
  /** Objective power from `Objective` ("20x") or the scan profile's ObjectiveName. */
  objective: number | null;
  /** Microns per pixel from the scan profile's PixelSizeMicrons. */
  pixelSizeMicrons: number | null;
}

export function isQpiDescription(description: string | null): boolean {
  return description !== null && description.includes(`<${QPI_ROOT}`);
}

function textOf(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() === '' ? null : v.trim();
  if (v && typeof v === 'object' && typeof (v as XmlNode)['#text'] === 'string') return textOf((v as XmlNode)['#text']);
  return null;
}

/** The first value of element `key` anywhere under `node` (scan profiles nest it a few levels down). */
function findText(node: unknown, key: string, depth = 0): string | null {
  if (depth > 8 || !node || typeof node !== 'object') return null;
  const direct = textOf((node as XmlNode)[key]);
  if (direct !== null) return direct;
  for (const child of Object.values(node as XmlNode)) {
    const items = Array.isArray(child) ? child : [child];
    for (const item of items) {
      const found = findText(item, key, depth + 1);
      if (found !== null) return found;
    }
  }
  return null;
}

function parseColor(text: string | null): [number, number, number] | null {
  const m = text === null ? null : /^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$/.exec(text);
  if (!m) return null;
  const rgb = [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number];
  return rgb.every((c) => c <= 255) ? rgb : null;
}

function positiveNumber(text: string | null): number | null {
  const m = text === null ? null : /(\d+(?:[.,]\d+)?)/.exec(text);
  const v = m ? Number((m[1] as string).replace(',', '.')) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** Parses one page's description; `where` names the page in errors ("IFD 3"). */
export function parseQpiDescription(xml: string, where: string): QpiPage {
  const doc = parseSafeXml(xml.trim(), { code: 'QPTIFF_XML_INVALID', what: `the QPTIFF description of ${where}` });
  const root = doc[QPI_ROOT];
  if (root === undefined || root === null || typeof root !== 'object') {
    throw new WsiError('QPTIFF_XML_INVALID', `the description of ${where} has no <${QPI_ROOT}> root element`);
  }
  const page = root as XmlNode;
  const colorText = textOf(page['Color']);
  const profile = page['ScanProfile'];
  const pixelSize = positiveNumber(findText(profile, 'PixelSizeMicrons'));
  return {
    imageType: textOf(page['ImageType']),
    name: textOf(page['Name']),
    biomarker: textOf(page['Biomarker']),
    colorText,
    color: parseColor(colorText),
    objective: positiveNumber(textOf(page['Objective'])) ?? positiveNumber(findText(profile, 'ObjectiveName')),
    pixelSizeMicrons: pixelSize !== null && pixelSize <= 50 ? pixelSize : null,
  };
}
