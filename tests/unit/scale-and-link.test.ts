import { describe, expect, it } from 'vitest';
import { formatDeepLink, parseDeepLink } from '../../src/core/deep-link.js';
import { effectiveObjective, formatLength, imageZoomForMagnification, magnification, niceFloor, scaleBar } from '../../src/core/scale.js';

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
