/**
 * Regions of interest as the mask edits take them: annotation polygons
 * (not detections) as flat rings per polygon, either those touching a box
 * (found through the spatial index) or a given list (the selection).
 */
import { GeomType, forEachRing } from '../core/flat-geometry.js';
import type { AnnotationStore, Handle } from './annotation-store.js';
import type { SpatialIndex } from './spatial-index.js';

/** Annotation polygons touching the box, each as its flat rings (a MultiPolygon's parts fill together: even-odd keeps holes). */
export function roisIn(store: AnnotationStore, index: SpatialIndex, x0: number, y0: number, x1: number, y1: number): Float64Array[][] {
  return polygonRings(store, index.query(x0, y0, x1, y1), true);
}

/** The given objects that are polygons (any object type), as flat rings. */
export function polygonRings(store: AnnotationStore, handles: readonly Handle[], annotationsOnly = false): Float64Array[][] {
  const out: Float64Array[][] = [];
  for (const h of handles) {
    if (!store.isLive(h)) continue;
    const g = store.geometry(h);
    if (g.type !== GeomType.Polygon && g.type !== GeomType.MultiPolygon) continue;
    if (annotationsOnly && store.record(h).objectType !== 'annotation') continue;
    const rings: Float64Array[] = [];
    forEachRing(g.type, g.parts, (start, count) => rings.push(g.coords.slice(start * 2, (start + count) * 2)));
    out.push(rings);
  }
  return out;
}
