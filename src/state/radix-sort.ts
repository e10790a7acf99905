/**
 * Stable argsort of a million numbers in tens of milliseconds. The keys are
 * first ordered by their float32 roundings (monotone, so never against the
 * float64 order): an LSD radix sort of 32-bit words in two 16-bit passes,
 * a pass skipped when every key shares its digit. The few runs whose
 * float32 words are equal but whose float64 keys differ are then put in
 * order by their full keys — by insertion when short, else by the 64-bit
 * radix sort (four passes). The annotation list sorts its columns with it;
 * a comparator sort of 10^6 handles takes several times as long. Ties keep
 * the order of the input; NaN sorts last either way; -0 equals 0.
 */

const DIGIT = 16;
const BUCKETS = 1 << DIGIT;
const MASK = BUCKETS - 1;
/** Runs of equal float32 words up to this long are finished by insertion. */
const SHORT_RUN = 32;
/** The word of NaN: above every other key's word, both ways. */
const NAN_WORD = 0xffffffff;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Sorts `idx` stably by `words` (and `hi`, when given: the high words), one 16-bit LSD pass each; `words` ends in the new order. */
function radixPasses(words: Uint32Array, idx: Uint32Array, passes: Array<{ src: 'lo' | 'hi'; shift: number }>, hi?: Uint32Array): Uint32Array {
  const n = idx.length;
  let lo: Uint32Array = words;
  let hiw: Uint32Array | null = hi ?? null;
  let lo2: Uint32Array = new Uint32Array(n);
  let hi2: Uint32Array | null = hiw ? new Uint32Array(n) : null;
  let idx2: Uint32Array = new Uint32Array(n);
  const count = new Uint32Array(BUCKETS);
  for (const { src: which, shift } of passes) {
    const src = which === 'lo' ? lo : (hiw as Uint32Array);
    count.fill(0);
    for (let i = 0; i < n; i++) count[((src[i] as number) >>> shift) & MASK]!++;
    if (count[((src[0] as number) >>> shift) & MASK] === n) continue; // one digit for all: nothing moves
    let sum = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const c = count[b] as number;
      count[b] = sum;
      sum += c;
    }
    if (hiw && hi2) {
      for (let i = 0; i < n; i++) {
        const d = ((src[i] as number) >>> shift) & MASK;
        const at = count[d]!++;
        lo2[at] = lo[i] as number;
        hi2[at] = hiw[i] as number;
        idx2[at] = idx[i] as number;
      }
      [hiw, hi2] = [hi2, hiw];
    } else {
      for (let i = 0; i < n; i++) {
        const d = ((src[i] as number) >>> shift) & MASK;
        const at = count[d]!++;
        lo2[at] = lo[i] as number;
        idx2[at] = idx[i] as number;
      }
    }
    [lo, lo2] = [lo2, lo];
    [idx, idx2] = [idx2, idx];
  }
  words.set(lo);
  return idx;
}

/** The 64-bit radix argsort: every key's float64 bits as a sortable [lo, hi] pair, four 16-bit passes. */
function sortByKey64(items: Uint32Array, keyOf: ArrayLike<number>, descending: boolean): Uint32Array {
  const n = items.length;
  const f = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = keyOf[items[i] as number] as number;
    f[i] = k === 0 ? 0 : k; // -0 as 0
  }
  const w = new Uint32Array(f.buffer);
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  const flip = descending ? 0xffffffff : 0;
  for (let i = 0; i < n; i++) {
    let l = w[2 * i] as number;
    let h = w[2 * i + 1] as number;
    if (f[i] !== f[i]) {
      lo[i] = NAN_WORD;
      hi[i] = NAN_WORD;
      continue;
    }
    if (h & 0x80000000) {
      // negative: flip every bit
      l = ~l >>> 0;
      h = ~h >>> 0;
    } else h = (h | 0x80000000) >>> 0;
    lo[i] = (l ^ flip) >>> 0;
    hi[i] = (h ^ flip) >>> 0;
  }
  return radixPasses(
    lo,
    items.slice(),
    [
      { src: 'lo', shift: 0 },
      { src: 'lo', shift: DIGIT },
      { src: 'hi', shift: 0 },
      { src: 'hi', shift: DIGIT },
    ],
    hi,
  );
}

/**
 * Returns `items` (handles) ordered by `keyOf[item]`, ascending or
 * descending. `items` is not changed.
 */
export function sortByKey(items: Uint32Array, keyOf: ArrayLike<number>, descending = false): Uint32Array {
  const n = items.length;
  if (n < 2) return items.slice();
  // each key rounded to float32, as a sortable unsigned word (flipped when descending)
  const words = new Uint32Array(n);
  const flip = descending ? 0xffffffff : 0;
  for (let i = 0; i < n; i++) {
    const k = keyOf[items[i] as number] as number;
    if (k !== k) {
      words[i] = NAN_WORD;
      continue;
    }
    f32[0] = k === 0 ? 0 : k; // -0 as 0
    const u = u32[0] as number;
    words[i] = ((u & 0x80000000 ? ~u : u | 0x80000000) ^ flip) >>> 0;
  }
  const idx = radixPasses(words, items.slice(), [
    { src: 'lo', shift: 0 },
    { src: 'lo', shift: DIGIT },
  ]);
  // runs of one word whose full keys differ: put in order by the full keys (stable)
  const before = descending ? (a: number, b: number): boolean => a > b : (a: number, b: number): boolean => a < b;
  for (let a = 0; a < n; ) {
    const w = words[a] as number;
    let b = a + 1;
    while (b < n && words[b] === w) b++;
    if (b - a > 1 && w !== NAN_WORD) {
      let sorted = true;
      for (let i = a + 1; i < b && sorted; i++) if (before(keyOf[idx[i] as number] as number, keyOf[idx[i - 1] as number] as number)) sorted = false;
      if (!sorted) {
        if (b - a <= SHORT_RUN) {
          for (let i = a + 1; i < b; i++) {
            const h = idx[i] as number;
            const k = keyOf[h] as number;
            let j = i - 1;
            while (j >= a && before(k, keyOf[idx[j] as number] as number)) {
              idx[j + 1] = idx[j] as number;
              j--;
            }
            idx[j + 1] = h;
          }
        } else idx.set(sortByKey64(idx.subarray(a, b), keyOf, descending), a);
      }
    }
    a = b;
  }
  return idx;
}
