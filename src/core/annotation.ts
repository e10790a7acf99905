/**
 * The annotation model shared by the browser, the server and the file
 * formats. Geometry is GeoJSON in level-0 image pixels (x right, y down).
 */

export type Position = [number, number];
export type LinearRing = Position[];

export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint'; coordinates: Position[] }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'Polygon'; coordinates: LinearRing[] }
  | { type: 'MultiPolygon'; coordinates: LinearRing[][] };

/** How a region was drawn; edits keep it unless the shape stops being one. */
export type AnnotationKind = 'polygon' | 'freehand' | 'rectangle' | 'ellipse' | 'point' | 'ruler' | 'polyline';

export const ANNOTATION_KINDS: readonly AnnotationKind[] = ['polygon', 'freehand', 'rectangle', 'ellipse', 'point', 'ruler', 'polyline'];

/** What a client sends: everything but server bookkeeping. */
export interface AnnotationInput {
  id: string;
  kind: AnnotationKind;
  geometry: Geometry;
  /** Class name from the project's palette, or null. */
  classification: string | null;
  name: string | null;
  note: string | null;
  locked: boolean;
  /** QuPath's objectType: annotation, detection, cell, tile… */
  objectType: string;
  /** Properties other tools wrote that we keep for a faithful round trip. */
  properties: Record<string, unknown>;
}

export interface Annotation extends AnnotationInput {
  version: number;
  deleted: boolean;
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
  /** Provenance (server-owned, never changed by a client): 'manual', or the model run the object came from. */
  source?: string;
  /** The prediction a corrected object was derived from; null otherwise. */
  parent?: string | null;
  /** A prediction's score (0..1), null when its file gave none; only on predictions. */
  score?: number | null;
  /** True on a model's predictions: they are corrected through a derived object, never changed. */
  readOnly?: boolean;
  /** A model object's correction state (untouched, accepted, edited, relabelled, both, rejected), where the server says it. */
  correction?: string;
}

export interface AnnotationClass {
  name: string;
  /** #rrggbb */
  color: string;
  /** A single key, or null. */
  hotkey: string | null;
}

/**
 * The mask class id of a palette entry: the server's registry gives every
 * class an id (1–255) that it keeps for good; the built-in defaults have
 * none, so they cannot be painted until the server's palette has loaded.
 */
export function maskClassId(c: AnnotationClass | undefined): number | null {
  const id = (c as (AnnotationClass & { id?: number }) | undefined)?.id;
  return typeof id === 'number' && id > 0 && id < 256 ? id : null;
}

export const DEFAULT_CLASSES: AnnotationClass[] = [
  { name: 'Tumour', color: '#c8102e', hotkey: 't' },
  { name: 'Stroma', color: '#f28e2b', hotkey: 's' },
  { name: 'Necrosis', color: '#7f7f7f', hotkey: 'n' },
  { name: 'Lymphocytes', color: '#1f77b4', hotkey: 'l' },
  { name: 'Normal', color: '#2ca02c', hotkey: 'o' },
  { name: 'Other', color: '#9467bd', hotkey: 'x' },
];

/** Limits a single annotation must respect. */
export const MAX_VERTICES = 1_000_000;
export const MAX_COORDINATE = 10_000_000;
export const MAX_TEXT = 10_000;

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isAnnotationId(s: unknown): s is string {
  return typeof s === 'string' && (UUID.test(s) || /^[A-Za-z0-9_-]{8,64}$/.test(s));
}

export class GeometryError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'GeometryError';
  }
}

function checkPosition(p: unknown, path: string): Position {
  if (!Array.isArray(p) || p.length < 2) throw new GeometryError('a position must be [x, y]', path);
  const [x, y] = p as [unknown, unknown];
  if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) {
    throw new GeometryError('coordinates must be finite numbers', path);
  }
  if (Math.abs(x) > MAX_COORDINATE || Math.abs(y) > MAX_COORDINATE) throw new GeometryError(`coordinate beyond ±${MAX_COORDINATE}`, path);
  return [x, y];
}

function closeRing(ring: Position[]): Position[] {
  const a = ring[0];
  const b = ring[ring.length - 1];
  if (a && b && (a[0] !== b[0] || a[1] !== b[1])) return [...ring, [a[0], a[1]]];
  return ring;
}

