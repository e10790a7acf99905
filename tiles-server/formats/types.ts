/** What every annotation-file reader produces. */
import type { AnnotationClass, AnnotationInput, Geometry } from '../../src/core/annotation.js';
import { GeometryError, normaliseGeometry } from '../../src/core/annotation.js';

export type ImportFormat = 'qupath-geojson' | 'asap-xml' | 'imagescope-xml' | 'histomicstk-json' | 'coco-json';
export type ExportFormat = 'qupath-geojson' | 'asap-xml';

export const IMPORT_FORMATS: readonly ImportFormat[] = ['qupath-geojson', 'asap-xml', 'imagescope-xml', 'histomicstk-json', 'coco-json'];
export const EXPORT_FORMATS: readonly ExportFormat[] = ['qupath-geojson', 'asap-xml'];

export interface Skipped {
  /** Where in the file: "features[12]", "Annotation 3 / Region 2", … */
  where: string;
  reason: string;
}

export interface ImportSink {
  add(a: AnnotationInput): void;
  skip(s: Skipped): void;
  warn(message: string): void;
  classColour(name: string, color: string): void;
}

/** A file's geometry, checked and normalised; a bad one is the file's error, at `where`. */
export function fileGeometry(g: unknown, where: string): Geometry {
  try {
    return normaliseGeometry(g, 'geometry');
  } catch (err) {
    if (err instanceof GeometryError) throw new FormatError(err.message, where);
    throw err;
  }
}

/** A JSON object (not an array, not null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** An error in the file itself, with where it is. */
export class FormatError extends Error {
  constructor(
    message: string,
    readonly where: string,
  ) {
    super(`${where}: ${message}`);
    this.name = 'FormatError';
  }
}

export interface ImportReport {
  format: ImportFormat;
  imported: number;
  /** Objects per class name ("(none)" for unclassified). */
  perClass: Record<string, number>;
  perKind: Record<string, number>;
  /** Vertices stored (rings closed). */
  vertices: number;
  skipped: Skipped[];
  warnings: string[];
  classesAdded: AnnotationClass[];
  /** Objects whose id was already used and got a fresh one. */
  renamedIds: number;
  /** Polygons whose outline crosses itself (kept as written). */
  selfCrossing: number;
  /** Objects with vertices beyond the slide's edges (kept as written; a warning says so): some inside, or none. */
  outside: { partly: number; wholly: number };
  /** Predictions imported into a model run: the run, and how many objects had a score. */
  modelRun?: { id: string; scored: number; unscored: number; scoreKey: string | null };
}

export function rgbHex(r: number, g: number, b: number): string {
  const c = (v: number): string => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, '0');
  return `#${c(r)}${c(g)}${c(b)}`;
}

export function hexRgb(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (!m) return [128, 128, 128];
  return [parseInt(m[1] as string, 16), parseInt(m[2] as string, 16), parseInt(m[3] as string, 16)];
}
