/**
 * The annotation list's columns, in one registry: heading, width, alignment
 * and how a cell reads. The list element lays them out and the model
 * (src/state/annotation-table.ts) sorts by their ids, so a column (the review
 * state) is one entry here and one sort key there.
 */
import { formatArea, formatLength } from '../core/scale.js';
import type { AnnotationStore, Handle } from '../state/annotation-store.js';
import type { AnnotationTable, SortColumn } from '../state/annotation-table.js';

export interface CellContext {
  store: AnnotationStore;
  table: AnnotationTable;
  /** µm per level-0 pixel, or null (measures then read in pixels). */
  mpp: number | null;
  /** The time the cells are drawn at (epoch ms): a change on its day reads as a time. */
  now: number;
}

export interface ListColumn {
  id: SortColumn;
  label: string;
  /** CSS grid track. */
  width: string;
  numeric: boolean;
  /** The heading's tooltip. */
  title: string;
  text(c: CellContext, h: Handle): string;
}

/** An area in level-0 px² as a person reads it: µm² or, from 1 mm², mm²; px² without MPP; "—" for nothing (points, lines). */
export function areaText(px2: number, mpp: number | null): string {
  if (!(px2 > 0)) return '—';
  if (mpp === null || !(mpp > 0)) return `${Math.round(px2).toLocaleString('en-US')} px²`;
  return formatArea(px2 * mpp * mpp);
}

/** A length in level-0 px: nm, µm or mm; px without MPP; "—" for nothing (points). */
export function lengthText(px: number, mpp: number | null): string {
  if (!(px > 0)) return '—';
  if (mpp === null || !(mpp > 0)) return `${+px.toPrecision(4)} px`;
  return formatLength(px * mpp);
}

/** The local day holding the last `now` asked about, as [start, end) epoch ms (a list draws many cells at one `now`). */
let today = { start: 0, end: 0 };
function dayAround(now: number): { start: number; end: number } {
  if (now >= today.start && now < today.end) return today;
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  const start = d.getTime();
  d.setDate(d.getDate() + 1);
  today = { start, end: d.getTime() };
  return today;
}

/** When something changed, short: the time ("05:13") on the day of `now`, the date ("2026-12-07") before it; '' when unknown. */
export function timeText(ms: number, now = Date.now()): string {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const p = (n: number): string => (n < 10 ? `0${n}` : String(n));
  const day = dayAround(now);
  if (ms >= day.start && ms < day.end) return `${p(d.getHours())}:${p(d.getMinutes())}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** A review state as the list reads it ("changes requested"); '' for an object never submitted. */
export function reviewText(state: string | null): string {
  return state === null ? '' : state.replace(/_/g, ' ');
}

export const LIST_COLUMNS: readonly ListColumn[] = [
  { id: 'class', label: 'Class', width: 'minmax(78px, 1.2fr)', numeric: false, title: 'Sort by class', text: (c, h) => c.store.classOf(h) ?? '(none)' },
  { id: 'name', label: 'Name', width: 'minmax(50px, 1.2fr)', numeric: false, title: 'Sort by name (unnamed last)', text: (c, h) => c.store.nameOf(h) ?? '' },
  { id: 'kind', label: 'Kind', width: '58px', numeric: false, title: 'Sort by kind', text: (c, h) => c.store.kindOf(h) },
  { id: 'area', label: 'Area', width: '80px', numeric: true, title: 'Sort by area (µm², mm² from 1 mm²; px² without MPP)', text: (c, h) => areaText(c.table.area[h] as number, c.mpp) },
  { id: 'perimeter', label: 'Perimeter', width: '72px', numeric: true, title: 'Sort by perimeter (a line: its length)', text: (c, h) => lengthText(c.table.perimeter[h] as number, c.mpp) },
  {
    id: 'author',
    label: 'Author',
    width: 'minmax(44px, 0.8fr)',
    numeric: false,
    title: 'Sort by who drew it',
    text: (c, h) => {
      const a = c.store.authorOf(h);
      return a === null ? '?' : c.table.authorLabel(a);
    },
  },
  { id: 'review', label: 'Review', width: '76px', numeric: false, title: 'Sort by review state (draft, submitted, expert review, changes requested, rejected, accepted, closed; never submitted last)', text: (c, h) => reviewText(c.table.reviewOf(h)) },
  { id: 'updated', label: 'Updated', width: '76px', numeric: true, title: 'Sort by last change (today: the time; before: the date)', text: (c, h) => timeText(c.store.updatedOf(h), c.now) },
];
