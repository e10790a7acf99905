/**
 * The mask pyramid's reduction: each pixel of level k+1 summarises a 2 × 2
 * block of level k.
 *
 * Rule: labelled beats unlabelled — the result is 0 only when all four are
 * 0 — and among the labelled values the most frequent wins; ties go to the
 * smaller class id (registry order, so the outcome never depends on where
 * the block sits). This keeps every painted structure visible at every zoom
 * (a one-pixel stroke survives to the smallest level, as a plain mode would
 * not: three unlabelled neighbours would outvote it), keeps the majority
 * class where classes meet, and is deterministic.
 */

/** The reduced value of one 2 × 2 block. */
export function reduce4(a: number, b: number, c: number, d: number): number {
  if ((a | b | c | d) === 0) return 0;
  let best = 0;
  let bestCount = 0;
  const vals = [a, b, c, d];
  for (let i = 0; i < 4; i++) {
    const v = vals[i] as number;
    if (v === 0) continue;
    let n = 0;
    for (let j = 0; j < 4; j++) if (vals[j] === v) n++;
    if (n > bestCount || (n === bestCount && v < best)) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}

/**
 * Halves a width × height Uint8 raster (row-major) into ceil(width/2) ×
 * ceil(height/2). Pixels past the edge count as unlabelled.
 */
export function downsample2(src: Uint8Array, width: number, height: number): Uint8Array {
  const w2 = Math.ceil(width / 2);
  const h2 = Math.ceil(height / 2);
  const out = new Uint8Array(w2 * h2);
  for (let y = 0; y < h2; y++) {
    const r0 = 2 * y * width;
    const hasR1 = 2 * y + 1 < height;
    const r1 = r0 + width;
    for (let x = 0; x < w2; x++) {
      const c0 = 2 * x;
      const hasC1 = c0 + 1 < width;
      const a = src[r0 + c0] as number;
      const b = hasC1 ? (src[r0 + c0 + 1] as number) : 0;
      const c = hasR1 ? (src[r1 + c0] as number) : 0;
      const d = hasR1 && hasC1 ? (src[r1 + c0 + 1] as number) : 0;
      // the common cases first: all equal (uniform areas), all unlabelled
      out[y * w2 + x] = a === b && b === c && c === d ? a : reduce4(a, b, c, d);
    }
  }
  return out;
}
