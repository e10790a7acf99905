/**
 * Per-ROI measurements for the measurement table and its CSV: area,
 * perimeter, the objects under each ROI per class (cells, detections,
 * points — nested ROIs included, from the hierarchy), and the painted mask's
 * pixels per class inside it; plus the slide's totals per class. Lengths
 * and areas are level-0 pixels here; the view converts with the MPP.
 */
import { flatArea, forEachRing } from '../core/flat-geometry.js';
import { maskCountsInRings } from '../core/mask/region-counts.js';
import { tileKey } from '../core/mask/mask-grid.js';
import type { AnnotationStore, Handle } from './annotation-store.js';
import type { Hierarchy } from './hierarchy.js';
import type { MaskStore } from './mask-store.js';

export interface RoiRow {
  handle: Handle;
  id: string;
  name: string | null;
  classification: string | null;
  parent: string | null;
  depth: number;
  areaPx: number;
  perimeterPx: number;
  /** Objects under the ROI (at any depth) per class name ("" = no class). */
  objects: Map<string, number>;
  /** Painted pixels per class id inside the ROI (index = id), or null without a mask. */
  maskPx: Float64Array | null;
}

export interface SlideTotals {
  objects: Map<string, number>;
  maskPx: Float64Array | null;
}

function perimeter(coords: ArrayLike<number>, type: number, parts: ArrayLike<number>): number {
  let p = 0;
  forEachRing(type, parts, (start, count) => {
    for (let i = 0; i < count - 1; i++) {
      const k = (start + i) * 2;
      p += Math.hypot((coords[k + 2] as number) - (coords[k] as number), (coords[k + 3] as number) - (coords[k + 1] as number));
    }
  });
  return p;
}

function ringsOf(coords: Float64Array, type: number, parts: ArrayLike<number>): Float64Array[] {
  const out: Float64Array[] = [];
  forEachRing(type, parts, (start, count) => out.push(coords.subarray(start * 2, (start + count) * 2)));
  return out;
}

/** Every ROI the hierarchy knows, parents before children. */
export function measureRois(store: AnnotationStore, hierarchy: Hierarchy, mask: MaskStore | null, slide: { width: number; height: number }): RoiRow[] {
  const rows: RoiRow[] = [];
  const tileAt = (tx: number, ty: number) => {
    const k = tileKey(tx, ty);
    return mask?.has(k) ? mask.get(k) : null;
  };
  for (const h of hierarchy.rois()) {
    const g = store.geometry(h);
    let depth = 0;
    for (let p = hierarchy.parentOf(h); p !== null; p = hierarchy.parentOf(p)) depth++;
    const parent = hierarchy.parentOf(h);
    const [bx0, by0, bx1, by1] = store.bounds(h);
    const clip = {
      x0: Math.max(0, Math.floor(bx0)),
      y0: Math.max(0, Math.floor(by0)),
      x1: Math.min(slide.width, Math.ceil(bx1) + 1),
      y1: Math.min(slide.height, Math.ceil(by1) + 1),
    };
    rows.push({
      handle: h,
      id: store.idOf(h),
      name: store.nameOf(h),
      classification: store.classOf(h),
      parent: parent === null ? null : (store.nameOf(parent) ?? store.idOf(parent)),
      depth,
      areaPx: flatArea(g.coords, 0, g.type, g.parts),
      perimeterPx: perimeter(g.coords, g.type, g.parts),
      objects: hierarchy.countsUnder(h),
      maskPx: mask && clip.x1 > clip.x0 && clip.y1 > clip.y0 ? maskCountsInRings(ringsOf(g.coords.slice(), g.type, g.parts), clip, tileAt) : null,
    });
  }
  // parents before their children, in order of size within a parent
  const byId = new Map(rows.map((r) => [r.handle, r]));
  const ordered: RoiRow[] = [];
  const visit = (r: RoiRow): void => {
    ordered.push(r);
    for (const c of hierarchy.childrenOf(r.handle)) {
      const child = byId.get(c);
      if (child) visit(child);
    }
  };
  for (const r of rows) if (hierarchy.parentOf(r.handle) === null) visit(r);
  return ordered;
}

/** Objects that are not ROIs per class over the whole slide, and the mask's pixels per class id. */
export function slideTotals(store: AnnotationStore, hierarchy: Hierarchy, mask: MaskStore | null): SlideTotals {
  const objects = new Map<string, number>();
  for (let h = 0; h < store.capacity; h++) {
    if (!store.isLive(h) || hierarchy.isRoi(h)) continue;
    const k = store.classOf(h) ?? '';
    objects.set(k, (objects.get(k) ?? 0) + 1);
  }
  return { objects, maskPx: mask ? mask.counts() : null };
}

/** A CSV field: quoted when it must be, and never read as a formula by a spreadsheet (a leading = + - @ is escaped). */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * The table as CSV: one line per ROI then a slide-totals line. With an MPP
 * lengths are µm and areas µm², otherwise pixels (the header says which).
 */
export function measurementsCsv(rows: RoiRow[], totals: SlideTotals, mpp: number | null, objectClasses: string[], maskClasses: Array<{ id: number; name: string }>): string {
  const len = mpp ? 'µm' : 'px';
  const area = (px: number): number => (mpp ? +(px * mpp * mpp).toFixed(3) : Math.round(px));
  const header = ['id', 'name', 'class', 'parent', 'depth', `area (${len}²)`, `perimeter (${len})`, ...objectClasses.map((c) => `objects: ${c || '(no class)'}`), ...maskClasses.map((c) => `mask area (${len}²): ${c.name}`)];
  const line = (cells: Array<string | number | null>): string => cells.map(csvField).join(',');
  const out = [line(header)];
  for (const r of rows) {
    out.push(
      line([
        r.id,
        r.name,
        r.classification,
        r.parent,
        r.depth,
        area(r.areaPx),
        mpp ? +(r.perimeterPx * mpp).toFixed(3) : +r.perimeterPx.toFixed(1),
        ...objectClasses.map((c) => r.objects.get(c) ?? 0),
        ...maskClasses.map((c) => (r.maskPx ? area(r.maskPx[c.id] as number) : null)),
      ]),
    );
  }
  out.push(line(['(slide)', 'all objects', null, null, null, null, null, ...objectClasses.map((c) => totals.objects.get(c) ?? 0), ...maskClasses.map((c) => (totals.maskPx ? area(totals.maskPx[c.id] as number) : null))]));
  return `${out.join('\r\n')}\r\n`;
}
