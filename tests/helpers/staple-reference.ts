/**
 * Multi-class STAPLE (Warfield, Zou & Wells 2004) written plainly, pixel by
 * pixel, with the rules src/core/agreement/consensus.ts states (prior fixed
 * to the readers' label shares, EM started from the votes, a class with no
 * weight gets a uniform column, a pixel of probability 0 everywhere gets
 * the prior): the reference the unit test and the soft-label test compare
 * the module with. `tolerance`: stop when no θ entry moves by more than it.
 */
export function referenceStaple(labels: Uint8Array[], iterations: number, tolerance: number): { classes: number[]; theta: number[][][]; W: number[][] } {
  const R = labels.length;
  const N = (labels[0] as Uint8Array).length;
  const classes = [...new Set(labels.flatMap((l) => [...l]))].sort((a, b) => a - b);
  const K = classes.length;
  const idx = (c: number): number => classes.indexOf(c);
  const f = classes.map((c) => labels.reduce((s, l) => s + l.filter((x) => x === c).length, 0) / (N * R));
  let W: number[][] = [];
  for (let i = 0; i < N; i++) {
    const w = new Array<number>(K).fill(0);
    for (const l of labels) w[idx(l[i] as number)] += 1 / R;
    W.push(w);
  }
  let theta = labels.map(() => classes.map(() => classes.map(() => 0)));
  for (let it = 0; it < iterations; it++) {
    const next = labels.map((l) =>
      classes.map((_, s) =>
        classes.map((__, t) => {
          let num = 0;
          let den = 0;
          for (let i = 0; i < N; i++) {
            den += (W[i] as number[])[t] as number;
            if (idx(l[i] as number) === s) num += (W[i] as number[])[t] as number;
          }
          return den === 0 ? 1 / K : num / den;
        }),
      ),
    );
    let moved = 0;
    for (let r = 0; r < R; r++) for (let s = 0; s < K; s++) for (let t = 0; t < K; t++) moved = Math.max(moved, Math.abs(next[r]![s]![t]! - theta[r]![s]![t]!));
    theta = next;
    W = [];
    for (let i = 0; i < N; i++) {
      const p = classes.map((_, t) => labels.reduce((prod, l, r) => prod * theta[r]![idx(l[i] as number)]![t]!, f[t] as number));
      const z = p.reduce((a, b) => a + b, 0);
      W.push(p.map((v, t) => (z === 0 ? (f[t] as number) : v / z)));
    }
    if (moved <= tolerance) break;
  }
  return { classes, theta, W };
}
