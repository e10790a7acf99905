/**
 * The replacement label: a white image of the original label's size with
 * the study code drawn in black by a built-in 5×7 pixel font (no font files,
 * no text shaping, the same bytes on every machine, so a second run can
 * recognise its own label). Encoded as LZW strips like Aperio's labels.
 */
import { WsiError } from '../../src/core/errors.js';
import { lzwEncode } from '../tiff/lzw-encode.js';

/** Rows of 5 bits (MSB = left column) for each character. */
const GLYPHS: Record<string, number[]> = {
  '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31], '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14], '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14], '9': [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30], C: [14, 17, 16, 16, 16, 17, 14], D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16], G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14], J: [7, 2, 2, 2, 2, 18, 12], K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17], N: [17, 17, 25, 21, 19, 17, 17], O: [14, 17, 17, 17, 17, 17, 14], P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13], R: [30, 17, 17, 30, 20, 18, 17], S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14], V: [17, 17, 17, 17, 17, 10, 4], W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4], Z: [31, 1, 2, 4, 8, 16, 31], '-': [0, 0, 0, 31, 0, 0, 0], _: [0, 0, 0, 0, 0, 0, 31],
  '.': [0, 0, 0, 0, 0, 12, 12], ' ': [0, 0, 0, 0, 0, 0, 0],
};

/** Study codes: letters, digits, '-', '_', '.', 1–64 characters (what the font draws, and safe in file names). */
export const STUDY_CODE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkStudyCode(code: string): void {
  if (!STUDY_CODE.test(code)) throw new WsiError('BAD_REQUEST', 'a study code is 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit');
}

/** RGB pixels of a white label with `code` drawn centred, as large as fits. */
export function renderLabel(code: string, width: number, height: number): Uint8Array {
  checkStudyCode(code);
  const text = code.toUpperCase();
  const px = new Uint8Array(width * height * 3).fill(255);
  const cols = text.length * 6 - 1;
  const scale = Math.max(1, Math.min(Math.floor((width * 0.9) / cols), Math.floor((height * 0.5) / 7)));
  const x0 = Math.max(0, Math.floor((width - cols * scale) / 2));
  const y0 = Math.max(0, Math.floor((height - 7 * scale) / 2));
  for (const [i, ch] of [...text].entries()) {
    const rows = GLYPHS[ch] ?? GLYPHS[' '] as number[];
    for (let r = 0; r < 7; r++) {
      for (let c = 0; c < 5; c++) {
        if (!(((rows[r] as number) >> (4 - c)) & 1)) continue;
        for (let dy = 0; dy < scale; dy++) {
          const y = y0 + r * scale + dy;
          if (y >= height) continue;
          for (let dx = 0; dx < scale; dx++) {
            const x = x0 + (i * 6 + c) * scale + dx;
            if (x >= width) continue;
            px.fill(0, (y * width + x) * 3, (y * width + x) * 3 + 3);
          }
        }
      }
    }
  }
  return px;
}

export interface EncodedStrips {
  rowsPerStrip: number;
  strips: Buffer[];
}

/** LZW strips of an RGB raster (16 rows each). */
export function lzwStrips(rgb: Uint8Array, width: number, height: number, rowsPerStrip = 16): EncodedStrips {
  const strips: Buffer[] = [];
  for (let y = 0; y < height; y += rowsPerStrip) {
    const n = Math.min(rowsPerStrip, height - y);
    strips.push(Buffer.from(lzwEncode(rgb.subarray(y * width * 3, (y + n) * width * 3))));
  }
  return { rowsPerStrip, strips };
}
