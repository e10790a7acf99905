/**
 * JPEG byte-level helpers: merge TIFF JPEGTables into abbreviated tile
 * streams, mark RGB-coded streams for decoders, and check a stream's
 * structure cheaply before it is passed through or decoded.
 */
import { WsiError } from '../../src/core/errors.js';

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

/** Checks that a JPEGTables value is a tables-only stream (SOI … EOI). */
export function checkJpegTables(tables: Uint8Array): void {
  if (tables.length < 4 || tables[0] !== 0xff || tables[1] !== SOI || tables[tables.length - 2] !== 0xff || tables[tables.length - 1] !== EOI) {
    throw new WsiError('TIFF_BAD_JPEG_TABLES', `JPEGTables (${tables.length} bytes) is not a tables-only JPEG stream (SOI … EOI)`);
  }
  // every segment must be a marker with a length that stays inside the value
  let i = 2;
  while (i < tables.length - 2) {
    if (tables[i] !== 0xff) throw new WsiError('TIFF_BAD_JPEG_TABLES', `JPEGTables has garbage at byte ${i}`);
    const len = ((tables[i + 2] ?? 0) << 8) | (tables[i + 3] ?? 0);
    if (len < 2 || i + 2 + len > tables.length - 2) throw new WsiError('TIFF_BAD_JPEG_TABLES', `JPEGTables segment at byte ${i} overruns the value`);
    i += 2 + len;
  }
}

const ADOBE_RGB = Buffer.from([0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);

/**
 * Builds a complete JPEG from a TIFF tile: the tables (without their EOI)
 * followed by the tile (without its SOI). When the TIFF says the samples are
 * RGB (Aperio writes RGB-coded JPEG with component ids 0,1,2), an Adobe APP14
 * marker with transform 0 tells browsers and libjpeg not to convert from YCbCr.
 */
export function assembleJpeg(tables: Uint8Array | null, tile: Uint8Array, rgbCoded: boolean): Buffer {
  if (tile.length < 4 || tile[0] !== 0xff || tile[1] !== SOI) {
    throw new WsiError('TILE_DECODE_ERROR', `tile data does not start with a JPEG SOI marker`);
  }
  const parts: Uint8Array[] = [];
  const soi = tile.subarray(0, 2);
  parts.push(soi);
  if (rgbCoded) parts.push(ADOBE_RGB);
  if (tables && tables.length > 4) parts.push(tables.subarray(2, tables.length - 2));
  parts.push(tile.subarray(2));
  return Buffer.concat(parts);
}

export interface JpegHeader {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
}

/**
 * Walks the marker structure of a complete JPEG: SOF before SOS, sizes that
 * stay inside the buffer, no illegal markers in entropy-coded data and an EOI.
 * It does not Huffman-decode; that is left to libjpeg when a tile is decoded.
 */
export function inspectJpeg(buf: Uint8Array): JpegHeader {
  const bad = (why: string): never => {
    throw new WsiError('TILE_DECODE_ERROR', `corrupt JPEG tile: ${why}`);
  };
  const n = buf.length;
  if (n < 4 || buf[0] !== 0xff || buf[1] !== SOI) bad('missing SOI marker');
  let header: JpegHeader | null = null;
  let i = 2;
  let sawScan = false;
  for (;;) {
    if (i + 1 >= n) bad('missing EOI marker');
    if (buf[i] !== 0xff) bad(`expected a marker at byte ${i}`);
    let marker = buf[i + 1] as number;
    while (marker === 0xff && i + 2 < n) {
      i++;
      marker = buf[i + 1] as number;
    }
    if (marker === EOI) {
      if (!sawScan) bad('EOI before any scan');
      break;
    }
    if (marker === SOI || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) bad(`unexpected marker 0x${marker.toString(16)} at byte ${i}`);
    if (i + 3 >= n) bad('truncated marker segment');
    const len = ((buf[i + 2] as number) << 8) | (buf[i + 3] as number);
    if (len < 2 || i + 2 + len > n) bad(`marker 0x${marker.toString(16)} length ${len} overruns the data`);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (header) bad('more than one frame header');
      if (len < 8) bad('short SOF segment');
      header = {
        height: ((buf[i + 5] as number) << 8) | (buf[i + 6] as number),
        width: ((buf[i + 7] as number) << 8) | (buf[i + 8] as number),
        components: buf[i + 9] as number,
        progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce,
      };
      if (marker !== 0xc0 && marker !== 0xc1 && marker !== 0xc2) bad(`unsupported JPEG process (SOF 0x${marker.toString(16)})`);
    }
    i += 2 + len;
    if (marker === SOS) {
      if (!header) bad('scan before frame header');
      sawScan = true;
      // entropy-coded data: 0xFF may only be followed by 0x00 (stuffing),
      // RSTn or fill bytes; any other marker ends the scan.
      for (;;) {
        const ff = buf.indexOf(0xff, i);
        if (ff < 0 || ff + 1 >= n) bad('missing EOI marker (entropy data runs to the end)');
        const next = buf[ff + 1] as number;
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) {
          i = ff + 2;
          continue;
        }
        if (next === 0xff) {
          i = ff + 1;
          continue;
        }
        i = ff;
        break;
      }
      const m = buf[i + 1] as number;
      const legalBetweenScans = m === EOI || m === SOS || m === 0xc4 || m === 0xdb || m === 0xdd || (m >= 0xe0 && m <= 0xef) || m === 0xfe;
      if (!legalBetweenScans) bad(`illegal marker 0xff${m.toString(16)} inside entropy-coded data at byte ${i}`);
      if (!header?.progressive && m !== EOI) bad(`unexpected marker 0xff${m.toString(16)} after the scan of a baseline JPEG`);
    }
  }
  if (!header) return bad('no frame header');
  if (header.width === 0 || header.height === 0) bad('frame size is 0');
  return header;
}