function checkRing(r: unknown, path: string, counter: { n: number }): LinearRing {
  if (!Array.isArray(r)) throw new GeometryError('a ring must be an array of positions', path);
  const ring = closeRing(r.map((p, i) => checkPosition(p, `${path}[${i}]`)));
  if (ring.length < 4) throw new GeometryError('a ring needs at least 3 distinct points', path);
  counter.n += ring.length;
  if (counter.n > MAX_VERTICES) throw new GeometryError(`more than ${MAX_VERTICES} vertices`, path);
  return ring;
}

/**
 * Checks and normalises a GeoJSON geometry (rings closed, extra position
 * members dropped). Throws GeometryError naming the bad part.
 */
export function normaliseGeometry(g: unknown, path = 'geometry'): Geometry {
  if (!g || typeof g !== 'object') throw new GeometryError('must be a GeoJSON geometry object', path);
  const { type, coordinates } = g as { type?: unknown; coordinates?: unknown };
  const counter = { n: 0 };
  switch (type) {
    case 'Point':
      return { type, coordinates: checkPosition(coordinates, `${path}.coordinates`) };
    case 'MultiPoint': {
      if (!Array.isArray(coordinates) || coordinates.length === 0) throw new GeometryError('needs at least one point', `${path}.coordinates`);
      if (coordinates.length > MAX_VERTICES) throw new GeometryError(`more than ${MAX_VERTICES} points`, path);
      return { type, coordinates: coordinates.map((p, i) => checkPosition(p, `${path}.coordinates[${i}]`)) };
    }
    case 'LineString': {
      if (!Array.isArray(coordinates) || coordinates.length < 2) throw new GeometryError('a line needs at least 2 positions', `${path}.coordinates`);
      if (coordinates.length > MAX_VERTICES) throw new GeometryError(`more than ${MAX_VERTICES} vertices`, path);
      return { type, coordinates: coordinates.map((p, i) => checkPosition(p, `${path}.coordinates[${i}]`)) };
    }
    case 'Polygon': {
      if (!Array.isArray(coordinates) || coordinates.length === 0) throw new GeometryError('a polygon needs an outer ring', `${path}.coordinates`);
      return { type, coordinates: coordinates.map((r, i) => checkRing(r, `${path}.coordinates[${i}]`, counter)) };
    }
    case 'MultiPolygon': {
      if (!Array.isArray(coordinates) || coordinates.length === 0) throw new GeometryError('needs at least one polygon', `${path}.coordinates`);
      return {
        type,
        coordinates: coordinates.map((poly, j) => {
          if (!Array.isArray(poly) || poly.length === 0) throw new GeometryError('a polygon needs an outer ring', `${path}.coordinates[${j}]`);
          return poly.map((r, i) => checkRing(r, `${path}.coordinates[${j}][${i}]`, counter));
        }),
      };
    }
    default:
      throw new GeometryError(`unsupported geometry type ${JSON.stringify(type)}`, `${path}.type`);
  }
}

function segmentsCross(ax: number, ay: number, bx: number, by: number, cx: number, cy: number, dx: number, dy: number): boolean {
  const d1 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx);
  const d2 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx);
  const d3 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  const d4 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax);
  return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
}

/**
 * True when a closed ring crosses itself (proper crossings of non-adjacent
 * edges). Touching at a vertex is allowed, as in QuPath.
 */
export function ringSelfIntersects(ring: LinearRing): boolean {
  const n = ring.length - 1;
  if (n < 4) return false;
  if (n > 5000) return ringSelfIntersectsSweep(ring);
  for (let i = 0; i < n; i++) {
    const a = ring[i] as Position;
    const b = ring[i + 1] as Position;
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue;
      const c = ring[j] as Position;
      const d = ring[j + 1] as Position;
      if (segmentsCross(a[0], a[1], b[0], b[1], c[0], c[1], d[0], d[1])) return true;
    }
  }
  return false;
}

