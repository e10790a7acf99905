import { describe, expect, it } from 'vitest';
import { formatDeepLink, parseDeepLink } from '../../src/core/deep-link.js';
import { effectiveObjective, formatLength, imageZoomForMagnification, magnification, niceFloor, presets, scaleBar } from '../../src/core/scale.js';

describe('scale bar', () => {
  it.each([
    [150, 100],
    [99, 50],
    [1, 1],
    [0.37, 0.2],
    [2000, 2000],
  ])('niceFloor(%s) = %s', (v, out) => {
    expect(niceFloor(v)).toBeCloseTo(out, 12);
  });

  it('measures microns from MPP', () => {
    // 0.25 µm/px at 1 screen px per image px: 150 px = 37.5 µm -> 20 µm bar of 80 px
    expect(scaleBar(0.25, 1)).toEqual({ px: 80, label: '20 µm', calibrated: true });
    // zoomed out 1/64: 16 µm per screen px -> 2 mm bar of 125 px
    expect(scaleBar(0.25, 1 / 64)).toEqual({ px: 125, label: '2 mm', calibrated: true });
  });

  it('says when MPP is unknown', () => {
    const bar = scaleBar(null, 0.5);
    expect(bar.calibrated).toBe(false);
    expect(bar.label).toBe('200 px (no MPP)');
    expect(bar.px).toBe(100);
  });

  it('formats lengths', () => {
    expect(formatLength(500)).toBe('500 µm');
    expect(formatLength(2000)).toBe('2 mm');
    expect(formatLength(0.5)).toBe('500 nm');
  });
});

describe('magnification', () => {
  it('relates image zoom to the objective', () => {
    expect(magnification(40, 0.5)).toBe(20);
    expect(imageZoomForMagnification(20, 40)).toBe(2);
    expect(effectiveObjective(20, 0.5)).toEqual({ power: 20, estimated: false });
    expect(effectiveObjective(null, 0.25)).toEqual({ power: 40, estimated: true });
    expect(effectiveObjective(null, null)).toBeNull();
  });
});

describe('deep link', () => {
  it('round-trips slide and view', () => {
    const link = { slide: 'abc123', view: { x: 1234, y: 5678, zoom: 0.123456 } };
    const parsed = parseDeepLink(formatDeepLink(link));
    expect(parsed.slide).toBe('abc123');
    expect(parsed.view?.x).toBe(1234);
    expect(parsed.view?.zoom).toBeCloseTo(0.12346, 5);
  });

  it.each([
    ['#slide=../etc&x=1&y=2&zoom=1', null, null],
    ['#slide=abc&x=1&y=2&zoom=0', 'abc', null],
    ['#slide=abc&x=NaN&y=2&zoom=1', 'abc', null],
    ['#x=1&y=2&zoom=1', null, null],
    ['', null, null],
  ])('ignores bad parts of %s', (hash, slide, view) => {
    const p = parseDeepLink(hash);
    expect(p.slide).toBe(slide);
    expect(p.view).toBe(view);
  });
});

describe('magnification presets (issue 11)', () => {
  it('mark those above the scan as digital zoom', () => {
    const p = presets({ power: 20, estimated: false });
    expect(p.map((x) => `${x.label}${x.digital ? ' D' : ''}`)).toEqual(['1.25×', '2.5×', '5×', '10×', '20×', '40× D']);
    expect(p[5]?.title).toMatch(/digital zoom, past the 20× scan; pixels are enlarged 2×/);
    expect(presets({ power: 40, estimated: false }).some((x) => x.digital)).toBe(false);
    // estimated from MPP (0.5 µm/px ≈ 20×)
    expect(presets(effectiveObjective(null, 0.5)).filter((x) => x.digital).map((x) => x.mag)).toEqual([40]);
    expect(presets(effectiveObjective(null, 0.5))[5]?.title).toMatch(/≈20× scan/);
  });

  it('read as zoom factors on a slide with neither objective power nor MPP', () => {
    const p = presets(effectiveObjective(null, null));
    expect(p.map((x) => x.label)).toEqual(['3.1%', '6.3%', '13%', '25%', '50%', '100%']);
    expect(p.every((x) => !x.digital && !x.label.includes('×'))).toBe(true);
    // the same zooms as before: 100% is one screen pixel per image pixel
    expect(imageZoomForMagnification(40, p[5]?.mag as number)).toBe(1);
  });
});
