/**
 * The exact joint count of several readers' labels over a region: for every
 * combination of class ids the readers gave one pixel (a "tuple"), how many
 * pixels got it. Every mask metric of agreement — pairwise confusion,
 * Cohen's and Fleiss' kappa, Dice, IoU, majority vote, and STAPLE, whose EM
 * gives the same posterior to every pixel with the same tuple — is a
 * function of these counts, so a gigapixel region reduces to a few hundred
 * numbers with nothing sampled, and partial counts (per band, per worker)
 * simply add up.
 *
 * A tuple is keyed as Σ label_r · 256^r (reader r's class id in byte r), so
 * at most MAX_READERS readers (256^6 < 2^53). Class id 0 (unlabelled) is a
 * label like any other: a pixel of the region one reader left unpainted
 * counts as "unlabelled" for that reader (the stated rule of AGR-03).
 */

export const MAX_READERS = 6;

/** Tuple key → pixel count. */
export type TupleCounts = Map<number, number>;

export function tupleKey(labels: ArrayLike<number>): number {
  let k = 0;
  for (let r = labels.length - 1; r >= 0; r--) k = k * 256 + (labels[r] as number);
  return k;
}

/** Reader r's label in a tuple key. */
export function labelOf(key: number, r: number): number {
  return Math.floor(key / 256 ** r) % 256;
}

/** The labels of a tuple key for `readers` readers. */
export function labelsOf(key: number, readers: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < readers; r++) {
    out.push(key % 256);
    key = Math.floor(key / 256);
  }
  return out;
}

export function addCount(into: TupleCounts, key: number, n: number): void {
  if (n > 0) into.set(key, (into.get(key) ?? 0) + n);
}

/** Adds `from` into `into`. */
export function mergeCounts(into: TupleCounts, from: TupleCounts | Iterable<[number, number]>): TupleCounts {
  for (const [k, n] of from) addCount(into, k, n);
  return into;
}

/**
 * Counts the tuples of pixels start … end−1 of the readers' arrays (one per
 * reader, same indexing), run by run: a run of pixels where no reader's
 * label changes is one map update.
 */
export function countRange(into: TupleCounts, labels: readonly Uint8Array[], start: number, end: number): void {
  const R = labels.length;
  if (end <= start) return;
  if (R === 2) return count2(into, labels[0] as Uint8Array, labels[1] as Uint8Array, start, end);
  if (R === 3) return count3(into, labels[0] as Uint8Array, labels[1] as Uint8Array, labels[2] as Uint8Array, start, end);
  const keyAt = (i: number): number => {
    let k = 0;
    for (let r = R - 1; r >= 0; r--) k = k * 256 + ((labels[r] as Uint8Array)[i] as number);
    return k;
  };
  let key = keyAt(start);
  let from = start;
  for (let i = start + 1; i < end; i++) {
    const k = keyAt(i);
    if (k !== key) {
      addCount(into, key, i - from);
      key = k;
      from = i;
    }
  }
  addCount(into, key, end - from);
}

function count2(into: TupleCounts, a: Uint8Array, b: Uint8Array, start: number, end: number): void {
  let key = (a[start] as number) + (b[start] as number) * 256;
  let from = start;
  for (let i = start + 1; i < end; i++) {
    const k = (a[i] as number) + (b[i] as number) * 256;
    if (k !== key) {
      addCount(into, key, i - from);
      key = k;
      from = i;
    }
  }
  addCount(into, key, end - from);
}

function count3(into: TupleCounts, a: Uint8Array, b: Uint8Array, c: Uint8Array, start: number, end: number): void {
  let key = (a[start] as number) + (b[start] as number) * 256 + (c[start] as number) * 65536;
  let from = start;
  for (let i = start + 1; i < end; i++) {
    const k = (a[i] as number) + (b[i] as number) * 256 + (c[i] as number) * 65536;
    if (k !== key) {
      addCount(into, key, i - from);
      key = k;
      from = i;
    }
  }
  addCount(into, key, end - from);
}

/** The joint counts of whole label arrays (one per reader, same length). */
export function countTuples(labels: readonly Uint8Array[]): TupleCounts {
  if (labels.length < 1 || labels.length > MAX_READERS) throw new RangeError(`1 to ${MAX_READERS} readers, not ${labels.length}`);
  const n = (labels[0] as Uint8Array).length;
  if (labels.some((l) => l.length !== n)) throw new RangeError('every reader needs a label for every pixel');
  const out: TupleCounts = new Map();
  countRange(out, labels, 0, n);
  return out;
}
