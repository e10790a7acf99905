/**
 * ASAP (ASAP_Annotations) XML: <Annotations><Annotation Name Type
 * PartOfGroup Color><Coordinates><Coordinate Order X Y/>… and
 * <AnnotationGroups><Group Name Color/>. ASAP writes coordinates with the
 * locale's decimal mark, so "543,020264" is read as 543.020264. Groups are
 * classes; "None" is no class.
 */
import { randomUUID } from 'node:crypto';
import type { Annotation, AnnotationInput, Geometry, LinearRing, Position } from '../../src/core/annotation.js';
import { GeometryError, normaliseGeometry } from '../../src/core/annotation.js';
import { asArray, parseXml, xmlNumber, type XmlNode } from './xml.js';
import { FormatError, type ImportSink } from './types.js';

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function colour(v: unknown): string | null {
  return typeof v === 'string' && /^#[0-9a-fA-F]{6}$/.test(v) ? v.toLowerCase() : null;
}

export function importAsapXml(text: string, sink: ImportSink): void {
  const doc = parseXml(text, ['Annotation', 'Coordinate', 'Group']);
  const root = doc['ASAP_Annotations'] as XmlNode | undefined;
  if (!root || typeof root !== 'object') throw new FormatError('the root element must be <ASAP_Annotations>', 'file');
  const groups = new Map<string, string | null>();
  for (const g of asArray((root['AnnotationGroups'] as XmlNode | undefined)?.['Group'])) {
    if (typeof g['Name'] === 'string') {
      groups.set(g['Name'], colour(g['Color']));
      const c = colour(g['Color']);
      if (c && g['Name'] !== 'None') sink.classColour(g['Name'], c);
    }
  }
  const annotations = asArray((root['Annotations'] as XmlNode | undefined)?.['Annotation']);
  annotations.forEach((a, i) => {
    const where = `Annotation ${i + 1}${typeof a['Name'] === 'string' ? ` "${a['Name']}"` : ''}`;
    const type = String(a['Type'] ?? '');
    const coords = asArray((a['Coordinates'] as XmlNode | undefined)?.['Coordinate'])
      .map((c, j) => ({ order: c['Order'] === undefined ? j : xmlNumber(c['Order'], `${where} Coordinate ${j + 1} Order`), p: [xmlNumber(c['X'], `${where} Coordinate ${j + 1} X`), xmlNumber(c['Y'], `${where} Coordinate ${j + 1} Y`)] as Position }))
      .sort((p, q) => p.order - q.order)
      .map((c) => c.p);
    let geometry: Geometry;
    let kind: AnnotationInput['kind'];
    switch (type) {
      case 'Polygon':
      case 'Spline':
      case 'Rectangle': {
        if (coords.length < 3) {
          sink.skip({ where, reason: `a ${type} needs at least 3 coordinates, it has ${coords.length}` });
          return;
        }
        geometry = { type: 'Polygon', coordinates: [coords as LinearRing] }; // closed by normaliseGeometry
        kind = type === 'Rectangle' ? 'rectangle' : 'polygon';
        break;
      }
      case 'Dot':
        if (coords.length !== 1) {
          sink.skip({ where, reason: `a Dot needs 1 coordinate, it has ${coords.length}` });
          return;
        }
        geometry = { type: 'Point', coordinates: coords[0] as Position };
        kind = 'point';
        break;
      case 'PointSet':
        if (coords.length === 0) {
          sink.skip({ where, reason: 'an empty PointSet' });
          return;
        }
        geometry = { type: 'MultiPoint', coordinates: coords };
        kind = 'point';
        break;
      case 'Measurement':
        if (coords.length !== 2) {
          sink.skip({ where, reason: `a Measurement needs 2 coordinates, it has ${coords.length}` });
          return;
        }
        geometry = { type: 'LineString', coordinates: coords };
        kind = 'ruler';
        break;
      default:
        sink.skip({ where, reason: `annotation type ${JSON.stringify(type)} is not supported` });
        return;
    }
    try {
      geometry = normaliseGeometry(geometry, where);
    } catch (err) {
      if (err instanceof GeometryError) throw new FormatError(err.message, where);
      throw err;
    }
    const group = typeof a['PartOfGroup'] === 'string' && a['PartOfGroup'] !== 'None' && a['PartOfGroup'] !== '' ? a['PartOfGroup'] : null;
    const properties: Record<string, unknown> = {};
    const own = colour(a['Color']);
    if (own) properties['color'] = own;
    if (type === 'Spline') properties['asapType'] = 'Spline';
    sink.add({
      id: randomUUID(),
      kind,
      geometry,
      classification: group,
      name: typeof a['Name'] === 'string' ? a['Name'] : null,
      note: null,
      locked: false,
      objectType: 'annotation',
      properties,
    });
  });
}

