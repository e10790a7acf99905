/**
 * Reads the header of one DICOM Part 10 file (everything before Pixel
 * Data) by range with dicom-parser, never the pixels, and turns it into the
 * facts a whole-slide reader needs: series, image type, tile and matrix
 * sizes, transfer syntax, where the pixel data starts, and (on request) the
 * plane position of every frame of a TILED_SPARSE instance. Every number
 * the rest of the reader trusts is checked here first; a file that does not
 * hold up gets a specific DICOM_* code.
 */
import { createRequire } from 'node:module';
import type * as DicomParser from 'dicom-parser';
import { WsiError } from '../../src/core/errors.js';
import type { ByteSource } from '../tiff/byte-source.js';

const dicomParser = createRequire(import.meta.url)('dicom-parser') as typeof DicomParser & {
  /** Exported at run time, declared only as an interface by the package's types. */
  DataSet: new (parser: DicomParser.ByteArrayParser, bytes: DicomParser.ByteArray, elements: Record<string, DicomParser.Element>) => DicomParser.DataSet;
};

export const WSI_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.77.1.6';
/** Media Storage Directory (DICOMDIR): an index of other files, never an image. */
export const DICOMDIR_SOP_CLASS = '1.2.840.10008.1.3.10';

/** The first read; most headers (TILED_FULL) fit in it. */
const FIRST_READ = 256 * 1024;
/** A header (TILED_SPARSE per-frame groups included) larger than this is refused. */
export const MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** Frames, tiles and positions above this are refused before any table is built. */
const MAX_FRAMES = 4_000_000;
const MAX_SIDE = 4_000_000;

const PIXEL_DATA = 'x7fe00010';

export interface PixelDataLocation {
  /** File offset of the Pixel Data value (the first item, for encapsulated data). */
  offset: number;
  /** Value length for native data; null for encapsulated (undefined length). */
  length: number | null;
}

/** A frame's place in the total pixel matrix (1-based, as DICOM stores it) and its focal plane and optical path. */
export interface FramePositions {
  columns: Int32Array;
  rows: Int32Array;
  /** ZOffsetInSlideCoordinateSystem, NaN when absent. */
  z: Float64Array;
  /** Index into `opticalPathIds`; -1 when the frame does not say. */
  path: Int32Array;
  opticalPathIds: string[];
}

export interface DicomInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  /** Empty for files that have none (the caller groups those alone). */
  seriesUid: string;
  transferSyntax: string;
  /** Value 3 of ImageType (VOLUME, LABEL, OVERVIEW, THUMBNAIL), upper case, '' when absent. */
  flavor: string;
  /** Tile (frame) size. */
  columns: number;
  rows: number;
  totalColumns: number | null;
  totalRows: number | null;
  frames: number;
  samplesPerPixel: number;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  /** TILED_FULL, TILED_SPARSE or '' when absent. */
  dimensionOrganization: string;
  focalPlanes: number;
  opticalPaths: number;
  /** OpticalPathIdentifier of the first optical path of the instance, or ''. */
  opticalPathId: string;
  concatenation: { uid: string; frameOffset: number } | null;
  /** Microns per pixel along rows (x) and columns (y), from PixelSpacing, or null. */
  mppX: number | null;
  mppY: number | null;
  /** From ImagedVolumeWidth/Height (mm) when PixelSpacing is absent. */
  imagedWidthMm: number | null;
  imagedHeightMm: number | null;
  objectivePower: number | null;
  pixelData: PixelDataLocation;
  /** Extended Offset Table (offsets and lengths of each frame), when present. */
  extendedOffsets: { offsets: number[]; lengths: number[] } | null;
  /** Plane positions from the per-frame functional groups, when asked for and present. */
  positions: FramePositions | null;
}

type DataSet = DicomParser.DataSet;

function invalid(message: string, detail?: Record<string, unknown>): WsiError {
  return new WsiError('DICOM_INVALID', message, detail);
}

function exceptionText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'exception' in e) return exceptionText((e as { exception: unknown }).exception);
  return String(e);
}

/** dicom-parser reports running off the end of what it was given in these words. */
function ranOffTheEnd(e: unknown): boolean {
  return /past end|overrun|eof encountered|beyond the end|end of buffer/i.test(exceptionText(e));
}

function tagName(tag: string): string {
  return `(${tag.slice(1, 5)},${tag.slice(5, 9)})`.toUpperCase();
}

