/**
 * An agreement report as CSV (RFC 4180, CRLF): the per-class table (one row
 * per class: pixels per reader, mean Dice and IoU, then Dice and IoU per
 * pair of readers) or a reader × reader matrix (Cohen's kappa, or pixel
 * accuracy; the diagonal is left empty). Undefined values (null) are empty cells; a text cell that a
 * spreadsheet would take for a formula is prefixed with an apostrophe.
 */
import type { AgreementReport } from '../agreement-service.js';

type Cell = string | number | null;

function cell(v: Cell): string {
  if (v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  if (/[",\r\n]/.test(s)) s = `"${s.replace(/"/g, '""')}"`;
  return s;
}

function lines(rows: Cell[][]): string {
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

export const CSV_TABLES = ['classes', 'readers'] as const;
export const CSV_METRICS = ['kappa', 'accuracy'] as const;

export function classTableCsv(r: AgreementReport): string {
  const who = (i: number): string => r.readers[i]?.username ?? r.readers[i]?.id ?? String(i);
  const names = new Map(r.classes.map((c) => [c.id, c.name]));
  const pairs = r.metrics.pairs;
  const header: Cell[] = ['class_id', 'class', ...r.readers.map((_, i) => `pixels ${who(i)}`), 'mean_dice', 'mean_iou'];
  for (const p of pairs) header.push(`dice ${who(p.a)} vs ${who(p.b)}`, `iou ${who(p.a)} vs ${who(p.b)}`);
  const rows: Cell[][] = [header];
  r.metrics.perClass.forEach((c, k) => {
    const row: Cell[] = [c.class, names.get(c.class) ?? null, ...c.pixels, c.meanDice, c.meanIou];
    for (const p of pairs) row.push(p.perClass[k]?.dice ?? null, p.perClass[k]?.iou ?? null);
    rows.push(row);
  });
  return lines(rows);
}

export function readerMatrixCsv(r: AgreementReport, metric: (typeof CSV_METRICS)[number]): string {
  const who = (i: number): string => r.readers[i]?.username ?? r.readers[i]?.id ?? String(i);
  const n = r.readers.length;
  const rows: Cell[][] = [[metric === 'kappa' ? "Cohen's kappa" : 'pixel accuracy', ...r.readers.map((_, i) => who(i))]];
  for (let i = 0; i < n; i++) {
    const row: Cell[] = [who(i)];
    for (let j = 0; j < n; j++) {
      if (i === j) {
        row.push(null); // a reader against themselves: left empty
        continue;
      }
      const p = r.metrics.pairs.find((q) => (q.a === i && q.b === j) || (q.a === j && q.b === i));
      row.push(p ? (metric === 'kappa' ? p.cohenKappa : p.pixelAccuracy) : null);
    }
    rows.push(row);
  }
  return lines(rows);
}
