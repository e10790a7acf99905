/**
 * QuPath GeoJSON, as "Export objects as GeoJSON" writes it: a
 * FeatureCollection (or a bare array) of Features whose properties carry
 * objectType, classification {name | names, color}, name, color, isLocked
 * and measurements; cells may carry a nucleusGeometry. An annotation's
 * description (our note) is in its metadata map under
 * ANNOTATION_DESCRIPTION, where QuPath's PathAnnotationObject keeps it.
 * Properties and feature members we do not use are kept and written back
 * on export.
 */
import { randomUUID } from 'node:crypto';
import type { Annotation, AnnotationInput, AnnotationKind, Geometry } from '../../src/core/annotation.js';
import { isAnnotationId } from '../../src/core/annotation.js';
import { FeatureScanner } from './json-features.js';
import { fileGeometry, hexRgb, rgbHex, FormatError, isPlainObject, type ImportSink } from './types.js';

const MAPPED_PROPERTIES = new Set(['objectType', 'classification', 'name', 'isLocked']);
/** QuPath's metadata key for an annotation's description. */
const DESCRIPTION_KEY = 'ANNOTATION_DESCRIPTION';

const FEATURE_MEMBERS = new Set(['type', 'id', 'geometry', 'properties']);
/** Where unknown top-level feature members (nucleusGeometry, …) live in our properties. */
export const FEATURE_EXTRA = '$feature';
/** Where members of the geometry object beyond type/coordinates (QuPath's isEllipse, …) live. */
export const GEOMETRY_EXTRA = '$geometry';

function colourOf(v: unknown): string | null {
  if (Array.isArray(v) && v.length >= 3 && v.every((x) => typeof x === 'number')) return rgbHex(v[0] as number, v[1] as number, v[2] as number);
  if (typeof v === 'number' && Number.isInteger(v)) return rgbHex((v >> 16) & 255, (v >> 8) & 255, v & 255);
  return null;
}

function classNameOf(c: unknown, where: string): { name: string; color: string | null } | null {
  if (c === undefined || c === null) return null;
  if (typeof c === 'string') return c ? { name: c, color: null } : null;
  if (typeof c !== 'object' || Array.isArray(c)) throw new FormatError('classification must be an object', where);
  const o = c as { name?: unknown; names?: unknown; color?: unknown };
  let name: string | null = null;
  if (typeof o.name === 'string') name = o.name;
  else if (Array.isArray(o.names) && o.names.every((n) => typeof n === 'string')) name = (o.names as string[]).join(': ');
  if (!name) return null;
  return { name, color: colourOf(o.color) };
}

function kindOf(g: Geometry): AnnotationKind {
  switch (g.type) {
    case 'Point':
    case 'MultiPoint':
      return 'point';
    case 'LineString':
      return g.coordinates.length === 2 ? 'ruler' : 'polyline';
    default:
      return 'polygon';
  }
}

/** Converts one feature; returns null (with a skip recorded) for objects we do not hold. */
export function featureToAnnotation(f: unknown, where: string, sink: ImportSink): AnnotationInput | null {
  if (!f || typeof f !== 'object' || Array.isArray(f)) throw new FormatError('a feature must be an object', where);
  const feat = f as Record<string, unknown>;
  if (feat['type'] !== 'Feature') throw new FormatError(`"type" must be "Feature", not ${JSON.stringify(feat['type'])}`, where);
  const g = feat['geometry'] as { type?: unknown } | null | undefined;
  if (g === null || g === undefined) {
    sink.skip({ where, reason: 'the feature has no geometry' });
    return null;
  }
  if (g.type === 'GeometryCollection') {
    sink.skip({ where, reason: 'GeometryCollection is not supported; split it into separate features' });
    return null;
  }
  const geometry = fileGeometry(g, where);
  const props = (feat['properties'] ?? {}) as Record<string, unknown>;
  if (typeof props !== 'object' || Array.isArray(props)) throw new FormatError('"properties" must be an object', where);
  const cls = classNameOf(props['classification'], where);
  if (cls?.color) sink.classColour(cls.name, cls.color);
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) if (!MAPPED_PROPERTIES.has(k)) properties[k] = v;
  // the description becomes the note; the rest of the metadata map is kept as it was
  const meta = props['metadata'];
  const note = isPlainObject(meta) && typeof meta[DESCRIPTION_KEY] === 'string' ? (meta[DESCRIPTION_KEY] as string) : null;
  if (note !== null && isPlainObject(meta)) {
    const { [DESCRIPTION_KEY]: _d, ...rest } = meta;
    if (Object.keys(rest).length > 0) properties['metadata'] = rest;
    else delete properties['metadata'];
  }
  // keep the classification object as written (names, colour) for the round trip
  if (props['classification'] !== undefined) properties['$classification'] = props['classification'];
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(feat)) if (!FEATURE_MEMBERS.has(k)) extra[k] = v;
  if (Object.keys(extra).length > 0) properties[FEATURE_EXTRA] = extra;
  const geomExtra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(g)) if (k !== 'type' && k !== 'coordinates') geomExtra[k] = v;
  if (Object.keys(geomExtra).length > 0) properties[GEOMETRY_EXTRA] = geomExtra;
  const id = isAnnotationId(feat['id']) ? (feat['id'] as string) : randomUUID();
  if (feat['id'] !== undefined && !isAnnotationId(feat['id'])) properties['sourceId'] = feat['id'];
  return {
    id,
    kind: geomExtra['isEllipse'] === true ? 'ellipse' : props['isRectangle'] === true ? 'rectangle' : kindOf(geometry),
    geometry,
    classification: cls?.name ?? null,
    name: typeof props['name'] === 'string' ? props['name'] : null,
    note: note === '' ? null : note,
    locked: props['isLocked'] === true,
    objectType: typeof props['objectType'] === 'string' ? props['objectType'] : 'annotation',
    properties,
  };
}

