import { describe, expect, it } from 'vitest';
import { FeatureScanner } from '../../tiles-server/formats/json-features.js';
import { FormatError } from '../../tiles-server/formats/types.js';

function scan(text: string, chunk: number): { features: unknown[]; type: string | undefined } {
  const features: unknown[] = [];
  const s = new FeatureScanner((f) => features.push(f.value));
  const buf = Buffer.from(text, 'utf8');
  for (let i = 0; i < buf.length; i += chunk) s.push(buf.subarray(i, i + chunk));
  const { type } = s.end();
  return { features, type };
}

function errorOf(text: string): string {
  try {
    scan(text, 7);
    return 'no error';
  } catch (e) {
    return e instanceof FormatError ? `${e.where}: ${e.message}` : String(e);
  }
}

const fc = {
  type: 'FeatureCollection',
  crs: { type: 'name', properties: { name: 'x' } },
  features: [
    { type: 'Feature', id: 'a', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { name: 'brace } and "quote" [bracket', n: '\\"' } },
    { type: 'Feature', id: 'b', geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] }, properties: { name: 'ünïcödé ✓' } },
  ],
  bbox: [0, 0, 1, 2],
};

describe('streaming GeoJSON feature scanner', () => {
  it.each([1, 2, 3, 7, 64, 100000])('finds every feature with %i-byte chunks', (chunk) => {
    const pretty = JSON.stringify(fc, null, 2);
    const { features, type } = scan(pretty, chunk);
    expect(features).toEqual(fc.features);
    expect(type).toBe('FeatureCollection');
  });

  it('reads a bare array of features and a byte-order mark', () => {
    expect(scan(`\ufeff${JSON.stringify(fc.features)}`, 5).features).toEqual(fc.features);
  });

  it('reads "features" wherever it appears in the object', () => {
    const text = `{"features":${JSON.stringify(fc.features)},"type":"FeatureCollection"}`;
    expect(scan(text, 3)).toEqual({ features: fc.features, type: 'FeatureCollection' });
  });

  it.each([
    ['truncated', JSON.stringify(fc).slice(0, -10), /ends before/],
    ['a broken feature', '{"type":"FeatureCollection","features":[\n{"type":"Feature"},\n{"type": Feature}]}', /line 3: invalid JSON in feature 1/],
    ['a string instead of a feature', '["This is not an annotation"]', /feature 0 is not an object/],
    ['no features array', '{"type":"FeatureCollection"}', /no "features" array/],
    ['a single Feature', '{"type":"Feature","geometry":null}', /single Feature/],
    ['trailing garbage', '[]x', /after the end/],
    ['not JSON at all', 'hello', /starts with/],
    ['an empty file', '', /empty/],
  ])('refuses %s with where', (_n, text, re) => {
    expect(errorOf(text)).toMatch(re);
  });
});