/** The furthest byte any top-level element claims to reach. */
function furthestElement(ds: DataSet): { tag: string; end: number } {
  let best = { tag: '', end: 0 };
  for (const el of Object.values(ds.elements)) {
    if (el.length === 0xffffffff || el.hadUndefinedLength) continue;
    const end = el.dataOffset + el.length;
    if (end > best.end) best = { tag: el.tag, end };
  }
  return best;
}

const EXPLICIT_BIG_ENDIAN = '1.2.840.10008.1.2.2';
const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';
/** VRs with a 32-bit length in explicit VR (dicom-parser 1.8 does not know OV, SV and UV, so group 7FE0 is read here). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * One pass over the bytes read so far: the file meta information and the
 * data set elements by dicom-parser, then the pixel group (7FE0: Extended
 * Offset Table, its lengths, Pixel Data) by hand, stopping at Pixel Data.
 * Returns null when the header goes on past `buf`.
 */
function parseBuffer(buf: Buffer): { ds: DataSet; complete: boolean } {
  const meta = dicomParser.readPart10Header(buf) as DataSet & { position: number };
  const ts = (meta.string('x00020010') ?? '').replace(/\0/g, '').trim();
  if (!ts) throw new WsiError('DICOM_MISSING_ATTRIBUTE', 'the file meta information has no TransferSyntaxUID (0002,0010)');
  if (ts === '1.2.840.10008.1.2.1.99') {
    throw new WsiError('UNSUPPORTED_COMPRESSION', 'the data set is deflated (transfer syntax 1.2.840.10008.1.2.1.99); its frames cannot be read by range', { transferSyntax: ts });
  }
  const parser = ts === EXPLICIT_BIG_ENDIAN ? dicomParser.bigEndianByteArrayParser : dicomParser.littleEndianByteArrayParser;
  const explicit = ts !== IMPLICIT_LITTLE_ENDIAN;
  const stream = new dicomParser.ByteStream(parser, buf, meta.position);
  const ds = new dicomParser.DataSet(parser, buf, { ...meta.elements });
  ds.warnings = [];
  while (stream.position + 8 <= buf.length) {
    const pos = stream.position;
    if (parser.readUint16(buf, pos) === 0x7fe0) {
      const element = parser.readUint16(buf, pos + 2);
      const tag = `x7fe0${element.toString(16).padStart(4, '0')}`;
      const vr = explicit ? buf.toString('latin1', pos + 4, pos + 6) : undefined;
      const long = !explicit || LONG_VRS.has(vr as string);
      const headerBytes = explicit && long ? 12 : 8;
      if (pos + headerBytes > buf.length) break;
      const length = !explicit ? parser.readUint32(buf, pos + 4) : long ? parser.readUint32(buf, pos + 8) : parser.readUint16(buf, pos + 6);
      const el: DicomParser.Element = { tag, length, dataOffset: pos + headerBytes, ...(vr ? { vr } : {}), ...(length === 0xffffffff ? { hadUndefinedLength: true } : {}) };
      ds.elements[tag] = el;
      if (tag === PIXEL_DATA) return { ds, complete: true };
      if (length === 0xffffffff) throw invalid(`element ${tagName(tag)} before Pixel Data has an undefined length`);
      stream.position = pos + headerBytes + length;
      continue;
    }
    const el = explicit ? dicomParser.readDicomElementExplicit(stream, ds.warnings) : dicomParser.readDicomElementImplicit(stream);
    ds.elements[el.tag] = el;
  }
  return { ds, complete: false };
}

/**
 * Parses the header of a DICOM file up to (not into) Pixel Data, reading
 * more of the file only while the header needs it.
 */
