/**
 * The agreement figures (src/core/agreement/agreement-plots.ts), built with
 * Observable Plot in a server-side document (linkedom, as the report does):
 * each mark is checked against the numbers — bar lengths against the mean
 * Dice/IoU through the figure's own x scale and independently against the
 * plot area, dots against each pair's value, heat-map cell fills against
 * the colour scale and cell texts against the values. Bad cases: one
 * pair, one class, undefined values written "not defined" and never drawn
 * (AGR-01), no class or fewer than two readers → no figure.
 */
import { describe, expect, it } from 'vitest';
import { parseHTML } from 'linkedom';
import { classFigure, figureSvg, matrixFigure } from '../../src/core/agreement/agreement-plots.js';
import { classRows, matrixCells, NOT_DEFINED, type AgreementFigureData } from '../../src/core/agreement/agreement-figure-data.js';
import { maskAgreement } from '../../src/core/agreement/mask-metrics.js';
import { countTuples } from '../../src/core/agreement/tuples.js';

type El = { getAttribute(n: string): string | null; querySelectorAll(s: string): ArrayLike<El>; querySelector(s: string): El | null; textContent: string | null; parentNode: El | null };
const doc = () => parseHTML('<!doctype html><html><body></body></html>').document;

/** A mark's elements by the description the module gives its group. */
function marks(fig: unknown, description: string, tag: string): El[] {
  const g = (fig as El).querySelector(`g[aria-description="${description}"]`);
  return g ? Array.from(g.querySelectorAll(tag)) : [];
}
const title = (e: El): string => e.querySelector('title')?.textContent ?? '';

/** Readers' label arrays → the figures' data, through the real metrics. */
function figureData(labels: number[][], names: string[], classNames: Record<number, string>, include: number[] = []): AgreementFigureData {
  const m = maskAgreement(countTuples(labels.map((l) => Uint8Array.from(l))), labels.length, include);
  return { readers: names, classes: m.classes.map((id) => ({ id, name: classNames[id] ?? null })), perClass: m.perClass, pairs: m.pairs };
}

