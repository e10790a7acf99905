/**
 * TIFF text tags as their writers meant them. TIFF ASCII is 7-bit, but real
 * files put UTF-8 in ImageDescription (most scanners) or UTF-16 (PerkinElmer
 * QPTIFF writers declare utf-16 in the XML; some files really are, with or
 * without a byte-order mark). Decoding UTF-16 bytes as UTF-8 turns every
 * other byte into a NUL, so the encoding is decided from the bytes here.
 */

/** The encoding of a text value: from its byte-order mark, or from NULs in the first two characters. */
export function textEncodingOf(bytes: Uint8Array): { encoding: 'utf-8' | 'utf-16le' | 'utf-16be'; bom: number } {
  const [b0, b1, b2, b3] = [bytes[0], bytes[1], bytes[2], bytes[3]];
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return { encoding: 'utf-8', bom: 3 };
  if (b0 === 0xff && b1 === 0xfe) return { encoding: 'utf-16le', bom: 2 };
  if (b0 === 0xfe && b1 === 0xff) return { encoding: 'utf-16be', bom: 2 };
  // no mark: text that starts with two ASCII characters ("<?", "<P") shows its width in the NULs
  if (bytes.length >= 4) {
    if (b0 !== 0 && b1 === 0 && b2 !== 0 && b3 === 0) return { encoding: 'utf-16le', bom: 0 };
    if (b0 === 0 && b1 !== 0 && b2 === 0 && b3 !== 0) return { encoding: 'utf-16be', bom: 0 };
  }
  return { encoding: 'utf-8', bom: 0 };
}

/** Decodes a text value (invalid sequences become U+FFFD, as with any lenient reader) and drops trailing NULs. */
export function decodeTiffText(bytes: Uint8Array): string {
  const { encoding, bom } = textEncodingOf(bytes);
  let body = bytes.subarray(bom);
  // an odd trailing byte (the ASCII terminator after UTF-16 text) is not part of the text
  if (encoding !== 'utf-8' && body.length % 2 === 1) body = body.subarray(0, body.length - 1);
  return new TextDecoder(encoding, { ignoreBOM: true }).decode(body).replace(/\0+$/, '');
}
