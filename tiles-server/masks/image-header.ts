/**
 * The size a label image claims, read from its first bytes before any
 * decoder runs: a PNG's IHDR, or the ImageWidth/ImageLength of a TIFF's
 * first IFD (classic or BigTIFF, either byte order). A 390 KB PNG can claim
 * 20,000 × 20,000 pixels; the cap is checked here, so such a file costs a
 * few reads, not 400 MB. Anything unreadable is left to the decoder, which
 * refuses it with its own message.
 */
import { open } from 'node:fs/promises';

export interface ImageHeader {
  format: 'png' | 'tiff';
  width: number;
  height: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Entries read from a TIFF's first IFD at most (ImageWidth and ImageLength come early: tags are sorted). */
const MAX_ENTRIES = 4096;

type Read = (offset: number, length: number) => Promise<Buffer>;

function png(head: Buffer): ImageHeader | null {
  if (head.length < 24 || !head.subarray(0, 8).equals(PNG_SIGNATURE) || head.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { format: 'png', width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
}

async function tiff(head: Buffer, read: Read): Promise<ImageHeader | null> {
  if (head.length < 8) return null;
  const le = head.toString('latin1', 0, 2) === 'II';
  if (!le && head.toString('latin1', 0, 2) !== 'MM') return null;
  const u16 = (b: Buffer, at: number): number => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u64 = (b: Buffer, at: number): number => Number(le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
  const version = u16(head, 2);
  if (version !== 42 && version !== 43) return null;
  const big = version === 43;
  if (big && head.length < 16) return null;
  const ifd = big ? u64(head, 8) : u32(head, 4);
  const countBytes = big ? 8 : 2;
  const entryBytes = big ? 20 : 12;
  const countBuf = await read(ifd, countBytes);
  if (countBuf.length < countBytes) return null;
  const count = Math.min(MAX_ENTRIES, big ? u64(countBuf, 0) : u16(countBuf, 0));
  const entries = await read(ifd + countBytes, count * entryBytes);
  let width: number | null = null;
  let height: number | null = null;
  for (let i = 0; i + entryBytes <= entries.length && (width === null || height === null); i += entryBytes) {
    const tag = u16(entries, i);
    if (tag !== 256 && tag !== 257) continue;
    const type = u16(entries, i + 2);
    const at = i + (big ? 12 : 8);
    // SHORT, LONG or LONG8, inline
    const value = type === 3 ? u16(entries, at) : type === 4 ? u32(entries, at) : type === 16 && big ? u64(entries, at) : null;
    if (tag === 256) width = value;
    else height = value;
  }
  return width !== null && height !== null ? { format: 'tiff', width, height } : null;
}

/** The claimed size of a PNG or TIFF file, or null when the header cannot say. */
export async function readImageHeader(path: string): Promise<ImageHeader | null> {
  const file = await open(path, 'r');
  try {
    const read: Read = async (offset, length) => {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, 1 << 20)));
      const { bytesRead } = await file.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead);
    };
    const head = await read(0, 32);
    return png(head) ?? (await tiff(head, read));
  } finally {
    await file.close();
  }
}
