/**
 * The one render plan: which level answers a request, which rectangle of it,
 * and when a stored tile is sent as it is. Tables over a 1000 × 700 slide
 * with a ×2 and a ×4 level (256-px JPEG tiles), a floor-rounded level, and
 * an oriented slide.
 */
import { describe, expect, it } from 'vitest';
import { planRender, type EncodeOptions, type RegionRequest } from '../../tiles-server/render/plan.js';
import type { LevelInfo, SlideMeta } from '../../tiles-server/slides/types.js';

const JPEG: EncodeOptions = { format: 'jpeg', quality: 'default', jpegQuality: 85 };
const PNG: EncodeOptions = { format: 'png', quality: 'default', jpegQuality: 85 };

function level(width: number, height: number, downsample: number, passthrough = true, tile = 256): LevelInfo {
  return { width, height, downsample, tileWidth: tile, tileHeight: tile, tiled: true, passthrough };
}

function meta(levels: LevelInfo[], orientation = 1): SlideMeta {
  const l0 = levels[0] as LevelInfo;
  const [width, height] = orientation >= 5 ? [l0.height, l0.width] : [l0.width, l0.height];
  return { vendor: 'generic-tiff', levels, orientation, width, height, mpp: null, objectivePower: null, associated: [], channels: null, compression: 'jpeg', warnings: [] };
}

const slide = meta([level(1000, 700, 1), level(500, 350, 2), level(250, 175, 4)]);
const req = (x: number, y: number, w: number, h: number, outW: number, outH: number, enc = JPEG): RegionRequest => ({ rect: { x, y, width: w, height: h }, outWidth: outW, outHeight: outH, enc });
const BUDGET = 64_000_000;

describe('render plan', () => {
  it.each([
    ['a whole level-0 tile', req(256, 0, 256, 256, 256, 256), { kind: 'stored', level: 0, col: 1, row: 0 }],
    ['a whole ×2 tile', req(0, 0, 512, 512, 256, 256), { kind: 'stored', level: 1, col: 0, row: 0 }],
    ['a whole ×4 tile', req(0, 0, 1000, 700, 250, 175), { kind: 'compose', level: 2, rect: { x: 0, y: 0, width: 250, height: 175 } }],
  ])('%s', (_name, r, expected) => {
    expect(planRender(slide, r, BUDGET)).toMatchObject(expected);
  });

  it('the last DZI column of a ×4 level (a few pixels of level 0 wide) reads that level', () => {
    // at ×4 the level is 250 wide; a request for its last 2 columns is 8 level-0 pixels wide
    const plan = planRender(slide, req(992, 0, 8, 700, 2, 175), BUDGET);
    expect(plan).toMatchObject({ kind: 'compose', level: 2, rect: { x: 248, y: 0, width: 2, height: 175 }, outWidth: 2, outHeight: 175 });
  });

  it('an edge tile (narrower than a tile) is composed, never passed through', () => {
    expect(planRender(slide, req(768, 512, 232, 188, 232, 188), BUDGET)).toMatchObject({ kind: 'compose', level: 0, rect: { x: 768, y: 512, width: 232, height: 188 } });
  });

  it('off-grid or non-JPEG requests compose; a whole tile keeps a compose fallback', () => {
    expect(planRender(slide, req(100, 0, 256, 256, 256, 256), BUDGET).kind).toBe('compose');
    expect(planRender(slide, req(256, 0, 256, 256, 256, 256, PNG), BUDGET).kind).toBe('compose');
    expect(planRender(slide, req(256, 0, 256, 256, 256, 256, { ...JPEG, quality: 'gray' }), BUDGET).kind).toBe('compose');
    const p = planRender(slide, req(256, 256, 256, 256, 256, 256), BUDGET);
    expect(p).toMatchObject({ kind: 'stored', fallback: { kind: 'compose', level: 0, rect: { x: 256, y: 256, width: 256, height: 256 } } });
  });

  it('a level that cannot be passed through (not JPEG, several planes) composes', () => {
    const lossless = meta([level(1000, 700, 1, false), level(500, 350, 2, false)]);
    expect(planRender(lossless, req(256, 0, 256, 256, 256, 256), BUDGET)).toMatchObject({ kind: 'compose', level: 0 });
  });

  it('an arbitrary scale picks the coarsest level with the resolution', () => {
    expect(planRender(slide, req(0, 0, 1000, 700, 300, 210), BUDGET)).toMatchObject({ kind: 'compose', level: 1, rect: { x: 0, y: 0, width: 500, height: 350 } });
    expect(planRender(slide, req(0, 0, 1000, 700, 100, 70), BUDGET)).toMatchObject({ kind: 'compose', level: 2 });
    expect(planRender(slide, req(0, 0, 1000, 700, 1000, 700), BUDGET)).toMatchObject({ kind: 'compose', level: 0 });
  });

  it('falls back to coarser levels while the read exceeds the source-pixel budget', () => {
    expect(planRender(slide, req(0, 0, 1000, 700, 1000, 700), 200_000)).toMatchObject({ kind: 'compose', level: 1 });
    expect(planRender(slide, req(0, 0, 1000, 700, 1000, 700), 50_000)).toMatchObject({ kind: 'compose', level: 2 });
    // the exact fit over budget also falls back
    expect(planRender(slide, req(0, 0, 1000, 700, 500, 350), 100_000)).toMatchObject({ kind: 'compose', level: 2 });
  });

  it('a floor-rounded reduced level still counts as exact', () => {
    const odd = meta([level(1001, 701, 1), level(500, 350, 2.0)]);
    expect(planRender(odd, req(512, 0, 489, 512, 245, 256), BUDGET)).toMatchObject({ kind: 'compose', level: 1, rect: { x: 256, y: 0, width: 244, height: 256 }, outWidth: 245 });
  });

  it('orientation: plans in stored space with swapped output, and never passes a stored tile through', () => {
    const turned = meta([level(1000, 700, 1), level(500, 350, 2)], 6);
    // displayed 700 × 1000: the top-left display tile is a stored tile's worth of pixels, but turned
    const plan = planRender(turned, req(0, 0, 256, 256, 256, 256), BUDGET);
    expect(plan.kind).toBe('compose');
    expect(plan).toMatchObject({ level: 0, orientation: 6, outWidth: 256, outHeight: 256 });
    const wide = planRender(turned, req(0, 0, 700, 1000, 350, 500), BUDGET);
    expect(wide).toMatchObject({ kind: 'compose', level: 1, outWidth: 500, outHeight: 350, rect: { x: 0, y: 0, width: 500, height: 350 } });
  });
});
