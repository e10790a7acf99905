/**
 * JPEG marker segments that can carry text (COM, APP1–APP13, APP15: EXIF,
 * XMP, ICC aside, vendor notes): found in tiles that are copied bit for bit
 * (the file is refused, since removing them would change the tile), and
 * removed from JPEGTables, which only needs its DQT/DHT segments.
 */

/** The first text-capable segment before the image data, as "COM" or "APPn"; null when none. */
export function textSegmentIn(jpeg: Uint8Array): string | null {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return null;
  let p = 2;
  while (p + 4 <= jpeg.length) {
    if (jpeg[p] !== 0xff) return null;
    const marker = jpeg[p + 1] as number;
    if (marker === 0xff) {
      p++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null;
    const len = ((jpeg[p + 2] as number) << 8) | (jpeg[p + 3] as number);
    if (marker === 0xfe) return 'COM';
    if (marker >= 0xe1 && marker <= 0xef && marker !== 0xee) return `APP${marker - 0xe0}`;
    p += 2 + len;
  }
  return null;
}

/** JPEGTables without COM/APPn segments (APP0 and APP14 kept); the input itself when there were none. */
export function stripTextSegments(tables: Buffer): { bytes: Buffer; removed: string[] } {
  if (tables[0] !== 0xff || tables[1] !== 0xd8) return { bytes: tables, removed: [] };
  const parts: Buffer[] = [tables.subarray(0, 2)];
  const removed: string[] = [];
  let p = 2;
  while (p + 2 <= tables.length) {
    const marker = tables[p + 1] as number;
    if (tables[p] !== 0xff || marker === 0xd9 || p + 4 > tables.length) {
      parts.push(tables.subarray(p));
      break;
    }
    const len = tables.readUInt16BE(p + 2);
    const seg = tables.subarray(p, p + 2 + len);
    if (marker === 0xfe) removed.push('COM');
    else if (marker >= 0xe1 && marker <= 0xef && marker !== 0xee) removed.push(`APP${marker - 0xe0}`);
    else parts.push(seg);
    p += 2 + len;
  }
  return removed.length ? { bytes: Buffer.concat(parts), removed } : { bytes: tables, removed };
}
