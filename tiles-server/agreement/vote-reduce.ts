/**
 * The soft-label pyramid's reduction (issue 14): each pixel of level k+1
 * of the soft-label TIFF is, channel by channel, the mean of the 2 × 2
 * block of level k under it, rounded half to even (2.5 → 2, 3.5 → 4), over
 * the block's pixels that lie inside level k (at the right and bottom edge
 * of an odd-sized level a block has 2 or 1 pixels). The mean keeps the
 * channels a distribution: a level-1 pixel of votes (3 readers) still sums
 * to about 3, and of STAPLE posteriors to about 255; half to even keeps the
 * rounding unbiased over many blocks. Integer arithmetic only, so the rule
 * is exact.
 */

/** round(sum / n), half to even, for non-negative integers (n ≥ 1). */
export function meanHalfEven(sum: number, n: number): number {
  const q = Math.floor(sum / n);
  const twice = 2 * (sum - q * n);
  if (twice > n) return q + 1;
  if (twice < n) return q;
  return q + (q & 1);
}

/**
 * Halves the `w` × `h` valid part of a `stride`-wide raster of `k` channels
 * per pixel (chunky) into a `outStride`-wide one: out pixel (x, y) for x <
 * ceil(w / 2), y < ceil(h / 2).
 */
export function halveVotes(src: Uint8Array, stride: number, w: number, h: number, k: number, out: Uint8Array, outStride: number): void {
  const w2 = Math.ceil(w / 2);
  const h2 = Math.ceil(h / 2);
  for (let y = 0; y < h2; y++) {
    const y0 = 2 * y;
    const rows = y0 + 1 < h ? 2 : 1;
    for (let x = 0; x < w2; x++) {
      const x0 = 2 * x;
      const cols = x0 + 1 < w ? 2 : 1;
      const n = rows * cols;
      const o = (y * outStride + x) * k;
      for (let c = 0; c < k; c++) {
        let sum = 0;
        for (let dy = 0; dy < rows; dy++) for (let dx = 0; dx < cols; dx++) sum += src[((y0 + dy) * stride + x0 + dx) * k + c] as number;
        out[o + c] = meanHalfEven(sum, n);
      }
    }
  }
}
