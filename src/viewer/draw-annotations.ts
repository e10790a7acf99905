/**
 * Draws annotations onto a 2D canvas through a linear image→canvas
 * transform, one path per class (one fill and one stroke call each), with
 * objects smaller than two pixels drawn as dots. Used for the live vector
 * view and for the cached level-of-detail tiles.
 */
import { GeomType, forEachRing } from '../core/flat-geometry.js';
import type { AnnotationStore, Handle } from '../state/annotation-store.js';
import type { CanvasTransform } from './view-transform.js';

/** canvas = origin + image × scale (see view-transform.ts) */
export type Transform = CanvasTransform;

export interface DrawStyle {
  /** Colour of each class index (store.classes()), and of unclassified objects. */
  colour(classIndex: number): string;
  fillAlpha: number;
  lineWidth: number;
  outlineOnly: boolean;
  /** How much of a class (index in store.classes(), -1 unclassified) is drawn: 0 hidden, 1 full (the Layers table); absent: 1. */
  classAlpha?: (classIndex: number) => number;
  /** Which layer an object is in: 0 one's own (and everyone's shown as such), 1 the compared reader's (src/state/compared-reader.ts); absent: 0. */
  layerOf?: (h: Handle) => 0 | 1;
  /** How much of layer 1 is drawn (its objects are outlined dashed); absent: 1. */
  readerAlpha?: number;
}

type Ctx = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

function hashColour(name: string): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return `hsl(${h % 360}, 70%, 50%)`;
}

/** Colours by class name from the palette; unknown classes get a stable hue. */
export function paletteColours(store: AnnotationStore, palette: Map<string, string>, unclassified = '#f1c40f'): (i: number) => string {
  const cache: string[] = [];
  return (i) => {
    if (i < 0) return unclassified;
    let c = cache[i];
    if (!c) {
      const name = store.classes()[i] ?? '';
      c = palette.get(name) ?? hashColour(name);
      cache[i] = c;
    }
    return c;
  };
}

/**
 * Draws `handles[from, to)`. Returns how many were drawn. Handles are
 * grouped by class (and layer) so each class costs one fill and one stroke.
 */
export function drawHandles(ctx: Ctx, store: AnnotationStore, handles: ArrayLike<Handle>, from: number, to: number, t: Transform, style: DrawStyle): number {
  const byClass = new Map<number, Handle[]>();
  for (let i = from; i < to; i++) {
    const h = handles[i] as Handle;
    if (!store.isLive(h)) continue;
    // the key: the class index (from −1) times two, plus the layer
    const c = (store.classIndexOf(h) + 1) * 2 + (style.layerOf?.(h) ?? 0);
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(h);
  }
  for (const [key, list] of byClass) {
    const cls = (key >> 1) - 1;
    const reader = (key & 1) === 1;
    const alpha = (style.classAlpha ? style.classAlpha(cls) : 1) * (reader ? (style.readerAlpha ?? 1) : 1);
    if (alpha <= 0) continue;
    ctx.setLineDash(reader ? [6, 4] : []);
    const colour = style.colour(cls);
    const polys = new Path2D();
    const lines = new Path2D();
    const dots: number[] = [];
    let hasPolys = false;
    let hasLines = false;
    for (const h of list) {
      const g = store.geometry(h);
      const c = g.coords;
      if (g.type === GeomType.Polygon || g.type === GeomType.MultiPolygon) {
        const [x0, y0, x1, y1] = store.bounds(h);
        if ((x1 - x0) * t.scale < 2 && (y1 - y0) * t.scale < 2) {
          dots.push(t.ox + ((x0 + x1) / 2) * t.scale, t.oy + ((y0 + y1) / 2) * t.scale);
          continue;
        }
        forEachRing(g.type, g.parts, (start, count) => {
          polys.moveTo(t.ox + (c[start * 2] as number) * t.scale, t.oy + (c[start * 2 + 1] as number) * t.scale);
          for (let i = 1; i < count; i++) polys.lineTo(t.ox + (c[(start + i) * 2] as number) * t.scale, t.oy + (c[(start + i) * 2 + 1] as number) * t.scale);
          polys.closePath();
        });
        hasPolys = true;
      } else if (g.type === GeomType.LineString) {
        lines.moveTo(t.ox + (c[0] as number) * t.scale, t.oy + (c[1] as number) * t.scale);
        for (let k = 2; k < c.length; k += 2) lines.lineTo(t.ox + (c[k] as number) * t.scale, t.oy + (c[k + 1] as number) * t.scale);
        hasLines = true;
      } else {
        for (let k = 0; k < c.length; k += 2) {
          const x = t.ox + (c[k] as number) * t.scale;
          const y = t.oy + (c[k + 1] as number) * t.scale;
          lines.moveTo(x + 4, y);
          lines.arc(x, y, 4, 0, Math.PI * 2);
        }
        hasLines = true;
      }
    }
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = style.lineWidth;
    if (hasPolys) {
      if (!style.outlineOnly && style.fillAlpha > 0) {
        ctx.globalAlpha = style.fillAlpha * alpha;
        ctx.fill(polys, 'evenodd');
      }
      ctx.globalAlpha = alpha;
      ctx.stroke(polys);
    }
    ctx.globalAlpha = alpha;
    if (hasLines) ctx.stroke(lines);
    for (let i = 0; i < dots.length; i += 2) ctx.fillRect(Math.floor(dots[i] as number), Math.floor(dots[i + 1] as number), 1.5, 1.5);
    ctx.globalAlpha = 1;
  }
  ctx.setLineDash([]);
  return to - from;
}
