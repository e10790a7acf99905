import { describe, expect, it } from 'vitest';
import { parseQualityFormat, parseRegion, parseRotation, parseSize } from '../../tiles-server/iiif/params.js';

const lim = { maxWidth: 4096, maxHeight: 4096, maxArea: 4096 * 4096 };
const bad = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? 'throw';
  }
};

describe('IIIF region', () => {
  it.each([
    ['full', { x: 0, y: 0, width: 1000, height: 600 }],
    ['square', { x: 200, y: 0, width: 600, height: 600 }],
    ['10,20,100,50', { x: 10, y: 20, width: 100, height: 50 }],
    ['900,500,500,500', { x: 900, y: 500, width: 100, height: 100 }],
    ['pct:10,10,50,50', { x: 100, y: 60, width: 500, height: 300 }],
  ])('%s', (s, rect) => {
    expect(parseRegion(s, 1000, 600)).toEqual(rect);
  });

  it.each(['1000,0,10,10', '0,600,10,10', '0,0,0,10', '-1,0,10,10', '1e308,0,1,1', '__proto__', '1,2,3', 'pct:1,2,3', '0.5,0,10,10', 'abc'])('refuses %s', (s) => {
    expect(bad(() => parseRegion(s, 1000, 600))).toBe('BAD_REQUEST');
  });
});

describe('IIIF size', () => {
  it.each([
    ['max', 1000, 600, { width: 1000, height: 600 }],
    ['max', 10000, 5000, { width: 4096, height: 2048 }],
    ['500,', 1000, 600, { width: 500, height: 300 }],
    [',300', 1000, 600, { width: 500, height: 300 }],
    ['pct:50', 1000, 600, { width: 500, height: 300 }],
    ['256,256', 1000, 600, { width: 256, height: 256 }],
    ['!500,500', 1000, 600, { width: 500, height: 300 }],
    ['^2000,', 1000, 600, { width: 2000, height: 1200 }],
    ['^pct:150', 100, 60, { width: 150, height: 90 }],
  ])('%s of %ix%i', (s, w, h, out) => {
    expect(parseSize(s, w, h, lim)).toEqual(out);
  });

  it.each([
    ['^max', 1000, 600, lim, { width: 4096, height: 2457 }],
    ['^max', 600, 1000, lim, { width: 2457, height: 4096 }],
    ['^max', 100, 100, { maxWidth: 4096, maxHeight: 4096, maxArea: 4_000_000 }, { width: 2000, height: 2000 }],
    ['^max', 300, 100, { maxWidth: 1000, maxHeight: 4096, maxArea: 4096 * 4096 }, { width: 1000, height: 333 }],
    ['^max', 10000, 5000, lim, { width: 4096, height: 2048 }],
    ['max', 1000, 600, lim, { width: 1000, height: 600 }],
  ])('%s of %ix%i scales up to the advertised maxWidth, maxHeight and maxArea', (s, w, h, limits, out) => {
    const got = parseSize(s, w, h, limits);
    expect(got).toEqual(out);
    expect(got.width * got.height).toBeLessThanOrEqual(limits.maxArea);
  });

  it.each([
    ['2000,', 'needs ^ to upscale'],
    ['pct:150', 'needs ^'],
    ['0,', 'zero'],
    [',', 'empty'],
    ['^8000,', 'beyond maxWidth'],
    ['abc', 'garbage'],
    ['pct:-5', 'negative'],
  ])('refuses %s (%s)', (s) => {
    expect(bad(() => parseSize(s, 1000, 600, lim))).toBe('BAD_REQUEST');
  });
});

describe('IIIF rotation, quality and format', () => {
  it('accepts rotation 0 only', () => {
    expect(parseRotation('0')).toBe(0);
    expect(bad(() => parseRotation('90'))).toBe('BAD_REQUEST');
    expect(bad(() => parseRotation('!0'))).toBe('BAD_REQUEST');
  });

  it.each([
    ['default.jpg', 'default', 'jpeg'],
    ['color.png', 'color', 'png'],
    ['gray.webp', 'gray', 'webp'],
    ['bitonal.jpg', 'bitonal', 'jpeg'],
  ])('%s', (s, q, f) => {
    expect(parseQualityFormat(s)).toEqual({ quality: q, format: f });
  });

  it.each(['default.gif', 'fancy.jpg', 'default', 'default.jpg.exe'])('refuses %s', (s) => {
    expect(bad(() => parseQualityFormat(s))).toBe('BAD_REQUEST');
  });
});
