/**
 * Reads the parts of OME-XML a viewer needs: the images, their size, pixel
 * size, channels and which TIFF IFD holds each plane. The XML is parsed by
 * safe-xml.ts (no DTD, no entity expansion, READ-19).
 */
import { WsiError } from '../../src/core/errors.js';
import { parseSafeXml, type XmlNode } from './safe-xml.js';

export interface OmeChannel {
  name: string;
  samplesPerPixel: number;
  /** RGB from the OME Color attribute, or null when absent. */
  color: [number, number, number] | null;
}

export interface OmeImage {
  name: string;
  sizeX: number;
  sizeY: number;
  sizeC: number;
  sizeZ: number;
  sizeT: number;
  type: string;
  physicalSizeX: number | null;
  channels: OmeChannel[];
  /** IFD index (main chain) of plane (z=0, c, t=0) for each channel c; null if unknown. */
  channelIfds: Array<number | null>;
  nominalMagnification: number | null;
}

type Node = XmlNode;

const UNIT_TO_MICRONS: Record<string, number> = {
  'µm': 1,
  'um': 1,
  'μm': 1,
  'nm': 1e-3,
  'mm': 1e3,
  'cm': 1e4,
  'm': 1e6,
  'Å': 1e-4,
};

function asArray(v: unknown): Node[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]) as Node[];
}

function int(v: unknown, fallback: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? Math.trunc(n) : fallback;
}

export function parseOmeXml(xml: string): OmeImage[] {
  const doc = parseSafeXml(xml, { code: 'OME_XML_INVALID', what: 'OME-XML', arrays: ['Image', 'Channel', 'TiffData', 'Objective', 'Instrument'] });
  const ome = doc['OME'] as Node | undefined;
  if (!ome) throw new WsiError('OME_XML_INVALID', 'ImageDescription has no <OME> root element');

  const objectives = new Map<string, number>();
  for (const inst of asArray(ome['Instrument'])) {
    for (const obj of asArray(inst['Objective'])) {
      const mag = Number(obj['NominalMagnification']);
      if (typeof obj['ID'] === 'string' && Number.isFinite(mag) && mag > 0) objectives.set(obj['ID'], mag);
    }
  }

  return asArray(ome['Image']).map((img, imageIndex) => {
    const px = img['Pixels'] as Node | undefined;
    if (!px) throw new WsiError('OME_XML_INVALID', `OME Image ${imageIndex} has no Pixels element`);
    const sizeX = int(px['SizeX'], 0);
    const sizeY = int(px['SizeY'], 0);
    const sizeC = Math.max(1, int(px['SizeC'], 1));
    const sizeZ = Math.max(1, int(px['SizeZ'], 1));
    const sizeT = Math.max(1, int(px['SizeT'], 1));
    const order = typeof px['DimensionOrder'] === 'string' ? px['DimensionOrder'] : 'XYZCT';
    const channels: OmeChannel[] = asArray(px['Channel']).map((ch, i) => {
      const colorRaw = ch['Color'];
      let color: [number, number, number] | null = null;
      if (colorRaw !== undefined) {
        const v = int(colorRaw, Number.NaN) >>> 0; // signed RGBA int
        if (Number.isFinite(int(colorRaw, Number.NaN))) color = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255];
      }
      return {
        name: typeof ch['Name'] === 'string' ? ch['Name'] : `Channel ${i}`,
        samplesPerPixel: Math.max(1, int(ch['SamplesPerPixel'], 1)),
        color,
      };
    });
    // effective channel count: RGB images have one Channel with 3 samples
    const samples = channels.reduce((s, c) => s + c.samplesPerPixel, 0);
    const logicalC = channels.length > 0 && samples === sizeC ? channels.length : sizeC;

    // plane index -> IFD from TiffData
    const sizes: Record<string, number> = { Z: sizeZ, C: logicalC, T: sizeT };
    const dims = order.slice(2).split('');
    const planeIndex = (z: number, c: number, t: number): number => {
      const coord: Record<string, number> = { Z: z, C: c, T: t };
      let idx = 0;
      let stride = 1;
      for (const d of dims) {
        idx += (coord[d] ?? 0) * stride;
        stride *= sizes[d] ?? 1;
      }
      return idx;
    };
    const planeToIfd = new Map<number, number>();
    const tiffData = asArray(px['TiffData']);
    for (const td of tiffData) {
      if (td['UUID'] !== undefined) {
        const uuid = td['UUID'] as Node | string;
        const fileName = typeof uuid === 'object' ? uuid['FileName'] : undefined;
        if (typeof fileName === 'string' && fileName !== '') {
          throw new WsiError('UNSUPPORTED_FORMAT', 'multi-file OME-TIFF datasets are not supported; convert to a single-file OME-TIFF');
        }
      }
      const ifd = int(td['IFD'], 0);
      const first = planeIndex(int(td['FirstZ'], 0), int(td['FirstC'], 0), int(td['FirstT'], 0));
      const total = sizeZ * logicalC * sizeT;
      const count = td['PlaneCount'] !== undefined ? int(td['PlaneCount'], 1) : tiffData.length === 1 ? total : 1;
      for (let k = 0; k < Math.min(count, total); k++) planeToIfd.set(first + k, ifd + k);
    }
    const channelIfds = Array.from({ length: logicalC }, (_, c) => planeToIfd.get(planeIndex(0, c, 0)) ?? null);

    let physicalSizeX: number | null = null;
    const psx = Number(px['PhysicalSizeX']);
    if (Number.isFinite(psx) && psx > 0) {
      const unit = typeof px['PhysicalSizeXUnit'] === 'string' ? px['PhysicalSizeXUnit'] : 'µm';
      const f = UNIT_TO_MICRONS[unit];
      physicalSizeX = f === undefined ? null : psx * f;
    }
    const objRef = img['ObjectiveSettings'] as Node | undefined;
    const objId = objRef && typeof objRef['ID'] === 'string' ? objRef['ID'] : null;
    return {
      name: typeof img['Name'] === 'string' ? img['Name'] : `Image ${imageIndex}`,
      sizeX,
      sizeY,
      sizeC: logicalC,
      sizeZ,
      sizeT,
      type: typeof px['Type'] === 'string' ? px['Type'] : 'uint8',
      physicalSizeX,
      channels,
      channelIfds,
      nominalMagnification: objId ? (objectives.get(objId) ?? null) : null,
    };
  });
}
