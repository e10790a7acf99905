/**
 * The corrections report's plots as plain SVG drawn from the report's JSON
 * (no plotting library: a few bars and a grid): per class stacked bars of
 * what happened to the model's objects, the relabel matrix as a heat map,
 * the IoU of changed outlines as a histogram, and per annotator bars. The
 * layout is computed in plain functions (`barLayout`, `matrixLayout`,
 * `histogramLayout`) so a test can check the geometry against the numbers.
 */
import { html, svg, type TemplateResult } from 'lit';

export const OUTCOMES = ['accepted', 'relabelled', 'edited', 'both', 'rejected', 'untouched', 'missed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const OUTCOME_COLOURS: Record<Outcome, string> = {
  accepted: '#2e7d32',
  relabelled: '#f9a825',
  edited: '#1e88e5',
  both: '#8e24aa',
  rejected: '#c62828',
  untouched: '#bdbdbd',
  missed: '#37474f',
};

export const OUTCOME_LABELS: Record<Outcome, string> = {
  accepted: 'accepted',
  relabelled: 'relabelled',
  edited: 'edited',
  both: 'relabelled + edited',
  rejected: 'rejected',
  untouched: 'untouched',
  missed: 'missed (added by hand)',
};

export interface BarSegment {
  key: Outcome;
  value: number;
  x: number;
  width: number;
}

export interface BarRow {
  label: string;
  total: number;
  segments: BarSegment[];
}

/** Horizontal stacked bars on one scale: the longest row fills `width`. */
export function barLayout(rows: ReadonlyArray<{ label: string; counts: Partial<Record<Outcome, number>> }>, width: number): BarRow[] {
  const totals = rows.map((r) => OUTCOMES.reduce((s, k) => s + (r.counts[k] ?? 0), 0));
  const max = Math.max(1, ...totals);
  return rows.map((r, i) => {
    let x = 0;
    const segments: BarSegment[] = [];
    for (const key of OUTCOMES) {
      const value = r.counts[key] ?? 0;
      if (value <= 0) continue;
      const w = (value / max) * width;
      segments.push({ key, value, x, width: w });
      x += w;
    }
    return { label: r.label, total: totals[i] as number, segments };
  });
}

const LABEL_W = 150;
const ROW_H = 26;

export function stackedBars(rows: ReadonlyArray<{ label: string; counts: Partial<Record<Outcome, number>> }>, width = 560, testid = 'bars'): TemplateResult {
  const plotW = width - LABEL_W - 60;
  const laid = barLayout(rows, plotW);
  const h = laid.length * ROW_H + 8;
  return html`<svg data-testid=${testid} width=${width} height=${h} viewBox=${`0 0 ${width} ${h}`} role="img" aria-label="objects per outcome">
    ${laid.map(
      (r, i) => svg`<g transform=${`translate(0 ${i * ROW_H + 4})`} data-row=${r.label}>
        <text x=${LABEL_W - 6} y="14" text-anchor="end" font-size="12">${r.label}</text>
        ${r.segments.map(
          (s) => svg`<rect data-key=${s.key} data-value=${s.value} x=${LABEL_W + s.x} y="2" width=${Math.max(0.5, s.width)} height="16" fill=${OUTCOME_COLOURS[s.key]}><title>${OUTCOME_LABELS[s.key]}: ${s.value}</title></rect>
            ${s.width >= 22 ? svg`<text x=${LABEL_W + s.x + s.width / 2} y="14" text-anchor="middle" font-size="11" fill="#fff">${s.value}</text>` : ''}`,
        )}
        <text x=${LABEL_W + (r.segments.at(-1)?.x ?? 0) + (r.segments.at(-1)?.width ?? 0) + 6} y="14" font-size="11" fill="#555">${r.total}</text>
      </g>`,
    )}
  </svg>`;
}

export function legend(): TemplateResult {
  return html`<div class="legend">${OUTCOMES.map((k) => html`<span><i style=${`background:${OUTCOME_COLOURS[k]}`}></i>${OUTCOME_LABELS[k]}</span>`)}</div>`;
}

export interface MatrixLayout {
  rows: string[];
  cols: string[];
  cells: Array<{ row: string; col: string; value: number; shade: number }>;
}

