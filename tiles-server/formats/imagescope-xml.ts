/**
 * Aperio ImageScope XML: <Annotations MicronsPerPixel><Annotation Id Name
 * LineColor> layers, each with <Regions><Region Type NegativeROA Text>
 * <Vertices><Vertex X Y/>. Region types: 0 freehand/polygon, 1 rectangle,
 * 2 ellipse (two bounding-box corners), 3 arrow, 4 ruler. Coordinates are
 * level-0 pixels. A layer becomes a class named after the layer (its Name,
 * or "Layer <Id>"), coloured by LineColor (a Windows 0x00BBGGRR integer).
 */
import { randomUUID } from 'node:crypto';
import type { AnnotationInput, Geometry, Position } from '../../src/core/annotation.js';
import { GeometryError, geometryBounds, normaliseGeometry } from '../../src/core/annotation.js';
import { ellipseRing, rectangleRing } from '../../src/core/shapes.js';
import { asArray, parseXml, xmlNumber, type XmlNode } from './xml.js';
import { FormatError, rgbHex, type ImportSink } from './types.js';

export function imageScopeColour(v: unknown): string | null {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) return null;
  return rgbHex(n & 255, (n >> 8) & 255, (n >> 16) & 255);
}

export function importImageScopeXml(text: string, sink: ImportSink, slideMpp: number | null): void {
  const doc = parseXml(text, ['Annotation', 'Region', 'Vertex', 'Attribute']);
  const root = doc['Annotations'] as XmlNode | undefined;
  if (!root || typeof root !== 'object') throw new FormatError('the root element must be <Annotations>', 'file');
  const mpp = root['MicronsPerPixel'] === undefined ? null : Number(String(root['MicronsPerPixel']).replace(',', '.'));
  if (mpp !== null && Number.isFinite(mpp) && mpp > 0 && slideMpp !== null && Math.abs(mpp - slideMpp) / slideMpp > 0.02) {
    sink.warn(`the file says ${mpp} µm/px but the slide is ${slideMpp} µm/px: it may belong to another scan (coordinates were used as written)`);
  }
  asArray(root['Annotation']).forEach((layer, li) => {
    const layerName = typeof layer['Name'] === 'string' && layer['Name'].trim() !== '' ? layer['Name'].trim() : `Layer ${String(layer['Id'] ?? li + 1)}`;
    const layerColour = imageScopeColour(layer['LineColor']);
    if (layerColour) sink.classColour(layerName, layerColour);
    const regions = asArray((layer['Regions'] as XmlNode | undefined)?.['Region']);
    regions.forEach((r, ri) => {
      const where = `Annotation ${String(layer['Id'] ?? li + 1)} / Region ${String(r['Id'] ?? ri + 1)}`;
      const vertices = asArray((r['Vertices'] as XmlNode | undefined)?.['Vertex']).map(
        (v, vi) => [xmlNumber(v['X'], `${where} Vertex ${vi + 1} X`), xmlNumber(v['Y'], `${where} Vertex ${vi + 1} Y`)] as Position,
      );
      const type = Number(r['Type'] ?? 0);
      let geometry: Geometry;
      let kind: AnnotationInput['kind'];
      switch (type) {
        case 0:
          if (vertices.length < 3) {
            sink.skip({ where, reason: `a freehand region needs at least 3 vertices, it has ${vertices.length}` });
            return;
          }
          geometry = { type: 'Polygon', coordinates: [vertices] }; // closed by normaliseGeometry unless the file already closes it
          kind = 'polygon';
          break;
        case 1: {
          if (vertices.length < 2) {
            sink.skip({ where, reason: 'a rectangle needs its corners' });
            return;
          }
          // the corners' box (not Math.min(...xs): a region of 200,000 vertices would overflow the stack)
          const [x0, y0, x1, y1] = geometryBounds({ type: 'MultiPoint', coordinates: vertices });
          geometry = { type: 'Polygon', coordinates: [rectangleRing(x0, y0, x1, y1)] };
          kind = 'rectangle';
          break;
        }
        case 2: {
          if (vertices.length < 2) {
            sink.skip({ where, reason: 'an ellipse needs two corners of its bounding box' });
            return;
          }
          const [a, b] = vertices as [Position, Position];
          geometry = { type: 'Polygon', coordinates: [ellipseRing((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, Math.abs(b[0] - a[0]) / 2, Math.abs(b[1] - a[1]) / 2)] };
          kind = 'ellipse';
          break;
        }
        case 3:
        case 4:
          if (vertices.length < 2) {
            sink.skip({ where, reason: `a ${type === 3 ? 'arrow' : 'ruler'} needs 2 vertices` });
            return;
          }
          geometry = { type: 'LineString', coordinates: vertices.slice(0, 2) };
          kind = type === 3 ? 'polyline' : 'ruler';
          break;
        default:
          sink.skip({ where, reason: `region type ${type} is not supported` });
          return;
      }
      try {
        geometry = normaliseGeometry(geometry, where);
      } catch (err) {
        if (err instanceof GeometryError) throw new FormatError(err.message, where);
        throw err;
      }
      const properties: Record<string, unknown> = { imagescope: { layer: layer['Id'] ?? li + 1, region: r['Id'] ?? ri + 1, type } };
      if (r['NegativeROA'] === '1') properties['negative'] = true;
      if (type === 3) properties['arrow'] = true;
      const text = typeof r['Text'] === 'string' && r['Text'].trim() !== '' ? r['Text'] : null;
      sink.add({ id: randomUUID(), kind, geometry, classification: layerName, name: text, note: null, locked: false, objectType: 'annotation', properties });
    });
  });
}
