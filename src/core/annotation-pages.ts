/**
 * Turns a page of annotations from the server into flat arrays: the small
 * fields as plain records, every geometry packed into shared typed arrays.
 * Pure, so it runs the same in the loader worker, on the main thread (when
 * workers are unavailable) and in tests; that is why it lives in core.
 */
import type { Annotation } from './annotation.js';
import { flatten } from './flat-geometry.js';

export interface LeanRecord {
  id: string;
  kind: Annotation['kind'];
  classification: string | null;
  name: string | null;
  note: string | null;
  locked: boolean;
  objectType: string;
  version: number;
  /** Who drew it and when it last changed (the annotation list shows them). */
  createdBy: string;
  updatedAt: string;
  /** Provenance of model objects (docs/ai-corrections.md), only when the server gave it: the run, the prediction a corrected object came from, the score, read-only. */
  source?: string;
  parent?: string | null;
  score?: number | null;
  readOnly?: boolean;
}

export interface PackedPage {
  records: LeanRecord[];
  types: Uint8Array;
  coords: Float64Array;
  /** Start of each record's coordinates (in doubles); length records + 1. */
  coordAt: Uint32Array;
  parts: Uint32Array;
  partAt: Uint32Array;
  next: number | null;
  total: number;
}

export function packPage(page: { annotations: Annotation[]; next: number | null; total: number }): PackedPage {
  const n = page.annotations.length;
  const flats = page.annotations.map((a) => flatten(a.geometry));
  const coordAt = new Uint32Array(n + 1);
  const partAt = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    coordAt[i + 1] = (coordAt[i] as number) + (flats[i]?.coords.length ?? 0);
    partAt[i + 1] = (partAt[i] as number) + (flats[i]?.parts.length ?? 0);
  }
  const coords = new Float64Array(coordAt[n] as number);
  const parts = new Uint32Array(partAt[n] as number);
  const types = new Uint8Array(n);
  flats.forEach((f, i) => {
    coords.set(f.coords, coordAt[i] as number);
    parts.set(f.parts, partAt[i] as number);
    types[i] = f.type;
  });
  const records = page.annotations.map((a) => ({
    id: a.id,
    kind: a.kind,
    classification: a.classification,
    name: a.name,
    note: a.note,
    locked: a.locked,
    objectType: a.objectType,
    version: a.version,
    createdBy: a.createdBy,
    updatedAt: a.updatedAt,
    ...(a.source !== undefined && a.source !== 'manual' ? { source: a.source, parent: a.parent ?? null, score: a.score ?? null, readOnly: a.readOnly === true } : {}),
  }));
  return { records, types, coords, coordAt, parts, partAt, next: page.next, total: page.total };
}
