/**
 * The replacement of a DICOM LABEL instance (rules: "dicom.label":
 * "replace"): the instance's de-identified data set with its pixel module
 * rewritten for one uncompressed RGB frame, and that frame a white image of
 * the label's size bearing the study code (the same drawing as the TIFF
 * label, blank-label.ts). Written in explicit VR little endian, so every
 * DICOM reader can open it without a codec; shown to the approving manager
 * as PNG.
 */
import sharp from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import { FileByteSource } from '../tiff/byte-source.js';
import { renderLabel } from './blank-label.js';
import { elem, parseDicomFile, PIXEL_DATA, stringAt, type DElem } from './dicom-data.js';
import { dicomOutputFiles } from './dicom-verify.js';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** A label larger than this (pixels) is drawn at this size at most on each side. */
const MAX_SIDE = 4096;

function us(tag: number, v: number): DElem {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return elem(tag, 'US', b);
}

function ul(tag: number, v: number): DElem {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return elem(tag, 'UL', b);
}

function number(body: DElem[], tag: number): number | null {
  const e = body.find((x) => x.tag === tag);
  if (!e) return null;
  if (e.vr === 'US' && e.value.length >= 2) return e.value.readUInt16LE(0);
  if (e.vr === 'UL' && e.value.length >= 4) return e.value.readUInt32LE(0);
  return null;
}

/** Attributes of the pixel module a native RGB frame replaces, and those it makes meaningless. */
const REPLACED = new Set([0x00280002, 0x00280004, 0x00280006, 0x00280008, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280102, 0x00280103, 0x00282110, 0x00282112, 0x00282114, 0x00480006, 0x00480007, 0x00209311, 0x52009230, 0x7fe00001, 0x7fe00002, PIXEL_DATA]);

/** The label's data set and its one frame: white, the study code drawn on it. */
export function blankLabelInstance(body: DElem[], studyCode: string): { body: DElem[]; pixels: Buffer } {
  const width = Math.min(MAX_SIDE, number(body, 0x00480006) ?? number(body, 0x00280011) ?? 0);
  const height = Math.min(MAX_SIDE, number(body, 0x00480007) ?? number(body, 0x00280010) ?? 0);
  if (width < 1 || height < 1) throw new WsiError('DICOM_MISSING_ATTRIBUTE', 'the LABEL instance has no usable Rows/Columns to draw its replacement at', { attribute: 'Rows' });
  const rgb = renderLabel(studyCode, width, height);
  let pixels = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  if (pixels.length % 2) pixels = Buffer.concat([pixels, Buffer.alloc(1)]);
  const kept = body.filter((e) => !REPLACED.has(e.tag));
  kept.push(
    us(0x00280002, 3),
    elem(0x00280004, 'CS', 'RGB'),
    us(0x00280006, 0),
    elem(0x00280008, 'IS', '1'),
    us(0x00280010, height),
    us(0x00280011, width),
    us(0x00280100, 8),
    us(0x00280101, 8),
    us(0x00280102, 7),
    us(0x00280103, 0),
    elem(0x00209311, 'CS', 'TILED_FULL'),
    elem(0x00282110, 'CS', '00'),
    ul(0x00480006, width),
    ul(0x00480007, height),
  );
  return { body: kept, pixels };
}

/** The replaced label of a DICOM copy (file or folder) as PNG, for the manager's check; null when the copy has none. */
export async function dicomLabelPng(path: string): Promise<Buffer | null> {
  for (const f of await dicomOutputFiles(path)) {
    const src = await FileByteSource.open(f);
    try {
      const p = await parseDicomFile(src);
      if ((stringAt(p.body, 0x00080008).split('\\')[2] ?? '').trim().toUpperCase() !== 'LABEL') continue;
      const width = number(p.body, 0x00280011) ?? 0;
      const height = number(p.body, 0x00280010) ?? 0;
      // only the native RGB label this module writes; anything else is not shown
      if (p.transferSyntax !== EXPLICIT_VR_LITTLE_ENDIAN || stringAt(p.body, 0x00280004) !== 'RGB' || !p.pixel || p.pixel.length < width * height * 3 || width < 1 || height < 1) return null;
      const rgb = await src.read(p.pixel.offset, width * height * 3);
      return await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
    } finally {
      await src.close();
    }
  }
  return null;
}