/** Reads QuPath GeoJSON from a stream of chunks. */
export async function importQupathGeojson(chunks: AsyncIterable<Buffer>, sink: ImportSink): Promise<void> {
  const scanner = new FeatureScanner(({ index, line, value }) => {
    const a = featureToAnnotation(value, `features[${index}] (line ${line})`, sink);
    if (a) sink.add(a);
  });
  for await (const chunk of chunks) scanner.push(chunk);
  const { type } = scanner.end();
  if (type !== undefined && type !== 'FeatureCollection') throw new FormatError(`top-level "type" is ${JSON.stringify(type)}; expected "FeatureCollection"`, 'file');
}

/** One exported feature, as QuPath writes it. */
export function annotationToFeature(a: Annotation | AnnotationInput, classColour: (name: string) => string | null): Record<string, unknown> {
  const { [FEATURE_EXTRA]: extra, [GEOMETRY_EXTRA]: geomExtra, $classification: originalClass, sourceId: _sourceId, ...kept } = a.properties as Record<string, unknown>;
  const properties: Record<string, unknown> = { objectType: a.objectType };
  if (a.name !== null) properties['name'] = a.name;
  if (a.classification !== null) {
    const orig = originalClass as { name?: unknown; names?: unknown; color?: unknown } | undefined;
    const origName = orig && typeof orig === 'object' ? (typeof orig.name === 'string' ? orig.name : Array.isArray(orig.names) ? (orig.names as string[]).join(': ') : null) : null;
    if (orig && origName === a.classification) properties['classification'] = orig;
    else {
      const hex = classColour(a.classification);
      properties['classification'] = hex ? { name: a.classification, color: hexRgb(hex) } : { name: a.classification };
    }
  }
  if (a.locked) properties['isLocked'] = true;
  Object.assign(properties, kept);
  if (a.note !== null) properties['metadata'] = { ...(isPlainObject(kept['metadata']) ? kept['metadata'] : {}), [DESCRIPTION_KEY]: a.note };
  // where a model's object came from and what became of it (docs/ai-corrections.md)
  if ('source' in a && a.source !== undefined && a.source !== 'manual') {
    properties['provenance'] = { source: a.source, parent: a.parent ?? null, ...(a.score !== undefined ? { score: a.score } : {}), ...(a.correction !== undefined ? { correction: a.correction } : {}) };
  }
  const geometry = geomExtra && typeof geomExtra === 'object' ? { ...a.geometry, ...geomExtra } : a.kind === 'ellipse' && a.geometry.type === 'Polygon' ? { ...a.geometry, isEllipse: true } : a.geometry;
  const feature: Record<string, unknown> = { type: 'Feature', id: a.id, geometry, properties };
  if (extra && typeof extra === 'object') Object.assign(feature, extra);
  return feature;
}

/** The whole export as a stream of text chunks. */
export async function* exportQupathGeojson(items: AsyncIterable<Annotation> | Iterable<Annotation>, classColour: (name: string) => string | null): AsyncGenerator<string> {
  yield '{"type":"FeatureCollection","features":[';
  let first = true;
  let buf = '';
  for await (const a of items) {
    buf += (first ? '\n' : ',\n') + JSON.stringify(annotationToFeature(a, classColour));
    first = false;
    if (buf.length > 1 << 20) {
      yield buf;
      buf = '';
    }
  }
  yield `${buf}\n]}\n`;
}
