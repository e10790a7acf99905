/**
 * HistomicsTK / Digital Slide Archive annotation JSON: an array of Girder
 * annotation documents ({annotation: {name, elements}}), one document, or a
 * bare annotation ({name, elements}). Elements: polyline (closed → polygon),
 * point, rectangle, ellipse, circle, arrow. The element's group (or label)
 * is its class; lineColor gives the class colour.
 */
import { randomUUID } from 'node:crypto';
import type { AnnotationInput, Geometry, Position } from '../../src/core/annotation.js';
import { GeometryError, normaliseGeometry } from '../../src/core/annotation.js';
import { ellipseRing, rotatedRectangleRing } from '../../src/core/shapes.js';
import { jsonTooDeep } from './nesting.js';
import { FormatError, rgbHex, type ImportSink } from './types.js';

export const MAX_JSON_BYTES = 256 * 1024 * 1024;

export function cssColour(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (/^#[0-9a-f]{6}$/i.test(s)) return s.toLowerCase();
  if (/^#[0-9a-f]{3}$/i.test(s)) return `#${s[1]}${s[1]}${s[2]}${s[2]}${s[3]}${s[3]}`.toLowerCase();
  const m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)/i.exec(s);
  return m ? rgbHex(Number(m[1]), Number(m[2]), Number(m[3])) : null;
}

function num(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError('must be a finite number', where);
  return v;
}

function point(v: unknown, where: string): Position {
  if (!Array.isArray(v) || v.length < 2) throw new FormatError('a point must be [x, y] or [x, y, z]', where);
  return [num(v[0], `${where}[0]`), num(v[1], `${where}[1]`)];
}

function documents(doc: unknown): Array<{ name: string; elements: unknown[]; where: string }> {
  const one = (d: unknown, where: string): { name: string; elements: unknown[]; where: string } => {
    if (!d || typeof d !== 'object' || Array.isArray(d)) throw new FormatError('an annotation document must be an object', where);
    const o = d as Record<string, unknown>;
    const ann = (o['annotation'] ?? o) as Record<string, unknown>;
    if (!ann || typeof ann !== 'object' || !Array.isArray(ann['elements'])) throw new FormatError('an annotation needs an "elements" array', where);
    return { name: typeof ann['name'] === 'string' ? ann['name'] : '', elements: ann['elements'], where };
  };
  if (Array.isArray(doc)) return doc.map((d, i) => one(d, `[${i}]`));
  return [one(doc, 'document')];
}

function element(e: unknown, where: string): { geometry: Geometry; kind: AnnotationInput['kind'] } | string {
  if (!e || typeof e !== 'object' || Array.isArray(e)) throw new FormatError('an element must be an object', where);
  const o = e as Record<string, unknown>;
  const rot = typeof o['rotation'] === 'number' ? o['rotation'] : 0;
  switch (o['type']) {
    case 'polyline': {
      if (!Array.isArray(o['points'])) throw new FormatError('a polyline needs "points"', where);
      const pts = o['points'].map((p, i) => point(p, `${where}.points[${i}]`));
      if (o['closed'] === true) {
        if (pts.length < 3) return `a closed polyline needs 3 points, it has ${pts.length}`;
        return { geometry: { type: 'Polygon', coordinates: [pts] }, kind: 'polygon' }; // closed by normaliseGeometry
      }
      if (pts.length < 2) return 'a polyline needs 2 points';
      return { geometry: { type: 'LineString', coordinates: pts }, kind: 'polyline' };
    }
    case 'point':
      return { geometry: { type: 'Point', coordinates: point(o['center'], `${where}.center`) }, kind: 'point' };
    case 'rectangle': {
      const [cx, cy] = point(o['center'], `${where}.center`);
      return { geometry: { type: 'Polygon', coordinates: [rotatedRectangleRing(cx, cy, num(o['width'], `${where}.width`), num(o['height'], `${where}.height`), rot)] }, kind: 'rectangle' };
    }
    case 'ellipse': {
      const [cx, cy] = point(o['center'], `${where}.center`);
      return { geometry: { type: 'Polygon', coordinates: [ellipseRing(cx, cy, num(o['width'], `${where}.width`) / 2, num(o['height'], `${where}.height`) / 2, rot)] }, kind: 'ellipse' };
    }
    case 'circle': {
      const [cx, cy] = point(o['center'], `${where}.center`);
      const r = num(o['radius'], `${where}.radius`);
      return { geometry: { type: 'Polygon', coordinates: [ellipseRing(cx, cy, r, r)] }, kind: 'ellipse' };
    }
    case 'arrow': {
      if (!Array.isArray(o['points']) || o['points'].length < 2) throw new FormatError('an arrow needs 2 points', where);
      return { geometry: { type: 'LineString', coordinates: o['points'].slice(0, 2).map((p, i) => point(p, `${where}.points[${i}]`)) }, kind: 'polyline' };
    }
    default:
      return `element type ${JSON.stringify(o['type'])} is not supported`;
  }
}

export function importHistomicsJson(text: string, sink: ImportSink): void {
  if (text.length > MAX_JSON_BYTES) throw new FormatError(`the file is larger than ${MAX_JSON_BYTES} bytes`, 'file');
  const deep = jsonTooDeep(text);
  if (deep) throw new FormatError(`the JSON is nested more than ${deep.limit} levels deep`, `line ${deep.line}, column ${deep.column}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : 1;
    throw new FormatError(`invalid JSON: ${(err as Error).message.split('\n')[0] ?? ''}`, `line ${line}`);
  }
  for (const d of documents(doc)) {
    d.elements.forEach((e, i) => {
      const where = `${d.where}.elements[${i}]`;
      const r = element(e, where);
      if (typeof r === 'string') {
        sink.skip({ where, reason: r });
        return;
      }
      let geometry: Geometry;
      try {
        geometry = normaliseGeometry(r.geometry, where);
      } catch (err) {
        if (err instanceof GeometryError) throw new FormatError(err.message, where);
        throw err;
      }
      const o = e as Record<string, unknown>;
      const label = (o['label'] as { value?: unknown } | undefined)?.value;
      const group = typeof o['group'] === 'string' && o['group'] ? o['group'] : typeof label === 'string' && label ? label : null;
      const colour = cssColour(o['lineColor']);
      if (group && colour) sink.classColour(group, colour);
      const properties: Record<string, unknown> = { histomicstk: { document: d.name, ...(typeof o['id'] === 'string' ? { id: o['id'] } : {}) } };
      for (const k of ['lineColor', 'fillColor', 'lineWidth'] as const) if (o[k] !== undefined) (properties['histomicstk'] as Record<string, unknown>)[k] = o[k];
      // the element's own data (a model's score, say) is kept as it was written
      if (o['user'] && typeof o['user'] === 'object' && !Array.isArray(o['user'])) properties['user'] = o['user'];
      sink.add({
        id: randomUUID(),
        kind: r.kind,
        geometry,
        classification: group,
        name: typeof label === 'string' && label !== group ? label : null,
        note: null,
        locked: false,
        objectType: 'annotation',
        properties,
      });
    });
  }
}
