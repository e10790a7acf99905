/**
 * Synthetic slides full of PHI for the de-identification tests (DEID-*):
 * every field that can carry PHI holds a distinctive sentinel
 * (`PHI-SENTINEL-<n>`), some in UTF-16LE, one inside a JPEG COM segment,
 * one in bytes no IFD references and one in a label strip stored raw, so a
 * byte scan of the output is decisive. Written by the tests themselves.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { tissueRaster, encodeTiles, labelRaster, macroRaster, pyramidOf } from '../../scripts/fixtures/encode.js';
import { lzwEncode } from '../../tiles-server/tiff/lzw-encode.js';
import { Compression, FieldType, Photometric } from '../../tiles-server/tiff/tags.js';
import { TiffWriter, type ExtraTag, type PageHandle, type PageSpec } from '../../tiles-server/tiff/writer.js';
import sharp from 'sharp';

export const S = (n: number): string => `PHI-SENTINEL-${n}`;

/** Aperio keys of DEID-01 and the sentinel each holds (Date holds a real date: its day and month must go). */
export const APERIO_PHI_KEYS: Array<[string, string]> = [
  ['Filename', S(1)],
  ['Date', '05/17/24'],
  ['Time', S(3)],
  ['Time Zone', S(4)],
  ['User', S(5)],
  ['ScanScope ID', S(6)],
  ['DSR ID', S(7)],
  ['ImageID', S(8)],
  ['Title', S(9)],
  ['Rack', S(10)],
  ['Slide', S(11)],
  ['Accession', S(12)],
];

export const SENTINELS = {
  documentNameUtf16: S(13),
  artist: S(14),
  unreferenced: S(16),
  unreferencedUtf16: S(26),
  labelStrip: S(17),
  macroComment: S(18),
  privateTag: S(19),
  xmp: S(20),
  customKey: S(21),
  gt450Barcode: S(22),
} as const;

export interface SvsOptions {
  bigTiff?: boolean;
  littleEndian?: boolean;
  /** No label IFD at all (DEID-11). */
  noLabel?: boolean;
  noMacro?: boolean;
  /** GT450 style: label and macro descriptions without the words "label"/"macro" (DEID-04). */
  gt450?: boolean;
  /** One more stripped image after the macro, of no recognisable kind (ambiguous DEID-04). */
  extraUnknownImage?: boolean;
  /** Private ASCII tag 65000 (DEID-05). */
  privateTag?: boolean;
  /** An XMP packet, tag 700 (DEID-05). */
  xmp?: boolean;
  /** Level tiles stored uncompressed, with this text inside level 0's first tile (a removed value surviving in pixels). */
  textInTile?: string;
  /** Tiles with a JPEG COM segment (refused: they are copied bit for bit). */
  commentInTiles?: boolean;
  width?: number;
  height?: number;
}

/** A JPEG with a COM segment inserted after SOI. */
function withComment(jpeg: Buffer, text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  const seg = Buffer.alloc(4);
  seg.writeUInt16BE(0xfffe, 0);
  seg.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), seg, body, jpeg.subarray(2)]);
}

export function aperioDescription(w: number, h: number, tile: number, extraKeys = true): string {
  const keys = APERIO_PHI_KEYS.map(([k, v]) => `${k} = ${v}`).join('|');
  return `Aperio Image Library v12.0.0 \r\n${w}x${h} [0,0 ${w}x${h}] (${tile}x${tile}) JPEG/YCC Q=85|AppMag = 20|MPP = 0.4990|StripeWidth = 2040|${keys}${extraKeys ? `|Patient Name = ${SENTINELS.customKey}` : ''}`;
}