async function parseHeader(src: ByteSource): Promise<DataSet> {
  if (src.size < 132) throw invalid(`the file is ${src.size} bytes, too short for a DICOM file (no 128-byte preamble and DICM prefix)`);
  let n = Math.min(src.size, FIRST_READ);
  for (;;) {
    const buf = await readRange(src, 0, n, 'the header');
    if (buf.toString('latin1', 128, 132) !== 'DICM') throw invalid('not a DICOM file: no DICM prefix at byte 128');
    let parsed: { ds: DataSet; complete: boolean } | null = null;
    let failure: unknown = null;
    try {
      parsed = parseBuffer(buf);
    } catch (e) {
      if (e instanceof WsiError) throw e;
      failure = e;
    }
    if (parsed?.complete) return parsed.ds;
    if (failure && !ranOffTheEnd(failure)) throw invalid(`the DICOM header does not parse: ${exceptionText(failure)}`);
    // the header goes on past what was read, or an element claims bytes the file lacks
    const far = parsed ? furthestElement(parsed.ds) : { tag: '', end: 0 };
    if (far.end > src.size) {
      throw new WsiError('DICOM_TRUNCATED', `element ${tagName(far.tag)} runs to byte ${far.end}, past the end of the file (${src.size} bytes)`, { tag: tagName(far.tag), end: far.end, fileSize: src.size });
    }
    if (n >= src.size) {
      // the whole file parsed without Pixel Data: not an image (an annotation or a structured report)
      if (parsed) return parsed.ds;
      throw new WsiError('DICOM_TRUNCATED', `the DICOM header is cut short: ${exceptionText(failure)}`);
    }
    if (n >= MAX_HEADER_BYTES) throw invalid(`the DICOM header is larger than ${MAX_HEADER_BYTES} bytes`);
    n = Math.min(src.size, MAX_HEADER_BYTES, Math.max(n * 4, far.end + 65536));
  }
}

/** Reads bytes of a DICOM file, reporting a short file as DICOM_TRUNCATED. */
export async function readRange(src: ByteSource, offset: number, length: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new WsiError('DICOM_TRUNCATED', `${what}: ${length} bytes at offset ${offset} run past the end of the file (${src.size} bytes)`, { offset, length, fileSize: src.size });
  }
  try {
    return await src.read(offset, length, signal);
  } catch (err) {
    if (err instanceof WsiError && err.code === 'TIFF_TRUNCATED') {
      throw new WsiError('DICOM_TRUNCATED', `${what}: the file ended while reading ${length} bytes at ${offset}`, { offset, length, fileSize: src.size });
    }
    throw err;
  }
}

function str(ds: DataSet | undefined, tag: string, index?: number): string {
  if (!ds?.elements[tag]) return '';
  return (ds.string(tag, index) ?? '').trim();
}

/** A whole number from a US, UL or IS element (the VR is the dictionary's: implicit-VR files do not say), or null when absent. */
function count(ds: DataSet, tag: string, what: string, vr: 'US' | 'UL' | 'IS', { min = 0, max = MAX_SIDE } = {}): number | null {
  const el = ds.elements[tag];
  if (!el) return null;
  let v: number | undefined;
  if (vr === 'IS') v = str(ds, tag) === '' ? undefined : Number(str(ds, tag));
  else if (vr === 'US' && el.length === 2) v = ds.uint16(tag);
  else if (vr === 'UL' && el.length === 4) v = ds.uint32(tag);
  if (v === undefined || !Number.isSafeInteger(v) || v < min || v > max) {
    const shown = vr === 'IS' ? JSON.stringify(str(ds, tag).slice(0, 32)) : v === undefined ? `${el.length} bytes long` : String(v);
    throw new WsiError('DICOM_BAD_ATTRIBUTE', `${what} ${tagName(tag)} is ${shown}, not a whole number from ${min} to ${max}`, { attribute: what });
  }
  return v;
}

function required(v: number | null, tag: string, what: string): number {
  if (v === null) throw new WsiError('DICOM_MISSING_ATTRIBUTE', `the instance has no ${what} ${tagName(tag)}`, { attribute: what });
  return v;
}

function positiveDecimal(ds: DataSet | undefined, tag: string, index?: number): number | null {
  if (!ds?.elements[tag]) return null;
  const v = Number(str(ds, tag, index));
  return Number.isFinite(v) && v > 0 ? v : null;
}

function firstItem(ds: DataSet | undefined, tag: string): DataSet | undefined {
  return ds?.elements[tag]?.items?.[0]?.dataSet;
}

function float32(ds: DataSet, tag: string): number | null {
  const el = ds.elements[tag];
  if (!el || el.length !== 4) return null;
  const v = ds.float(tag);
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : null;
}

/** Reads an OV element (64-bit unsigned, little endian) as safe integers. */
function uint64s(ds: DataSet, tag: string, what: string): number[] | null {
  const el = ds.elements[tag];
  if (!el) return null;
  if (el.length % 8 !== 0) throw new WsiError('DICOM_BAD_FRAME_TABLE', `${what} is ${el.length} bytes, not a multiple of 8`);
  const out: number[] = [];
  const b = Buffer.from(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, el.length);
  for (let i = 0; i < el.length; i += 8) {
    const v = b.readBigUInt64LE(i);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WsiError('DICOM_BAD_FRAME_TABLE', `${what} entry ${i / 8} (${v}) is past any file`);
    out.push(Number(v));
  }
  return out;
}