/** The relabel matrix's cells (model class × final class), with a shade 0..1 against the largest. */
export function matrixLayout(matrix: Record<string, Record<string, number>>): MatrixLayout {
  const rows = Object.keys(matrix).sort();
  const cols = [...new Set(rows.flatMap((r) => Object.keys(matrix[r] ?? {})))].sort();
  let max = 0;
  for (const r of rows) for (const c of cols) max = Math.max(max, matrix[r]?.[c] ?? 0);
  const cells = rows.flatMap((row) => cols.map((col) => ({ row, col, value: matrix[row]?.[col] ?? 0, shade: max ? (matrix[row]?.[col] ?? 0) / max : 0 })));
  return { rows, cols, cells };
}

export function relabelMatrix(matrix: Record<string, Record<string, number>>): TemplateResult {
  const m = matrixLayout(matrix);
  if (m.rows.length === 0) return html`<p data-testid="matrix-empty">No object was relabelled.</p>`;
  const cell = 56;
  const left = 120;
  const top = 40;
  const w = left + m.cols.length * cell + 10;
  const h = top + m.rows.length * cell + 10;
  return html`<svg data-testid="matrix" width=${w} height=${h} viewBox=${`0 0 ${w} ${h}`} role="img" aria-label="relabel matrix">
    <text x=${left + (m.cols.length * cell) / 2} y="12" text-anchor="middle" font-size="11" fill="#555">final class →</text>
    ${m.cols.map((c, j) => svg`<text x=${left + j * cell + cell / 2} y=${top - 8} text-anchor="middle" font-size="12">${c}</text>`)}
    ${m.rows.map((r, i) => svg`<text x=${left - 8} y=${top + i * cell + cell / 2 + 4} text-anchor="end" font-size="12">${r}</text>`)}
    ${m.cells.map((c) => {
      const i = m.rows.indexOf(c.row);
      const j = m.cols.indexOf(c.col);
      const fill = c.value ? `rgba(249, 168, 37, ${0.2 + 0.8 * c.shade})` : '#f5f5f5';
      return svg`<g data-cell=${`${c.row}→${c.col}`} data-value=${c.value}><rect x=${left + j * cell} y=${top + i * cell} width=${cell - 2} height=${cell - 2} fill=${fill}></rect>
        <text x=${left + j * cell + cell / 2 - 1} y=${top + i * cell + cell / 2 + 4} text-anchor="middle" font-size="13">${c.value}</text></g>`;
    })}
    <text x="4" y=${top + (m.rows.length * cell) / 2} font-size="11" fill="#555">model ↓</text>
  </svg>`;
}

export interface HistogramBar {
  from: number;
  to: number;
  value: number;
  x: number;
  height: number;
}

export function histogramLayout(bins: readonly number[], plotW: number, plotH: number): HistogramBar[] {
  const max = Math.max(1, ...bins);
  const bw = plotW / Math.max(1, bins.length);
  return bins.map((v, i) => ({ from: i / bins.length, to: (i + 1) / bins.length, value: v, x: i * bw, height: (v / max) * plotH }));
}

export function iouHistogram(bins: readonly number[], width = 420, height = 170): TemplateResult {
  const left = 34;
  const bottom = 28;
  const plotW = width - left - 10;
  const plotH = height - bottom - 10;
  const bars = histogramLayout(bins, plotW, plotH);
  const bw = plotW / Math.max(1, bins.length);
  return html`<svg data-testid="iou" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img" aria-label="IoU histogram">
    <line x1=${left} y1=${10 + plotH} x2=${left + plotW} y2=${10 + plotH} stroke="#888"></line>
    ${bars.map(
      (b) => svg`<g data-bin=${b.from.toFixed(1)} data-value=${b.value}>
        <rect x=${left + b.x + 1} y=${10 + plotH - b.height} width=${bw - 2} height=${b.height} fill="#1e88e5"><title>IoU ${b.from.toFixed(1)}–${b.to.toFixed(1)}: ${b.value}</title></rect>
        ${b.value ? svg`<text x=${left + b.x + bw / 2} y=${10 + plotH - b.height - 3} text-anchor="middle" font-size="11">${b.value}</text>` : ''}
      </g>`,
    )}
    ${[0, 0.2, 0.4, 0.6, 0.8, 1].map((t) => svg`<text x=${left + t * plotW} y=${height - 12} text-anchor="middle" font-size="11">${t.toFixed(1)}</text>`)}
    <text x=${left + plotW / 2} y=${height - 1} text-anchor="middle" font-size="11" fill="#555">IoU of the final outline against the model's</text>
  </svg>`;
}