/** Writes an SVS-like file full of sentinels; returns the pyramid's level sizes. */
export async function writePhiSvs(path: string, o: SvsOptions = {}): Promise<void> {
  const w = o.width ?? 1000;
  const h = o.height ?? 760;
  const tile = 256;
  const levels = pyramidOf(tissueRaster(w, h, 7, 0.5), [0, 2]);
  const writer = await TiffWriter.create(path, { bigTiff: o.bigTiff ?? false, littleEndian: o.littleEndian ?? true });
  // bytes no IFD will reference (ImageDePHI's secret_metadata pattern): written first, never pointed to
  const hidden = Buffer.concat([Buffer.from(`Patient ${SENTINELS.unreferenced} `, 'utf8'), Buffer.from(SENTINELS.unreferencedUtf16, 'utf16le')]);
  const desc = aperioDescription(w, h, tile);
  const common: ExtraTag[] = [
    { tag: 269, type: FieldType.ASCII, value: Buffer.concat([Buffer.from(SENTINELS.documentNameUtf16, 'utf16le'), Buffer.from([0, 0])]) },
    { tag: 315, type: FieldType.ASCII, value: `Dr ${SENTINELS.artist}` },
    { tag: 306, type: FieldType.ASCII, value: '2024:05:17 09:59:15' },
    { tag: 316, type: FieldType.ASCII, value: 'SCANNER-HOST-0042' },
  ];
  if (o.privateTag) common.push({ tag: 65000, type: FieldType.ASCII, value: `Patient: ${SENTINELS.privateTag}` });
  if (o.xmp) {
    const packet = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>${SENTINELS.xmp}</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
    common.push({ tag: 700, type: FieldType.BYTE, value: Buffer.from(packet, 'utf8') });
  }
  const raw = o.textInTile !== undefined || o.commentInTiles;
  const pages: Array<{ page: PageHandle; blocks: Buffer[] }> = [];
  for (const [k, r] of levels.entries()) {
    let blocks: Buffer[];
    let jpegTables: Buffer | undefined;
    if (o.textInTile !== undefined) {
      blocks = (await encodeTiles(r, tile, 'none')).blocks;
      if (k === 0) Buffer.from(o.textInTile, 'utf8').copy(blocks[0] as Buffer, 0);
    } else if (o.commentInTiles) {
      blocks = (await encodeTiles(r, tile, 'jpeg')).blocks.map((b, i) => (i === 0 ? withComment(b, `Patient ${S(30)}`) : b));
    } else {
      ({ blocks, jpegTables } = await encodeTiles(r, tile, 'jpeg-shared'));
    }
    const jpeg = !raw;
    const spec: PageSpec = {
      width: r.width,
      height: r.height,
      tileWidth: tile,
      tileHeight: tile,
      samplesPerPixel: 3,
      photometric: jpeg || o.commentInTiles ? Photometric.YCBCR : Photometric.RGB,
      compression: o.textInTile !== undefined ? Compression.NONE : Compression.JPEG,
      ...(jpeg || o.commentInTiles ? { ycbcrSubsampling: [2, 2] as [number, number] } : {}),
      ...(jpegTables ? { jpegTables } : {}),
      description: k === 0 ? desc : `Aperio Image Library v12.0.0 \r\n${w}x${h} [0,0 ${w}x${h}] (${tile}x${tile}) -> ${r.width}x${r.height} JPEG/YCC Q=85|${APERIO_PHI_KEYS.map(([a, b]) => `${a} = ${b}`).join('|')}`,
      extraTags: common,
    };
    pages.push({ page: writer.addPage(spec), blocks });
    if (k === 0) {
      // the thumbnail is the second IFD, stripped JPEG, its description repeating the keys
      const thumb = levels[1] as { data: Uint8Array; width: number; height: number };
      const tj = await sharp(thumb.data, { raw: { width: thumb.width, height: thumb.height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
      const tp = writer.addPage({
        width: thumb.width,
        height: thumb.height,
        rowsPerStrip: thumb.height,
        samplesPerPixel: 3,
        photometric: Photometric.YCBCR,
        compression: Compression.JPEG,
        description: `Aperio Image Library v12.0.0 \n${w}x${h} -> ${thumb.width}x${thumb.height} - |${APERIO_PHI_KEYS.map(([a, b]) => `${a} = ${b}`).join('|')}`,
        extraTags: common,
      });
      pages.push({ page: tp, blocks: [tj] });
    }
  }
  // the first block written is the hidden one: its slot is then given real data
  await writer.writeBlock((pages[0] as { page: PageHandle }).page, 0, hidden);
  for (const { page, blocks } of pages) for (const [i, b] of blocks.entries()) await writer.writeBlock(page, i, b);
  if (!o.noLabel) {
    // label stored raw, with a sentinel in its pixel bytes: freed when the label goes
    const lr = labelRaster(387, 463);
    const px = Buffer.from(lr.data);
    Buffer.from(`LABEL ${SENTINELS.labelStrip}`, 'latin1').copy(px, 3 * 387 * 40);
    const lp = writer.addPage({
      width: 387,
      height: 463,
      rowsPerStrip: 463,
      samplesPerPixel: 3,
      photometric: Photometric.RGB,
      compression: Compression.NONE,
      newSubfileType: 1,
      description: o.gt450 ? 'Aperio Leica Biosystems GT450 v1.0.1' : 'Aperio Image Library v12.0.0\nlabel 387x463',
    });
    await writer.writeBlock(lp, 0, px);
  }
  if (!o.noMacro) {
    const mr = macroRaster(1280, 431);
    const mj = withComment(await sharp(mr.data, { raw: { width: 1280, height: 431, channels: 3 } }).jpeg({ quality: 80 }).toBuffer(), `Patient ${SENTINELS.macroComment}`);
    const mp = writer.addPage({
      width: 1280,
      height: 431,
      rowsPerStrip: 431,
      samplesPerPixel: 3,
      photometric: Photometric.YCBCR,
      compression: Compression.JPEG,
      newSubfileType: 9,
      description: o.gt450 ? 'Aperio Leica Biosystems GT450 v1.0.1' : 'Aperio Image Library v12.0.0\nmacro 1280x431',
    });
    await writer.writeBlock(mp, 0, mj);
  }
  if (o.extraUnknownImage) {
    const px = Buffer.alloc(64 * 64 * 3, 128);
    const ep = writer.addPage({ width: 64, height: 64, rowsPerStrip: 64, samplesPerPixel: 3, photometric: Photometric.RGB, compression: Compression.LZW, description: 'Aperio Leica Biosystems GT450 v1.0.1' });
    await writer.writeBlock(ep, 0, Buffer.from(lzwEncode(px)));
  }
  await writer.finish();
  // and trailing garbage after the last IFD
  await appendFile(path, Buffer.from(`\0trailing ${SENTINELS.unreferenced}`, 'utf8'));
}

/** An OME-TIFF (SubIFD pyramid) whose OME-XML names a patient (DEID-08). */
export function phiOmeXml(w: number, h: number): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openmicroscopy.org/Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd" UUID="urn:uuid:0b7a3ea2-77f5-4a4b-9f0a-6a9d8a0f5c11" Creator="wsi-annotate tests">` +
    `<Experimenter ID="Experimenter:0" FirstName="${S(40)}" LastName="${S(41)}" Email="${S(42)}@example.org"/>` +
    `<Instrument ID="Instrument:0"><Microscope Manufacturer="${S(43)}" Model="M1"/><Objective ID="Objective:0" NominalMagnification="20" SerialNumber="${S(44)}"/></Instrument>` +
    `<Image ID="Image:0" Name="${S(45)} Doe^Jane"><AcquisitionDate>2024-05-17T09:59:15</AcquisitionDate><ExperimenterRef ID="Experimenter:0"/><Description>Biopsy of ${S(46)}</Description><InstrumentRef ID="Instrument:0"/><ObjectiveSettings ID="Objective:0"/>` +
    `<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8" SizeX="${w}" SizeY="${h}" SizeC="3" SizeZ="1" SizeT="1" PhysicalSizeX="0.65" PhysicalSizeXUnit="µm" PhysicalSizeY="0.65" PhysicalSizeYUnit="µm" Interleaved="true">` +
    `<Channel ID="Channel:0:0" Name="RGB" SamplesPerPixel="3"><LightPath/></Channel><TiffData FirstC="0" FirstT="0" FirstZ="0" IFD="0" PlaneCount="1"><UUID FileName="${S(47)}_Doe_Jane.ome.tif">urn:uuid:0b7a3ea2-77f5-4a4b-9f0a-6a9d8a0f5c11</UUID></TiffData></Pixels></Image>` +
    `<StructuredAnnotations><MapAnnotation ID="Annotation:0"><Value><M K="Patient">${S(48)}</M></Value></MapAnnotation></StructuredAnnotations><!-- scanned for ${S(49)} --></OME>`
  );
}

/** Bytes of a file as UTF-8, UTF-16LE and UTF-16BE search: which of `needles` occur. */
export async function sentinelsIn(path: string, needles: string[]): Promise<string[]> {
  const bytes = await readFile(path);
  const found: string[] = [];
  for (const n of needles) {
    const le = Buffer.from(n, 'utf16le');
    if (bytes.includes(Buffer.from(n, 'utf8')) || bytes.includes(le) || bytes.includes(Buffer.from(le).swap16())) found.push(n);
  }
  return found;
}

export async function plantBytes(path: string, at: number, text: string): Promise<void> {
  const bytes = await readFile(path);
  Buffer.from(text, 'utf8').copy(bytes, at);
  await writeFile(path, bytes);
}