function framePositions(ds: DataSet, frames: number): FramePositions | null {
  const seq = ds.elements['x52009230']?.items;
  if (!seq) return null;
  if (seq.length !== frames) {
    throw new WsiError('DICOM_BAD_FRAME_COUNT', `the per-frame functional groups describe ${seq.length} frames, NumberOfFrames says ${frames}`);
  }
  const sharedPath = str(firstItem(firstItem(ds, 'x52009229'), 'x00480207'), 'x00480106');
  const out: FramePositions = {
    columns: new Int32Array(frames),
    rows: new Int32Array(frames),
    z: new Float64Array(frames).fill(Number.NaN),
    path: new Int32Array(frames).fill(-1),
    opticalPathIds: [],
  };
  const ids = new Map<string, number>();
  let positioned = 0;
  for (let i = 0; i < frames; i++) {
    const item = seq[i]?.dataSet;
    const pos = firstItem(item, 'x0048021a');
    if (pos) {
      const c = pos.elements['x0048021e'] ? pos.int32('x0048021e') : undefined;
      const r = pos.elements['x0048021f'] ? pos.int32('x0048021f') : undefined;
      if (c === undefined || r === undefined) {
        throw new WsiError('DICOM_MISSING_ATTRIBUTE', `frame ${i + 1} has a plane position without Column/RowPositionInTotalImagePixelMatrix`);
      }
      out.columns[i] = c;
      out.rows[i] = r;
      const z = pos.elements['x0040074a'] ? Number(str(pos, 'x0040074a')) : Number.NaN;
      out.z[i] = Number.isFinite(z) ? z : Number.NaN;
      positioned++;
    }
    const pathId = str(firstItem(item, 'x00480207'), 'x00480106') || sharedPath;
    if (pathId) {
      let k = ids.get(pathId);
      if (k === undefined) {
        k = ids.size;
        ids.set(pathId, k);
        out.opticalPathIds.push(pathId);
      }
      out.path[i] = k;
    }
  }
  if (positioned === 0) return null;
  if (positioned !== frames) throw new WsiError('DICOM_MISSING_ATTRIBUTE', `${frames - positioned} of ${frames} frames have no plane position`);
  return out;
}

/**
 * Reads and checks the header of one instance. `positions` also reads the
 * plane position of every frame (needed to open a TILED_SPARSE instance,
 * not to list it).
 */
