/** TIFF tag numbers and field types used by the reader, validator and writer. */
export const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  Make: 271,
  Model: 272,
  StripOffsets: 273,
  Orientation: 274,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Software: 305,
  DateTime: 306,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SubIFDs: 330,
  ExtraSamples: 338,
  SampleFormat: 339,
  JPEGTables: 347,
  YCbCrSubSampling: 530,
  ReferenceBlackWhite: 532,
  XMP: 700,
  ImageDepth: 32997,
} as const;

export const FieldType = {
  BYTE: 1,
  ASCII: 2,
  SHORT: 3,
  LONG: 4,
  RATIONAL: 5,
  SBYTE: 6,
  UNDEFINED: 7,
  SSHORT: 8,
  SLONG: 9,
  SRATIONAL: 10,
  FLOAT: 11,
  DOUBLE: 12,
  IFD: 13,
  LONG8: 16,
  SLONG8: 17,
  IFD8: 18,
} as const;

const TYPE_SIZES: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
};

/** Byte size of one value of a TIFF field type, or 0 for an unknown type. */
export function typeSize(type: number): number {
  return TYPE_SIZES[type] ?? 0;
}

export const Compression = {
  NONE: 1,
  CCITT_RLE: 2,
  LZW: 5,
  OJPEG: 6,
  JPEG: 7,
  DEFLATE: 8,
  PACKBITS: 32773,
  ADOBE_DEFLATE: 32946,
  APERIO_JP2K_YCBCR: 33003,
  APERIO_JP2K_RGB: 33005,
  LERC: 34887,
  ZSTD: 50000,
  WEBP: 50001,
  JPEGXL: 50002,
} as const;

export const Photometric = {
  MINISWHITE: 0,
  MINISBLACK: 1,
  RGB: 2,
  PALETTE: 3,
  MASK: 4,
  SEPARATED: 5,
  YCBCR: 6,
} as const;
