/**
 * The agreement figures (issue 14), drawn with Observable Plot, in one
 * home for the viewer's agreement panel and the regulatory report:
 * - per class, the mean Dice (or IoU) over the reader pairs as a bar, each
 *   pair's value as a dot and the pairs' range as a rule (the spread);
 * - a reader × reader heat map of Cohen's kappa, pixel accuracy or one
 *   class's Dice, the value written in each cell.
 * A value the metrics leave undefined (null: mask-metrics.ts, AGR-01) is
 * written "not defined" on a grey cell or beside an empty row, never drawn
 * as a bar, a dot or a colour.
 *
 * It touches no global DOM: the caller passes the document to build in
 * (the page's in the viewer; a server-side one for the report's static
 * SVG, tiles-server/report/report-plots.ts). The figures use presentation
 * attributes only; `figureSvg` drops Plot's inline <style> so a page
 * served without style sheets (the report's policy) shows them alike.
 */
import * as Plot from '@observablehq/plot';
import { classRows, formatValue, matrixCells, matrixMetricLabel, NOT_DEFINED, readerLabels, type AgreementFigureData, type ClassMetric, type ClassRow, type MatrixCell, type MatrixMetric } from './agreement-figure-data.js';

const UNDEFINED_FILL = '#e6e6e6';
const BAR_FILL = '#4c7bd9';

/** The colour domain: fixed so that figures of different ROIs compare (kappa can be negative). */
function colorDomain(metric: MatrixMetric): [number, number] {
  return metric === 'kappa' ? [-1, 1] : [0, 1];
}

type Doc = NonNullable<Plot.PlotOptions['document']>;
/** What a figure is once built (an SVG element of the given document). */
export type Figure = ReturnType<typeof Plot.plot>;

/** The per-class bars (mean over pairs), dots (each pair) and rules (their range); null without classes. */
export function classFigure(d: AgreementFigureData, metric: ClassMetric, document: unknown, width = 360): Figure | null {
  const rows = classRows(d, metric);
  if (rows.length === 0) return null;
  const name = metric === 'dice' ? 'Dice' : 'IoU';
  const defined = rows.filter((r) => r.mean !== null);
  const undefinedRows = rows.filter((r) => r.mean === null);
  const spread = rows.filter((r) => r.min !== null && r.max !== null && r.values.length > 1);
  const dots = rows.flatMap((r) => r.values.map((v) => ({ label: r.label, pair: v.pair, value: v.value })));
  return Plot.plot({
    document: document as Doc,
    width,
    height: 40 + rows.length * 20,
    marginLeft: 110,
    marginRight: 16,
    x: { domain: [0, 1], label: `${name} (bar: mean over pairs; dots: each pair)`, grid: true },
    y: { domain: rows.map((r) => r.label), label: null },
    marks: [
      Plot.barX(defined, { x: 'mean', y: 'label', fill: BAR_FILL, fillOpacity: 0.55, title: (r: ClassRow) => `${r.label}: mean ${name} ${formatValue(r.mean)} over ${r.values.length} pair(s)`, ariaDescription: 'mean' }),
      Plot.ruleY(spread, { x1: 'min', x2: 'max', y: 'label', stroke: '#1d3f8a', ariaDescription: 'spread' }),
      Plot.dot(dots, { x: 'value', y: 'label', r: 3, fill: '#1d3f8a', title: (v: { pair: string; value: number }) => `${v.pair}: ${formatValue(v.value)}`, ariaDescription: 'pair' }),
      Plot.text(defined, { x: 'mean', y: 'label', text: (r: ClassRow) => formatValue(r.mean), dx: 4, textAnchor: 'start', dy: -8, fontSize: 9, ariaDescription: 'mean value' }),
      Plot.text(undefinedRows, { x: 0, y: 'label', text: () => NOT_DEFINED, textAnchor: 'start', dx: 4, fill: '#666', fontStyle: 'italic', ariaDescription: NOT_DEFINED }),
    ],
  });
}

/** The reader × reader heat map with the value written in each cell; null with fewer than two readers. */
export function matrixFigure(d: AgreementFigureData, metric: MatrixMetric, document: unknown, width = 360): Figure | null {
  const who = readerLabels(d.readers);
  if (who.length < 2 || d.pairs.length === 0) return null;
  const cells = matrixCells(d, metric);
  const defined = cells.filter((c) => c.value !== null);
  const undefinedCells = cells.filter((c) => c.value === null);
  const [lo, hi] = colorDomain(metric);
  const dark = (v: number): boolean => (metric === 'kappa' ? Math.abs(v) > 0.6 : v > 0.6);
  const label = matrixMetricLabel(d, metric);
  return Plot.plot({
    document: document as Doc,
    width,
    height: 40 + who.length * 34,
    marginLeft: 90,
    marginBottom: 36,
    x: { domain: who, label: null, axis: 'bottom', tickRotate: who.length > 3 ? -20 : 0 },
    y: { domain: who, label: null },
    color: { type: 'linear', domain: [lo, hi], scheme: metric === 'kappa' ? 'rdbu' : 'blues', clamp: true },
    marks: [
      Plot.cell(defined, { x: 'col', y: 'row', fill: 'value', inset: 1, title: (c: MatrixCell) => `${c.row} vs ${c.col}: ${label} ${c.text}`, ariaDescription: 'value cell' }),
      Plot.cell(undefinedCells, { x: 'col', y: 'row', fill: UNDEFINED_FILL, stroke: '#999', strokeDasharray: '3,2', inset: 1, title: (c: MatrixCell) => `${c.row} vs ${c.col}: ${label} ${NOT_DEFINED}`, ariaDescription: 'undefined cell' }),
      Plot.text(defined, { x: 'col', y: 'row', text: 'text', fill: { value: (c: MatrixCell) => (dark(c.value as number) ? 'white' : 'black'), scale: null }, ariaDescription: 'value text' }),
      Plot.text(undefinedCells, { x: 'col', y: 'row', text: 'text', fill: '#555', fontStyle: 'italic', ariaDescription: 'undefined text' }),
    ],
  });
}

/** A figure as SVG markup for a page without style sheets: Plot's <style> and class attribute dropped, the namespace stated. */
export function figureSvg(fig: Figure): string {
  const el = fig as unknown as { outerHTML: string; querySelectorAll(s: string): ArrayLike<{ remove(): void }>; removeAttribute(n: string): void; setAttribute(n: string, v: string): void };
  for (const s of Array.from(el.querySelectorAll('style'))) s.remove();
  el.removeAttribute('class');
  el.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  return el.outerHTML;
}
