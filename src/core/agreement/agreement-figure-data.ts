/**
 * The numbers the agreement figures draw (agreement-plots.ts) and the
 * words they write, apart from the drawing so that the viewer can show
 * the table and its choices without loading the plotting library: the
 * per-class rows (mean over reader pairs, each pair's value, their range)
 * and the reader × reader cells of Cohen's kappa, pixel accuracy or one
 * class's Dice. A value the metrics leave undefined (null: mask-metrics.ts,
 * AGR-01) stays null here and is written "not defined".
 */
/** The numbers the figures draw: a subset of the agreement JSON (MaskAgreement plus names). */
export interface AgreementFigureData {
  /** Reader labels, in the metrics' reader order. */
  readers: readonly string[];
  classes: ReadonlyArray<{ id: number; name: string | null }>;
  perClass: ReadonlyArray<{ class: number; meanDice: number | null; meanIou: number | null }>;
  pairs: ReadonlyArray<{ a: number; b: number; cohenKappa: number | null; pixelAccuracy: number | null; perClass: ReadonlyArray<{ class: number; dice: number | null; iou: number | null }> }>;
}

export type ClassMetric = 'dice' | 'iou';
/** 'kappa', 'accuracy', or `dice:{class id}`. */
export type MatrixMetric = 'kappa' | 'accuracy' | `dice:${number}`;

export const NOT_DEFINED = 'not defined';

export interface ClassRow {
  class: number;
  label: string;
  mean: number | null;
  /** Each pair's value where defined. */
  values: Array<{ pair: string; value: number }>;
  min: number | null;
  max: number | null;
}

export interface MatrixCell {
  row: string;
  col: string;
  value: number | null;
  text: string;
}

/** Reader labels made unique (a band scale needs distinct names). */
export function readerLabels(readers: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return readers.map((r) => {
    const n = (seen.get(r) ?? 0) + 1;
    seen.set(r, n);
    return n === 1 ? r : `${r} (${n})`;
  });
}

function classLabel(d: AgreementFigureData, id: number): string {
  const name = d.classes.find((c) => c.id === id)?.name;
  return name ? `${name}` : `class ${id}`;
}

export function formatValue(v: number | null): string {
  return v === null || !Number.isFinite(v) ? NOT_DEFINED : v.toFixed(3);
}

/** Per class: the mean over pairs, each pair's defined value, and their range. */
export function classRows(d: AgreementFigureData, metric: ClassMetric): ClassRow[] {
  const who = readerLabels(d.readers);
  return d.perClass.map((c) => {
    const values: ClassRow['values'] = [];
    for (const p of d.pairs) {
      const pc = p.perClass.find((x) => x.class === c.class);
      const v = pc ? pc[metric] : null;
      if (v !== null && Number.isFinite(v)) values.push({ pair: `${who[p.a] ?? p.a} vs ${who[p.b] ?? p.b}`, value: v });
    }
    const mean = metric === 'dice' ? c.meanDice : c.meanIou;
    const vs = values.map((x) => x.value);
    return { class: c.class, label: classLabel(d, c.class), mean: mean !== null && Number.isFinite(mean) ? mean : null, values, min: vs.length ? Math.min(...vs) : null, max: vs.length ? Math.max(...vs) : null };
  });
}

function pairValue(p: AgreementFigureData['pairs'][number], metric: MatrixMetric): number | null {
  if (metric === 'kappa') return p.cohenKappa;
  if (metric === 'accuracy') return p.pixelAccuracy;
  const cls = Number(metric.slice(5));
  return p.perClass.find((x) => x.class === cls)?.dice ?? null;
}

/** Every ordered pair of distinct readers (the matrix is symmetric; the diagonal is left empty, as in the CSV). */
export function matrixCells(d: AgreementFigureData, metric: MatrixMetric): MatrixCell[] {
  const who = readerLabels(d.readers);
  const cells: MatrixCell[] = [];
  for (const p of d.pairs) {
    const raw = pairValue(p, metric);
    const value = raw !== null && Number.isFinite(raw) ? raw : null;
    const a = who[p.a] ?? String(p.a);
    const b = who[p.b] ?? String(p.b);
    cells.push({ row: a, col: b, value, text: formatValue(value) }, { row: b, col: a, value, text: formatValue(value) });
  }
  return cells;
}

export function matrixMetricLabel(d: AgreementFigureData, metric: MatrixMetric): string {
  if (metric === 'kappa') return "Cohen's kappa";
  if (metric === 'accuracy') return 'pixel accuracy';
  return `Dice of ${classLabel(d, Number(metric.slice(5)))}`;
}

/** The metrics a matrix can show for this data: kappa, accuracy, and each class's Dice. */
export function matrixMetrics(d: AgreementFigureData): MatrixMetric[] {
  return ['kappa', 'accuracy', ...d.perClass.map((c): MatrixMetric => `dice:${c.class}`)];
}
