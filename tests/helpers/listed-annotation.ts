/**
 * An annotation as the server lists it (every field set, ids numbered in
 * order), for the tests of the columnar frame and of the store's bulk load
 * (issue 13): one default record, overridden per case.
 */
import type { Annotation, Geometry } from '../../src/core/annotation.js';

let seq = 0;

export function listedAnnotation(geometry: Geometry, extra: Partial<Annotation> = {}): Annotation {
  seq++;
  return {
    id: `obj-${String(seq).padStart(6, '0')}`,
    kind: 'polygon',
    geometry,
    classification: 'Tumour',
    name: null,
    note: null,
    locked: false,
    objectType: 'detection',
    properties: {},
    version: 1,
    deleted: false,
    createdBy: 'u-1',
    createdAt: '2026-12-07T10:00:00.000Z',
    updatedBy: 'u-1',
    updatedAt: '2026-12-07T10:00:00.000Z',
    source: 'manual',
    parent: null,
    ...extra,
  };
}
