/**
 * The canonical JSON the regulatory report is hashed in (issue 15,
 * src/core/canonical-json.ts): one text for one value whatever order its
 * keys were written in, JSON.parse reads it back to an equal value, and a
 * value JSON cannot hold is refused rather than dropped or changed.
 */
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';

describe('canonical JSON', () => {
  it('writes the same text for the same value, whatever the order of its keys', () => {
    const a = { b: 1, a: { z: [3, { y: 'x', x: null }], k: true }, 'é': 'accent', A: -2.5 };
    const b = { A: -2.5, 'é': 'accent', a: { k: true, z: [3, { x: null, y: 'x' }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"A":-2.5,"a":{"k":true,"z":[3,{"x":null,"y":"x"}]},"b":1,"é":"accent"}');
    expect(JSON.parse(canonicalJson(a))).toEqual(a);
  });

  it('keeps the order of arrays, and tells values apart', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: 0.1 + 0.2 })).toBe('{"a":0.30000000000000004}');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson('line\nbreak "quoted"')).toBe('"line\\nbreak \\"quoted\\""');
  });

  it('refuses what JSON cannot hold, naming where it is', () => {
    expect(() => canonicalJson({ a: [1, Number.NaN] })).toThrow(/\$\.a\[1\]/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/\$\.a/);
    expect(() => canonicalJson({ a: undefined })).toThrow(/undefined/);
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/plain objects/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/function/);
  });
});