/**
 * Checks a complete tile JPEG against the size the TIFF says it has. A frame
 * larger than the tile is a decompression bomb (READ-12), not a tile.
 */
export function checkJpegTile(buf: Uint8Array, tileWidth: number, tileHeight: number, components: number): JpegHeader {
  const h = inspectJpeg(buf);
  if (h.width > tileWidth || h.height > tileHeight) {
    throw new WsiError('TILE_DECODE_OVERFLOW', `JPEG frame is ${h.width}x${h.height} but the tile is ${tileWidth}x${tileHeight}`, {
      frameWidth: h.width,
      frameHeight: h.height,
    });
  }
  if (h.components !== components) {
    throw new WsiError('TILE_DECODE_ERROR', `JPEG has ${h.components} components, the TIFF declares ${components}`);
  }
  return h;
}

/**
 * Splits a complete baseline JPEG into a tables-only stream (its DQT and DHT
 * segments) and an abbreviated stream without them, as TIFF JPEG stores them.
 * APPn and COM segments are dropped from the abbreviated stream.
 */
export function splitJpegTables(jpeg: Uint8Array): { tables: Buffer; abbreviated: Buffer } {
  if (jpeg[0] !== 0xff || jpeg[1] !== SOI) throw new Error('not a JPEG stream');
  const tableParts: Uint8Array[] = [Buffer.from([0xff, SOI])];
  const rest: Uint8Array[] = [Buffer.from([0xff, SOI])];
  let i = 2;
  while (i < jpeg.length) {
    const marker = jpeg[i + 1] as number;
    const len = ((jpeg[i + 2] as number) << 8) | (jpeg[i + 3] as number);
    const seg = jpeg.subarray(i, i + 2 + len);
    if (marker === SOS) {
      rest.push(jpeg.subarray(i));
      break;
    }
    if (marker === 0xdb || marker === 0xc4) tableParts.push(seg);
    else if (!(marker >= 0xe0 && marker <= 0xef) && marker !== 0xfe) rest.push(seg);
    i += 2 + len;
  }
  tableParts.push(Buffer.from([0xff, EOI]));
  return { tables: Buffer.concat(tableParts), abbreviated: Buffer.concat(rest) };
}
