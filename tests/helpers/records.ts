/** Client-store records for unit tests: an axis-aligned rectangle, Tumour, version 0 (fields overridable). */
import { randomUUID } from 'node:crypto';
import type { AnnotationRecord } from '../../src/state/annotation-store.js';

export function rect(x: number, y: number, w: number, h: number, extra: Partial<AnnotationRecord> = {}): AnnotationRecord {
  return {
    id: randomUUID(),
    kind: 'polygon',
    geometry: { type: 'Polygon', coordinates: [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]] },
    classification: 'Tumour',
    name: null,
    note: null,
    locked: false,
    objectType: 'annotation',
    properties: {},
    version: 0,
    ...extra,
  };
}
