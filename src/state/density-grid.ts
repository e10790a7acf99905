/**
 * Counts of annotations per coarse cell of the slide, kept current from
 * change sets, so the renderer can tell in microseconds whether a view holds
 * a few hundred outlines (draw them) or a few hundred thousand (draw the
 * cached raster level of detail instead).
 */
import type { AnnotationStore, ChangeSet, Handle } from './annotation-store.js';

export class DensityGrid {
  private counts: Uint32Array;
  private readonly cols: number;
  private readonly rows: number;
  /** The cell each handle was counted in (-1: none). */
  private cellOf = new Int32Array(1024).fill(-1);

  constructor(
    private readonly store: AnnotationStore,
    private readonly width: number,
    private readonly height: number,
    private readonly cell = 1024,
  ) {
    this.cols = Math.max(1, Math.ceil(width / cell));
    this.rows = Math.max(1, Math.ceil(height / cell));
    this.counts = new Uint32Array(this.cols * this.rows);
    store.observe((cs) => this.onChange(cs));
  }

  private cellFor(h: Handle): number {
    const [x0, y0, x1, y1] = this.store.bounds(h);
    const cx = Math.min(this.cols - 1, Math.max(0, Math.floor((x0 + x1) / 2 / this.cell)));
    const cy = Math.min(this.rows - 1, Math.max(0, Math.floor((y0 + y1) / 2 / this.cell)));
    return cy * this.cols + cx;
  }

  private add(h: Handle): void {
    if (h >= this.cellOf.length) {
      const n = new Int32Array(Math.max(h + 1, this.cellOf.length * 2)).fill(-1);
      n.set(this.cellOf);
      this.cellOf = n;
    }
    const c = this.cellFor(h);
    this.cellOf[h] = c;
    this.counts[c] = (this.counts[c] as number) + 1;
  }

  private remove(h: Handle): void {
    const c = h < this.cellOf.length ? (this.cellOf[h] as number) : -1;
    if (c >= 0) {
      this.counts[c] = (this.counts[c] as number) - 1;
      this.cellOf[h] = -1;
    }
  }

  private onChange(cs: ChangeSet): void {
    for (const h of cs.created) this.add(h);
    for (const u of cs.updated) {
      this.remove(u.handle);
      this.add(u.handle);
    }
    for (const d of cs.deleted) this.remove(d.handle);
  }

  /** Upper bound on annotations whose centre lies in the box. */
  estimate(x0: number, y0: number, x1: number, y1: number): number {
    const c0 = Math.max(0, Math.floor(x0 / this.cell));
    const r0 = Math.max(0, Math.floor(y0 / this.cell));
    const c1 = Math.min(this.cols - 1, Math.floor(x1 / this.cell));
    const r1 = Math.min(this.rows - 1, Math.floor(y1 / this.cell));
    let n = 0;
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) n += this.counts[r * this.cols + c] as number;
    return n;
  }

  get extent(): [number, number] {
    return [this.width, this.height];
  }
}
