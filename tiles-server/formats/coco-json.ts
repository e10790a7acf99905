/**
 * COCO object annotations: a dataset document ({images, annotations,
 * categories}) or a bare results list ([{image_id, category_id, bbox,
 * segmentation?, score}], what detectors write). Each annotation becomes
 * one object: its polygon segmentation (several parts → MultiPolygon), or
 * its bbox as a rectangle when it has none. The category's name is the
 * class ("category N" in a results list, which has no categories). The
 * score and COCO's own ids are kept in properties. Masks in RLE form are
 * not objects: they are skipped with the reason (import a label image as a
 * mask instead). A file covers one image: objects of several images are
 * refused, since the slide is one image.
 */
import { randomUUID } from 'node:crypto';
import type { AnnotationInput, Geometry, LinearRing } from '../../src/core/annotation.js';
import { cssColour } from './histomicstk-json.js';
import { jsonTooDeep } from './nesting.js';
import { fileGeometry, FormatError, isPlainObject, type ImportSink } from './types.js';

function finite(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError('must be a finite number', where);
  return v;
}

/** The category names by id ("category N" when the file has none). */
function categoryNames(doc: unknown, sink: ImportSink): Map<string, string> | null {
  if (!isPlainObject(doc) || doc['categories'] === undefined) return null;
  const cats = doc['categories'];
  if (!Array.isArray(cats)) throw new FormatError('"categories" must be an array', 'categories');
  const out = new Map<string, string>();
  cats.forEach((c, i) => {
    if (!isPlainObject(c) || (typeof c['id'] !== 'number' && typeof c['id'] !== 'string') || typeof c['name'] !== 'string' || !c['name']) {
      throw new FormatError('a category needs an id and a name', `categories[${i}]`);
    }
    out.set(String(c['id']), c['name']);
    const colour = cssColour(c['color']);
    if (colour) sink.classColour(c['name'], colour);
  });
  return out;
}

/** A polygon segmentation ([[x1, y1, x2, y2, …], …]) as a geometry; a string when it cannot be one (the reason). */
function polygonOf(seg: unknown[], where: string): Geometry | string {
  const parts: LinearRing[][] = [];
  for (let p = 0; p < seg.length; p++) {
    const flat = seg[p];
    if (!Array.isArray(flat)) throw new FormatError('a polygon is a flat list of x, y numbers', `${where}.segmentation[${p}]`);
    if (flat.length % 2 !== 0) throw new FormatError(`a polygon needs x, y pairs; it has ${flat.length} numbers`, `${where}.segmentation[${p}]`);
    if (flat.length < 6) return `segmentation[${p}] has fewer than 3 points`;
    const ring: LinearRing = [];
    for (let i = 0; i < flat.length; i += 2) ring.push([finite(flat[i], `${where}.segmentation[${p}][${i}]`), finite(flat[i + 1], `${where}.segmentation[${p}][${i + 1}]`)]);
    parts.push([ring]);
  }
  if (parts.length === 0) return 'the segmentation is empty';
  return parts.length === 1 ? { type: 'Polygon', coordinates: parts[0] as LinearRing[] } : { type: 'MultiPolygon', coordinates: parts };
}

function bboxOf(v: unknown, where: string): Geometry | string {
  if (!Array.isArray(v) || v.length !== 4) throw new FormatError('bbox must be [x, y, width, height]', `${where}.bbox`);
  const [x, y, w, h] = v.map((n, i) => finite(n, `${where}.bbox[${i}]`)) as [number, number, number, number];
  if (w <= 0 || h <= 0) return 'the bbox has no area';
  return {
    type: 'Polygon',
    coordinates: [
      [
        [x, y],
        [x + w, y],
        [x + w, y + h],
        [x, y + h],
        [x, y],
      ],
    ],
  };
}

export function importCocoJson(text: string, sink: ImportSink): void {
  const deep = jsonTooDeep(text);
  if (deep) throw new FormatError(`the JSON is nested more than ${deep.limit} levels deep`, `line ${deep.line}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new FormatError(`not valid JSON: ${(err as Error).message}`, 'file');
  }
  const list = Array.isArray(doc) ? doc : isPlainObject(doc) ? doc['annotations'] : undefined;
  if (!Array.isArray(list)) throw new FormatError('a COCO file is an object with an "annotations" array, or a list of results', 'file');
  const names = categoryNames(doc, sink);
  const images = new Set<string>();
  list.forEach((raw, i) => {
    const where = `annotations[${i}]`;
    if (!isPlainObject(raw)) throw new FormatError('an annotation must be an object', where);
    const cat = raw['category_id'];
    if (typeof cat !== 'number' && typeof cat !== 'string') throw new FormatError('category_id is required', where);
    const name = names ? names.get(String(cat)) : `category ${String(cat)}`;
    if (name === undefined) throw new FormatError(`category_id ${String(cat)} is not among the categories`, where);
    if (raw['image_id'] !== undefined) {
      images.add(String(raw['image_id']));
      if (images.size > 1) throw new FormatError('the file holds objects of more than one image; import one image\'s objects into its slide', where);
    }
    const seg = raw['segmentation'];
    let geometry: Geometry | string;
    let kind: AnnotationInput['kind'] = 'polygon';
    if (isPlainObject(seg)) geometry = 'an RLE mask is not an object: import it as a label image (mask import)';
    else if (Array.isArray(seg) && seg.length > 0) geometry = polygonOf(seg, where);
    else if (raw['bbox'] !== undefined) {
      geometry = bboxOf(raw['bbox'], where);
      kind = 'rectangle';
    } else geometry = 'no segmentation and no bbox';
    if (typeof geometry === 'string') {
      sink.skip({ where, reason: geometry });
      return;
    }
    const normal = fileGeometry(geometry, where);
    const coco: Record<string, unknown> = { category_id: cat };
    for (const k of ['id', 'image_id', 'area', 'iscrowd'] as const) if (raw[k] !== undefined) coco[k] = raw[k];
    const properties: Record<string, unknown> = { coco };
    if (raw['score'] !== undefined) properties['score'] = raw['score'];
    sink.add({ id: randomUUID(), kind, geometry: normal, classification: name, name: null, note: null, locked: false, objectType: 'detection', properties });
  });
}
