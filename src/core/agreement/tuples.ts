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
  const counter = new TupleCounter(labels.length);
  counter.addRange(labels, 0, n);
  return counter.result();
}

/**
 * The joint counts kept in a dense array while the class ids seen stay few
 * (each reader's class id → a compact index, `capacity` of them, and
 * capacity^readers ≤ 2^20 cells): one array update per run of pixels instead of
 * a map update per run, which is what makes a gigapixel count fast. Past
 * the capacity (or for more readers) it moves everything into a TupleCounts
 * map and goes on there; the result is the same either way.
 */
export class TupleCounter {
  private readonly lut = new Int32Array(256).fill(-1);
  private readonly ids: number[] = [];
  private dense: Float64Array | null;
  private map: TupleCounts | null = null;

  constructor(
    readonly readers: number,
    private readonly capacity = 32,
  ) {
    if (readers < 1 || readers > MAX_READERS) throw new RangeError(`1 to ${MAX_READERS} readers, not ${readers}`);
    this.dense = capacity ** readers <= 1 << 20 ? new Float64Array(capacity ** readers) : null;
    if (!this.dense) this.map = new Map();
    this.index(0);
  }

  /** The compact index of a class id (registering it), or -1 once the dense array is given up. */
  private index(id: number): number {
    const k = this.lut[id] as number;
    if (k >= 0) return k;
    if (!this.dense) return -1;
    if (this.ids.length >= this.capacity) {
      this.toMap();
      return -1;
    }
    this.lut[id] = this.ids.length;
    this.ids.push(id);
    return this.ids.length - 1;
  }

  /** Registers class ids before counting (e.g. a tile's stored counts), so the dense path never stops for them. */
  expect(ids: Iterable<number>): void {
    for (const id of ids) this.index(id);
  }

  private toMap(): void {
    const map = this.denseAsMap(this.dense as Float64Array);
    this.dense = null;
    this.map = map;
  }

  /** The dense counts keyed by tuple (tupleKey's encoding): each cell's index spells the readers' ids in base `capacity`. */
  private denseAsMap(dense: Float64Array): TupleCounts {
    const map: TupleCounts = new Map();
    const K = this.capacity;
    for (let i = 0; i < dense.length; i++) {
      const n = dense[i] as number;
      if (n === 0) continue;
      let rest = i;
      let key = 0;
      let scale = 1;
      for (let r = 0; r < this.readers; r++) {
        key += (this.ids[rest % K] as number) * scale;
        rest = Math.floor(rest / K);
        scale *= 256;
      }
      map.set(key, n);
    }
    return map;
  }

  /** Adds n pixels of the tuple `key` (tupleKey's encoding). */
  addKey(key: number, n: number): void {
    if (this.dense) {
      let idx = 0;
      let scale = 1;
      let k = key;
      for (let r = 0; r < this.readers; r++) {
        const c = this.index(k % 256);
        if (c < 0) break;
        idx += c * scale;
        scale *= this.capacity;
        k = Math.floor(k / 256);
      }
      if (this.dense) {
        this.dense[idx] = (this.dense[idx] as number) + n;
        return;
      }
    }
    addCount(this.map as TupleCounts, key, n);
  }

  /** Counts pixels start … end−1 of the readers' arrays (one per reader, same indexing). */
  addRange(labels: readonly Uint8Array[], start: number, end: number): void {
    if (labels.length !== this.readers) throw new RangeError('one label array per reader');
    if (end <= start) return;
    const dense = this.dense;
    if (dense && this.readers === 3) return this.dense3(labels[0] as Uint8Array, labels[1] as Uint8Array, labels[2] as Uint8Array, start, end);
    if (dense && this.readers === 2) return this.dense2(labels[0] as Uint8Array, labels[1] as Uint8Array, start, end);
    if (dense) {
      for (let i = start; i < end; i++) {
        let key = 0;
        for (let r = this.readers - 1; r >= 0; r--) key = key * 256 + ((labels[r] as Uint8Array)[i] as number);
        this.addKey(key, 1);
      }
      return;
    }
    countRange(this.map as TupleCounts, labels, start, end);
  }

  private dense2(a: Uint8Array, b: Uint8Array, start: number, end: number): void {
    const lut = this.lut;
    const dense = this.dense as Float64Array;
    const K = this.capacity;
    // run by run, as dense3
    let i = start;
    while (i < end) {
      const va = a[i] as number;
      const vb = b[i] as number;
      let j = i + 1;
      while (j < end && a[j] === va && b[j] === vb) j++;
      const ia = lut[va] as number;
      const ib = lut[vb] as number;
      if ((ia | ib) >= 0) dense[ia + ib * K] = (dense[ia + ib * K] as number) + (j - i);
      else {
        this.addKey(va + vb * 256, j - i);
        // the dense array was given up: the rest on the map
        if (!this.dense) return countRange(this.map as TupleCounts, [a, b], j, end);
      }
      i = j;
    }
  }

  private dense3(a: Uint8Array, b: Uint8Array, c: Uint8Array, start: number, end: number): void {
    const lut = this.lut;
    const dense = this.dense as Float64Array;
    const K = this.capacity;
    const K2 = K * K;
    // run by run: a run is scanned with three byte compares per pixel, and ends in one array update
    let i = start;
    while (i < end) {
      const va = a[i] as number;
      const vb = b[i] as number;
      const vc = c[i] as number;
      let j = i + 1;
      while (j < end && a[j] === va && b[j] === vb && c[j] === vc) j++;
      const ia = lut[va] as number;
      const ib = lut[vb] as number;
      const ic = lut[vc] as number;
      if ((ia | ib | ic) >= 0) dense[ia + ib * K + ic * K2] = (dense[ia + ib * K + ic * K2] as number) + (j - i);
      else {
        this.addKey(va + vb * 256 + vc * 65536, j - i);
        // the dense array was given up: the rest on the map
        if (!this.dense) return countRange(this.map as TupleCounts, [a, b, c], j, end);
      }
      i = j;
    }
  }

  /** The counts so far, as a TupleCounts map. */
  result(): TupleCounts {
    if (!this.dense) return new Map(this.map as TupleCounts);
    return this.denseAsMap(this.dense);
  }
}