export async function readDicomHeader(src: ByteSource, opts: { positions: boolean }): Promise<DicomInstance> {
  const ds = await parseHeader(src);
  const transferSyntax = str(ds, 'x00020010').replace(/\0/g, '');
  if (!transferSyntax) throw new WsiError('DICOM_MISSING_ATTRIBUTE', 'the file meta information has no TransferSyntaxUID (0002,0010)');
  const sopClassUid = str(ds, 'x00080016') || str(ds, 'x00020002');
  const imageType = str(ds, 'x00080008').toUpperCase().split('\\').map((s) => s.trim());
  const pixel: DicomParser.Element = ds.elements[PIXEL_DATA] ?? { tag: PIXEL_DATA, length: 0, dataOffset: src.size };
  const encapsulated = pixel.length === 0xffffffff || pixel.hadUndefinedLength === true;
  const base = {
    sopClassUid,
    sopInstanceUid: str(ds, 'x00080018'),
    seriesUid: str(ds, 'x0020000e'),
    transferSyntax,
    flavor: imageType[2] ?? '',
  };
  if (sopClassUid !== WSI_SOP_CLASS) {
    // enough to list it (and say why it does not open)
    return {
      ...base,
      columns: 0,
      rows: 0,
      totalColumns: null,
      totalRows: null,
      frames: 0,
      samplesPerPixel: 0,
      photometric: '',
      bitsAllocated: 0,
      bitsStored: 0,
      pixelRepresentation: 0,
      planarConfiguration: 0,
      dimensionOrganization: '',
      focalPlanes: 1,
      opticalPaths: 1,
      opticalPathId: '',
      concatenation: null,
      mppX: null,
      mppY: null,
      imagedWidthMm: null,
      imagedHeightMm: null,
      objectivePower: null,
      pixelData: { offset: pixel.dataOffset, length: encapsulated ? null : pixel.length },
      extendedOffsets: null,
      positions: null,
    };
  }
  if (!ds.elements[PIXEL_DATA]) throw new WsiError('DICOM_TRUNCATED', 'the whole-slide image ends before its Pixel Data element');
  if (pixel.dataOffset > src.size) throw new WsiError('DICOM_TRUNCATED', 'the Pixel Data element starts past the end of the file');
  const columns = required(count(ds, 'x00280011', 'Columns', 'US', { min: 1, max: 65535 }), 'x00280011', 'Columns');
  const rows = required(count(ds, 'x00280010', 'Rows', 'US', { min: 1, max: 65535 }), 'x00280010', 'Rows');
  const frames = count(ds, 'x00280008', 'NumberOfFrames', 'IS', { min: 1, max: MAX_FRAMES }) ?? 1;
  const totalColumns = count(ds, 'x00480006', 'TotalPixelMatrixColumns', 'UL', { min: 1 });
  const totalRows = count(ds, 'x00480007', 'TotalPixelMatrixRows', 'UL', { min: 1 });
  const samplesPerPixel = required(count(ds, 'x00280002', 'SamplesPerPixel', 'US', { min: 1, max: 4 }), 'x00280002', 'SamplesPerPixel');
  const bitsAllocated = required(count(ds, 'x00280100', 'BitsAllocated', 'US', { min: 1, max: 64 }), 'x00280100', 'BitsAllocated');
  const bitsStored = count(ds, 'x00280101', 'BitsStored', 'US', { min: 1, max: 64 }) ?? bitsAllocated;
  const concatUid = str(ds, 'x00209161');
  const shared = firstItem(ds, 'x52009229');
  const measures = firstItem(shared, 'x00289110');
  // PixelSpacing is row spacing \ column spacing, in mm
  const rowSpacing = positiveDecimal(measures, 'x00280030', 0);
  const colSpacing = positiveDecimal(measures, 'x00280030', 1) ?? rowSpacing;
  const opticalPath = firstItem(ds, 'x00480105');
  const extOffsets = uint64s(ds, 'x7fe00001', 'the Extended Offset Table');
  const extLengths = uint64s(ds, 'x7fe00002', 'the Extended Offset Table Lengths');
  if ((extOffsets === null) !== (extLengths === null) || (extOffsets && extLengths && extOffsets.length !== extLengths.length)) {
    throw new WsiError('DICOM_BAD_FRAME_TABLE', 'the Extended Offset Table and its Lengths do not match');
  }
  const instance: DicomInstance = {
    ...base,
    columns,
    rows,
    totalColumns,
    totalRows,
    frames,
    samplesPerPixel,
    photometric: str(ds, 'x00280004').toUpperCase(),
    bitsAllocated,
    bitsStored,
    pixelRepresentation: count(ds, 'x00280103', 'PixelRepresentation', 'US', { max: 1 }) ?? 0,
    planarConfiguration: count(ds, 'x00280006', 'PlanarConfiguration', 'US', { max: 1 }) ?? 0,
    dimensionOrganization: str(ds, 'x00209311').toUpperCase(),
    focalPlanes: count(ds, 'x00480303', 'TotalPixelMatrixFocalPlanes', 'UL', { min: 1, max: MAX_FRAMES }) ?? 1,
    opticalPaths: count(ds, 'x00480302', 'NumberOfOpticalPaths', 'UL', { min: 1, max: MAX_FRAMES }) ?? 1,
    opticalPathId: str(opticalPath, 'x00480106'),
    concatenation: concatUid ? { uid: concatUid, frameOffset: count(ds, 'x00209228', 'ConcatenationFrameOffsetNumber', 'UL', { max: MAX_FRAMES }) ?? 0 } : null,
    mppX: colSpacing ? colSpacing * 1000 : null,
    mppY: rowSpacing ? rowSpacing * 1000 : null,
    imagedWidthMm: float32(ds, 'x00480001'),
    imagedHeightMm: float32(ds, 'x00480002'),
    objectivePower: positiveDecimal(opticalPath, 'x00480112'),
    pixelData: { offset: pixel.dataOffset, length: encapsulated ? null : pixel.length },
    extendedOffsets: extOffsets && extLengths ? { offsets: extOffsets, lengths: extLengths } : null,
    positions: opts.positions ? framePositions(ds, frames) : null,
  };
  return instance;
}