describe('agreement figures (issue 14 outputs)', () => {
  // three readers over 8 pixels, classes 0, 1, 2 (and 3 from the palette, used by nobody: undefined)
  const labels = [
    [0, 1, 1, 1, 2, 2, 0, 0],
    [0, 1, 1, 2, 2, 2, 0, 1],
    [1, 1, 1, 1, 2, 0, 0, 0],
  ];
  const d = figureData(labels, ['ann', 'bob', 'cid'], { 0: 'Unlabelled', 1: 'Tumour', 2: 'Stroma', 3: 'Necrosis' }, [3]);

  it('draws each class mean as a bar whose length is the mean over pairs, each pair as a dot; an unused class is "not defined" (AGR-01)', () => {
    for (const metric of ['dice', 'iou'] as const) {
      const fig = classFigure(d, metric, doc());
      expect(fig).not.toBeNull();
      const x = fig!.scale('x')!;
      const rows = classRows(d, metric);
      // the rows equal a direct computation from the pairs
      for (const r of rows) {
        const vals = d.pairs.map((p) => p.perClass.find((c) => c.class === r.class)?.[metric] ?? null).filter((v): v is number => v !== null);
        expect(r.values.map((v) => v.value)).toEqual(vals);
        if (vals.length) expect(r.mean).toBeCloseTo(vals.reduce((s, v) => s + v, 0) / vals.length, 12);
        else expect(r.mean).toBeNull();
      }
      const bars = marks(fig, 'mean', 'rect');
      const defined = rows.filter((r) => r.mean !== null);
      expect(bars.length).toBe(defined.length);
      // the x scale maps [0, 1] onto the plot area: bar length / full length = the mean, checked against the scale and by hand
      const [x0, x1] = [x.apply(0) as number, x.apply(1) as number];
      bars.forEach((b, i) => {
        const r = defined[i]!;
        expect(title(b)).toContain(r.label);
        expect(Number(b.getAttribute('x'))).toBeCloseTo(x0, 6);
        expect(Number(b.getAttribute('width'))).toBeCloseTo((x.apply(r.mean) as number) - x0, 6);
        expect(Number(b.getAttribute('width')) / (x1 - x0)).toBeCloseTo(r.mean as number, 9);
      });
      const dots = marks(fig, 'pair', 'circle');
      const all = rows.flatMap((r) => r.values);
      expect(dots.length).toBe(all.length);
      dots.forEach((c, i) => expect((Number(c.getAttribute('cx')) - x0) / (x1 - x0)).toBeCloseTo(all[i]!.value, 9));
      // Necrosis: no bar, no dot, the words instead; nothing NaN anywhere
      const nd = marks(fig, NOT_DEFINED, 'text');
      expect(nd.map((t) => t.textContent)).toEqual([NOT_DEFINED]);
      expect(bars.some((b) => title(b).includes('Necrosis'))).toBe(false);
      expect(figureSvg(fig!)).not.toMatch(/NaN|<style|class="/);
    }
  });

  it('fills each heat-map cell from the value through the colour scale and writes the value in it; kappa chosen or a class Dice', () => {
    for (const metric of ['kappa', 'accuracy', 'dice:1'] as const) {
      const fig = matrixFigure(d, metric, doc());
      expect(fig).not.toBeNull();
      const color = fig!.scale('color')!;
      const [xs, ys] = [fig!.scale('x')!, fig!.scale('y')!];
      const cells = matrixCells(d, metric);
      expect(cells.length).toBe(6); // 3 readers: every ordered pair, no diagonal
      const rects = marks(fig, 'value cell', 'rect');
      const texts = marks(fig, 'value text', 'text');
      const defined = cells.filter((c) => c.value !== null);
      expect(rects.length).toBe(defined.length);
      expect(texts.length).toBe(defined.length);
      defined.forEach((c, i) => {
        const p = d.pairs.find((q) => [d.readers[q.a], d.readers[q.b]].sort().join() === [c.row, c.col].sort().join())!;
        const expected = metric === 'kappa' ? p.cohenKappa : metric === 'accuracy' ? p.pixelAccuracy : p.perClass.find((k) => k.class === 1)!.dice;
        expect(c.value).toBe(expected);
        expect(rects[i]!.getAttribute('fill')).toBe(color.apply(expected));
        expect(Number(rects[i]!.getAttribute('x'))).toBeCloseTo((xs.apply(c.col) as number) + 1, 6); // inset 1
        expect(Number(rects[i]!.getAttribute('y'))).toBeCloseTo((ys.apply(c.row) as number) + 1, 6);
        expect(texts[i]!.textContent).toBe((expected as number).toFixed(3));
      });
    }
  });

  it('one pair, one class, and a kappa that is undefined (both readers one class everywhere) show "not defined", never NaN (AGR-01)', () => {
    const one = figureData([[1, 1, 1, 1], [1, 1, 1, 1]], ['ann', 'bob'], { 1: 'Tumour' });
    expect(one.pairs.length).toBe(1);
    expect(one.pairs[0]!.cohenKappa).toBeNull();
    const m = matrixFigure(one, 'kappa', doc())!;
    expect(marks(m, 'value cell', 'rect').length).toBe(0);
    expect(marks(m, 'undefined cell', 'rect').length).toBe(2);
    expect(marks(m, 'undefined text', 'text').map((t) => t.textContent)).toEqual([NOT_DEFINED, NOT_DEFINED]);
    // the same pair's Dice of its one class is defined (1): written and filled
    const dice = matrixFigure(one, 'dice:1', doc())!;
    expect(marks(dice, 'value text', 'text').map((t) => t.textContent)).toEqual(['1.000', '1.000']);
    const c = classFigure(one, 'dice', doc())!;
    const bars = marks(c, 'mean', 'rect');
    expect(bars.length).toBe(1);
    expect(marks(c, 'spread', 'line').length).toBe(0); // one pair: no range to draw
    expect(marks(c, 'pair', 'circle').length).toBe(1);
    const svg = figureSvg(m) + figureSvg(c);
    expect(svg).not.toContain('NaN');
  });

  it('draws nothing without classes (no shared ROI counted) or with fewer than two readers', () => {
    const empty: AgreementFigureData = { readers: ['ann', 'bob'], classes: [], perClass: [], pairs: [] };
    expect(classFigure(empty, 'dice', doc())).toBeNull();
    expect(matrixFigure(empty, 'kappa', doc())).toBeNull();
    expect(matrixFigure({ ...empty, readers: ['ann'] }, 'kappa', doc())).toBeNull();
  });

  it('keeps two readers of one name apart', () => {
    const same = figureData([[0, 1], [1, 1]], ['ann', 'ann'], {});
    const cells = matrixCells(same, 'accuracy');
    expect(cells.map((c) => [c.row, c.col])).toEqual([['ann', 'ann (2)'], ['ann (2)', 'ann']]);
  });
});
