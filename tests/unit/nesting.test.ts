/**
 * Nesting limits (issue 10 finding 4): the byte scans that stop a 100k-deep
 * JSON or XML document before a parser or a recursive walker sees it, and
 * the streaming GeoJSON scanner refusing the same where it happens.
 */
import { describe, expect, it } from 'vitest';
import { FeatureScanner } from '../../tiles-server/formats/json-features.js';
import { MAX_NESTING, jsonTooDeep, xmlTooDeep } from '../../tiles-server/formats/nesting.js';
import { FormatError } from '../../tiles-server/formats/types.js';
import { parseXml } from '../../tiles-server/formats/xml.js';

const deepJson = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('JSON nesting', () => {
  it('accepts what annotation files need and refuses one level past the limit, saying where', () => {
    const multiPolygon = JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [0, 1], [0, 0]]]] }, properties: { a: { b: { c: [1] } } } }] });
    expect(jsonTooDeep(multiPolygon)).toBeNull();
    expect(jsonTooDeep(deepJson(MAX_NESTING))).toBeNull();
    expect(jsonTooDeep(deepJson(MAX_NESTING + 1))).toEqual({ line: 1, column: MAX_NESTING + 1, limit: MAX_NESTING });
    expect(jsonTooDeep(`{\n  "a":\n    ${deepJson(100_000)}}`)).toEqual({ line: 3, column: 5 + MAX_NESTING - 1, limit: MAX_NESTING });
  });

  it('does not count brackets inside strings (escaped quotes included), as bytes or as text', () => {
    const text = JSON.stringify({ name: `\\"${'['.repeat(500)}"{{{`, v: [[1]] });
    expect(jsonTooDeep(text)).toBeNull();
    expect(jsonTooDeep(Buffer.from(text))).toBeNull();
    expect(jsonTooDeep(Buffer.from(`{"s": "✓ [[[", "d": ${deepJson(200)}}`))).toMatchObject({ line: 1 });
  });

  it('the streaming GeoJSON scanner refuses 100k levels with the line, instead of overflowing the stack', () => {
    const s = new FeatureScanner(() => undefined);
    const text = `{"type": "FeatureCollection", "features": [\n{"type": "Feature", "properties": {"x": ${deepJson(100_000)}}}]}`;
    let err: unknown;
    try {
      s.push(Buffer.from(text));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect(`${(err as FormatError).where}: ${(err as FormatError).message}`).toMatch(/^line 2: .*nested more than 100 levels.*feature 0/);
  });
});

describe('XML nesting', () => {
  const deepXml = (n: number): string => `<?xml version="1.0"?>\n<!-- <a><a><a> -->\n<ASAP_Annotations>${'<a x="<b>">'.repeat(n)}<self/>${'</a>'.repeat(n)}</ASAP_Annotations>`;

  it('counts elements, not comments, self-closing tags or quoted ">" and "<"', () => {
    expect(xmlTooDeep(deepXml(MAX_NESTING - 1))).toBeNull();
    expect(xmlTooDeep(deepXml(MAX_NESTING))).toEqual({ line: 3, column: 18 + (MAX_NESTING - 1) * 11 + 1, limit: MAX_NESTING });
    expect(xmlTooDeep('<a><![CDATA[<b><b><b>]]></a>', 2)).toBeNull();
  });

  it('parseXml refuses 100k levels as the file\'s fault (the parser alone throws a plain Error past 100)', () => {
    for (const n of [MAX_NESTING + 5, 100_000]) {
      let err: unknown;
      try {
        parseXml(deepXml(n), []);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as FormatError).where).toMatch(/^line 3, column \d+$/);
    }
  });
});