function coordinates(points: Position[]): string {
  return points.map(([x, y], i) => `\t\t\t\t<Coordinate Order="${i}" X="${x}" Y="${y}" />`).join('\n');
}

/** Writes ASAP XML. Holes and extra parts of multipolygons are reported, since ASAP has no holes. */
export function exportAsapXml(items: Iterable<Annotation>, classColour: (name: string) => string | null): { text: string; dropped: string[] } {
  const out: string[] = ['<?xml version="1.0"?>', '<ASAP_Annotations>', '\t<Annotations>'];
  const used = new Set<string>();
  const dropped: string[] = [];
  let n = 0;
  const emit = (name: string, type: string, group: string | null, color: string | null, points: Position[]): void => {
    out.push(
      `\t\t<Annotation Name="${escapeAttr(name)}" Type="${type}" PartOfGroup="${escapeAttr(group ?? 'None')}" Color="${color ?? '#f4fa58'}">`,
      '\t\t\t<Coordinates>',
      coordinates(points),
      '\t\t\t</Coordinates>',
      '\t\t</Annotation>',
    );
  };
  for (const a of items) {
    const name = a.name ?? `Annotation ${n}`;
    n++;
    if (a.classification) used.add(a.classification);
    const color = (typeof a.properties['color'] === 'string' ? a.properties['color'] : null) ?? (a.classification ? classColour(a.classification) : null);
    const g = a.geometry;
    const ring = (r: LinearRing): Position[] => r.slice(0, -1);
    switch (g.type) {
      case 'Point':
        emit(name, 'Dot', a.classification, color, [g.coordinates]);
        break;
      case 'MultiPoint':
        emit(name, 'PointSet', a.classification, color, g.coordinates);
        break;
      case 'LineString':
        if (g.coordinates.length === 2) emit(name, 'Measurement', a.classification, color, g.coordinates);
        else {
          dropped.push(`${a.id}: open polylines of more than 2 points are not an ASAP type`);
        }
        break;
      case 'Polygon': {
        const type = a.kind === 'rectangle' ? 'Rectangle' : a.properties['asapType'] === 'Spline' ? 'Spline' : 'Polygon';
        emit(name, type, a.classification, color, ring(g.coordinates[0] as LinearRing));
        if (g.coordinates.length > 1) dropped.push(`${a.id}: ${g.coordinates.length - 1} hole(s) (ASAP has no holes)`);
        break;
      }
      case 'MultiPolygon':
        g.coordinates.forEach((poly, k) => {
          emit(g.coordinates.length > 1 ? `${name} (part ${k + 1})` : name, 'Polygon', a.classification, color, ring(poly[0] as LinearRing));
          if (poly.length > 1) dropped.push(`${a.id} part ${k + 1}: ${poly.length - 1} hole(s) (ASAP has no holes)`);
        });
        break;
    }
  }
  out.push('\t</Annotations>', '\t<AnnotationGroups>');
  for (const g of used) {
    out.push(`\t\t<Group Name="${escapeAttr(g)}" PartOfGroup="None" Color="${classColour(g) ?? '#64fe2e'}">`, '\t\t\t<Attributes />', '\t\t</Group>');
  }
  out.push('\t</AnnotationGroups>', '</ASAP_Annotations>', '');
  return { text: out.join('\n'), dropped };
}