/** Same test for long rings: edges sorted by x extent, compared while they overlap in x. */
function ringSelfIntersectsSweep(ring: LinearRing): boolean {
  const n = ring.length - 1;
  const order = Array.from({ length: n }, (_, i) => i);
  const minX = (i: number): number => Math.min((ring[i] as Position)[0], (ring[i + 1] as Position)[0]);
  const maxX = (i: number): number => Math.max((ring[i] as Position)[0], (ring[i + 1] as Position)[0]);
  order.sort((p, q) => minX(p) - minX(q));
  for (let a = 0; a < n; a++) {
    const i = order[a] as number;
    const endX = maxX(i);
    for (let b = a + 1; b < n; b++) {
      const j = order[b] as number;
      if (minX(j) > endX) break;
      const lo = Math.min(i, j);
      const hi = Math.max(i, j);
      if (hi - lo < 2 || (lo === 0 && hi === n - 1)) continue;
      const p = ring[i] as Position;
      const q = ring[i + 1] as Position;
      const r = ring[j] as Position;
      const s = ring[j + 1] as Position;
      if (segmentsCross(p[0], p[1], q[0], q[1], r[0], r[1], s[0], s[1])) return true;
    }
  }
  return false;
}

/** Rings of a geometry that cross themselves, as paths for messages. */
export function selfIntersections(g: Geometry): string[] {
  const bad: string[] = [];
  if (g.type === 'Polygon') g.coordinates.forEach((r, i) => ringSelfIntersects(r) && bad.push(`coordinates[${i}]`));
  if (g.type === 'MultiPolygon') g.coordinates.forEach((p, j) => p.forEach((r, i) => ringSelfIntersects(r) && bad.push(`coordinates[${j}][${i}]`)));
  return bad;
}

export function geometryBounds(g: Geometry): [number, number, number, number] {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const add = (p: Position): void => {
    if (p[0] < minX) minX = p[0];
    if (p[0] > maxX) maxX = p[0];
    if (p[1] < minY) minY = p[1];
    if (p[1] > maxY) maxY = p[1];
  };
  switch (g.type) {
    case 'Point':
      add(g.coordinates);
      break;
    case 'MultiPoint':
    case 'LineString':
      g.coordinates.forEach(add);
      break;
    case 'Polygon':
      g.coordinates.forEach((r) => r.forEach(add));
      break;
    case 'MultiPolygon':
      g.coordinates.forEach((p) => p.forEach((r) => r.forEach(add)));
      break;
  }
  return [minX, minY, maxX, maxY];
}

export function vertexCount(g: Geometry): number {
  switch (g.type) {
    case 'Point':
      return 1;
    case 'MultiPoint':
    case 'LineString':
      return g.coordinates.length;
    case 'Polygon':
      return g.coordinates.reduce((s, r) => s + r.length, 0);
    case 'MultiPolygon':
      return g.coordinates.reduce((s, p) => s + p.reduce((t, r) => t + r.length, 0), 0);
  }
}

function text(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new GeometryError('must be a string or null', field);
  if (v.length > MAX_TEXT) throw new GeometryError(`longer than ${MAX_TEXT} characters`, field);
  return v;
}

/** Validates a client's annotation body. Throws GeometryError naming the field. */
export function parseAnnotationInput(body: unknown, opts: { requireValidPolygons?: boolean } = {}): AnnotationInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new GeometryError('must be a JSON object', 'annotation');
  const b = body as Record<string, unknown>;
  if (!isAnnotationId(b['id'])) throw new GeometryError('must be a UUID (or 8–64 characters of [A-Za-z0-9_-])', 'id');
  const kind = b['kind'] ?? 'polygon';
  if (!ANNOTATION_KINDS.includes(kind as AnnotationKind)) throw new GeometryError(`must be one of ${ANNOTATION_KINDS.join(', ')}`, 'kind');
  const geometry = normaliseGeometry(b['geometry']);
  if (opts.requireValidPolygons !== false) {
    const bad = selfIntersections(geometry);
    if (bad.length > 0) throw new GeometryError(`ring crosses itself (${bad.slice(0, 3).join(', ')})`, 'geometry');
  }
  const props = b['properties'];
  if (props !== undefined && (props === null || typeof props !== 'object' || Array.isArray(props))) throw new GeometryError('must be an object', 'properties');
  if (b['locked'] !== undefined && typeof b['locked'] !== 'boolean') throw new GeometryError('must be a boolean', 'locked');
  const objectType = b['objectType'] ?? 'annotation';
  if (typeof objectType !== 'string' || objectType.length > 64) throw new GeometryError('must be a short string', 'objectType');
  return {
    id: b['id'] as string,
    kind: kind as AnnotationKind,
    geometry,
    classification: text(b['classification'], 'classification'),
    name: text(b['name'], 'name'),
    note: text(b['note'], 'note'),
    locked: (b['locked'] as boolean | undefined) ?? false,
    objectType,
    properties: (props as Record<string, unknown> | undefined) ?? {},
  };
}
