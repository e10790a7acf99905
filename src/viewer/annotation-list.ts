/**
 * <wsi-annotation-list>: every object of the slide in a table that stays
 * fluid at a million rows. The model (src/state/annotation-table.ts) keeps
 * the measures, the sort order and the filtered rows as typed arrays; this
 * element draws only the rows in view, into a fixed pool of row elements
 * moved with a transform (no template per row). Sort by a column, search
 * names and notes, filter by class, author and review state (the Review
 * column: each object's state from the slide's review items); a click flies to the object
 * and selects it; Shift and Ctrl/⌘ pick several, to select them in the
 * viewer, set their class or delete them (one undo step each, the delete
 * confirmed with its count). Counts per class head the list.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { AnnotationSession } from '../session/annotation-session.js';
import type { Handle } from '../state/annotation-store.js';
import { AnnotationTable, REVIEW_ORDER, type SortColumn } from '../state/annotation-table.js';
import { classifyHandles, deleteHandles } from '../tools/selection-edits.js';
import { registerKey } from '../tools/registry.js';
import { LIST_COLUMNS, reviewText, type CellContext, type ListColumn } from './annotation-list-columns.js';
import { objectReviewStates } from '../services/review-api.js';
import { panelStyles } from './panel-styles.js';
import type { ImageBox } from './view-transform.js';

/** Row height in CSS px: fixed, so a row's place is its index times this. */
export const ROW_HEIGHT = 22;
/** One element of the row pool and what it shows now: its cells' text, the row, the handle, its place, the class colour. */
interface PooledRow {
  el: HTMLElement;
  /** The text node of each cell (LIST_COLUMNS order), and the class cell's swatch. */
  texts: Text[];
  swatch: HTMLElement | null;
  cells: string[];
  /** The table row shown (-1: none) and its handle. */
  k: number;
  h: number;
  /** translateY (px) relative to the anchor. */
  y: number;
  bg: string;
  picked: boolean;
  hidden: boolean;
}

/** The tallest scroll area browsers handle everywhere; beyond it the scroll position is scaled to the rows. */
const MAX_SCROLL_PX = 8_000_000;
/** How far (rows) the window may move from the anchor before every row is placed anew (transforms stay small numbers). */
const ANCHOR_SPAN = 50_000;

export class WsiAnnotationList extends LitElement {
  static override properties = {
    session: { attribute: false },
    mpp: { attribute: false },
    currentClass: { attribute: false },
    fly: { attribute: false },
    message: { state: true },
    confirming: { state: true },
  };

  declare session: AnnotationSession | null;
  declare mpp: number | null;
  declare currentClass: string | null;
  /** Moves the viewer to show a level-0 box (the viewer passes it in). */
  declare fly: ((box: ImageBox) => void) | null;
  declare message: string | null;
  /** The delete waiting for confirmation: how many it deletes and how many locked ones it keeps. */
  declare confirming: { n: number; locked: number } | null;

  /** How long each drawing of the rows took (ms, the last 10,000), for benchmarks, as the annotation layer's drawTimes. */
  readonly paintTimes: number[] = [];
  /** The model of the open session (null before one is given). */
  table: AnnotationTable | null = null;
  /** The rows picked in the list (handles), and the row a Shift-click extends from. */
  readonly picked = new Set<Handle>();
  private pickAnchor = -1;
  /** The row elements, in screen order; pool[0] shows row `poolFirst` (-1: nothing drawn yet). */
  private pool: PooledRow[] = [];
  private poolFirst = -1;
  /** How many pool rows hold a row now. */
  private shown = 0;
  /** The row placed at translateY(0) in the rows box; rows sit at (row − anchor) × ROW_HEIGHT. */
  private anchor = 0;
  /** The viewport's height (px), kept by the ResizeObserver so that scrolling reads no layout. */
  private viewHeight = 0;
  private spacerHeight = -1;
  private frame = 0;
  private lastRefresh = 0;
  private offStale: (() => void) | null = null;
  private offPalette: (() => void) | null = null;
  private resize: ResizeObserver | null = null;
  private searchTimer = 0;
  /** Why the review states are not shown (the server did not answer), or null. */
  private reviewProblem: string | null = null;

  constructor() {
    super();
    this.session = null;
    this.mpp = null;
    this.currentClass = null;
    this.fly = null;
    this.message = null;
    this.confirming = null;
  }

  static override styles = [
    panelStyles,
    css`
      :host {
        position: absolute;
        top: 44px;
        right: 8px;
        bottom: 36px;
        /* room for the slide beside it (fly-to centres the object there): at least 520 px, at most 720 */
        width: min(calc(100% - 16px), clamp(520px, calc(100% - 260px), 720px));
        display: flex;
        flex-direction: column;
        gap: 6px;
        padding: 8px;
        box-sizing: border-box;
        background: var(--wsi-panel-background, #f7f7f9);
        color: var(--wsi-panel-color, #1d1d1f);
        font: var(--wsi-panel-font, 13px/1.35 system-ui, sans-serif);
        border: 1px solid var(--wsi-panel-border, #d0d0d5);
        border-radius: 6px;
        box-shadow: 0 4px 18px rgba(0, 0, 0, 0.35);
        z-index: 5;
      }
      .top {
        display: flex;
        align-items: center;
        gap: 8px;
      }
      .top h3 {
        flex: 1;
      }
      .counts {
        display: flex;
        flex-wrap: wrap;
        gap: 4px;
        max-height: 56px;
        overflow: auto;
      }
      .counts button {
        padding: 1px 6px;
        font-size: 12px;
      }
      .filters {
        display: flex;
        gap: 6px;
      }
      .filters input {
        flex: 2;
      }
      .filters select {
        flex: 1;
        width: auto;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        gap: 4px;
        align-items: center;
        font-size: 12px;
      }
      .grid-row {
        display: grid;
        grid-template-columns: var(--cols);
        column-gap: 6px;
        padding: 0 6px;
        align-items: center;
      }
      .thead {
        font-size: 12px;
        color: #555;
        border-bottom: 1px solid #c4c4cc;
        padding-bottom: 2px;
      }
      .thead button {
        border: none;
        background: none;
        padding: 0;
        font-weight: 600;
        color: inherit;
        white-space: nowrap;
      }
      .num {
        text-align: right;
      }
      .thead .num button {
        text-align: right;
        width: 100%;
      }
      .viewport {
        position: relative;
        flex: 1;
        min-height: 0;
        overflow-y: auto;
        overflow-x: hidden;
        background: #fff;
        border: 1px solid #e0e0e6;
        border-radius: 4px;
        font-variant-numeric: tabular-nums;
        font-size: 12px;
        outline: none;
        /* the rows are moved by script: the browser must not move the scroll position to keep one in place */
        overflow-anchor: none;
        /* nothing inside changes the list's own size or anything outside it: a scroll restyles and lays out only the rows written */
        contain: strict;
      }
      .rows {
        position: absolute;
        left: 0;
        right: 0;
        top: 0;
        will-change: transform;
        contain: layout style;
      }
      .row {
        position: absolute;
        top: 0;
        left: 0;
        right: 0;
        height: ${ROW_HEIGHT}px;
        contain: strict;
        cursor: pointer;
        user-select: none;
        border-bottom: 1px solid #f0f0f3;
        box-sizing: border-box;
      }
      .row:hover {
        background: #f1f4fb;
      }
      .row.picked {
        background: #dbe5fd;
      }
      .row > span {
        overflow: hidden;
        white-space: nowrap;
        text-overflow: ellipsis;
      }
      .empty {
        padding: 12px;
        color: #777;
      }
      .confirm {
        border: 1px solid #e5534b;
        border-radius: 6px;
        padding: 6px 8px;
        background: #fff;
        display: flex;
        gap: 6px;
        align-items: center;
        flex-wrap: wrap;
      }
      .confirm span {
        flex: 1;
      }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    this.resize = new ResizeObserver((entries) => {
      for (const e of entries) this.viewHeight = e.contentRect.height;
      this.paintRows(true);
    });
  }

  override disconnectedCallback(): void {
    this.resize?.disconnect();
    this.resize = null;
    this.detach();
    clearTimeout(this.frame);
    this.frame = 0;
    super.disconnectedCallback();
  }

  private detach(): void {
    this.offStale?.();
    this.offPalette?.();
    this.offStale = null;
    this.offPalette = null;
    this.table?.dispose();
    this.table = null;
    this.picked.clear();
    this.pickAnchor = -1;
    this.poolFirst = -1;
  }

  protected override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('session') && this.table?.store !== this.session?.store) {
      this.detach();
      const s = this.session;
      if (s) {
        const table = new AnnotationTable(s.store);
        const me = s.me;
        if (me?.displayName) table.authorLabel = (id) => (id === me.user ? (me.displayName as string) : id);
        this.table = table;
        table.refresh();
        this.offStale = table.onStale(() => this.scheduleRefresh());
        void this.loadReviewStates(s, table);
        // deleted objects leave the picked rows
        this.offPalette = s.store.observe((cs) => {
          for (const d of cs.deleted) this.picked.delete(d.handle);
        });
      }
    }
  }

  /** Reads the review state of the slide's objects (the Review column); a server without reviews leaves it empty, and says so. */
  private async loadReviewStates(s: AnnotationSession, table: AnnotationTable): Promise<void> {
    try {
      const states = await objectReviewStates(s.api.server, s.api.slide);
      if (this.table !== table) return;
      table.setReviewStates(states);
      this.reviewProblem = null;
    } catch (err) {
      if (this.table === table) this.reviewProblem = `Review states could not be read: ${(err as Error).message}`;
    }
    if (this.table !== table) return;
    table.refresh();
    this.requestUpdate();
  }

  protected override firstUpdated(): void {
    const vp = this.viewport();
    if (vp) {
      this.viewHeight = vp.clientHeight;
      this.resize?.observe(vp);
    }
  }

  protected override updated(): void {
    // a render follows every change of the rows, their order, the picked rows or the classes
    this.paintRows(true);
  }

  /**
   * Edits (and pages still loading) make the rows stale; they are brought up
   * to date once a frame, and no more often than the last refresh took
   * times four (a re-sort of a million rows is tens of ms).
   */
  private scheduleRefresh(): void {
    if (this.frame) return;
    const t = this.table;
    const wait = t ? Math.min(1000, (t.timings.measureMs + t.timings.sortMs + t.timings.filterMs) * 4) : 0;
    const delay = Math.max(0, this.lastRefresh + wait - performance.now());
    this.frame = window.setTimeout(
      () =>
        requestAnimationFrame(() => {
          this.frame = 0;
          if (!this.table?.dirty) return;
          this.table.refresh();
          this.lastRefresh = performance.now();
          this.requestUpdate();
        }),
      delay,
    );
  }

  private viewport(): HTMLElement | null {
    return this.renderRoot.querySelector<HTMLElement>('.viewport');
  }

  /** Sorts by a column (the same column again: the other direction). */
  sortBy(column: SortColumn, descending?: boolean): void {
    const t = this.table;
    if (!t) return;
    const desc = descending ?? (t.sortColumn === column ? !t.descending : LIST_COLUMNS.find((c) => c.id === column)?.numeric === true);
    t.setSort(column, desc);
    t.refresh();
    this.requestUpdate();
  }

  /** Shows only the objects whose name or note contains `text` (any case). */
  search(text: string): void {
    this.table?.setFilter({ text });
    this.table?.refresh();
    this.requestUpdate();
  }

  /** Shows only these classes (names; null = no class), or every class with null. */
  filterClasses(names: ReadonlyArray<string | null> | null): void {
    const t = this.table;
    if (!t) return;
    const classes = t.store.classes();
    t.setFilter({ classes: names === null ? null : new Set(names.map((n) => (n === null ? -1 : classes.indexOf(n))).filter((i) => i >= -1)) });
    t.refresh();
    this.requestUpdate();
  }

  /** Shows only these authors, or every author with null. */
  filterAuthors(names: ReadonlyArray<string | null> | null): void {
    const t = this.table;
    if (!t) return;
    const authors = t.store.authorNames();
    t.setFilter({ authors: names === null ? null : new Set(names.map((n) => (n === null ? -1 : authors.indexOf(n)))) });
    t.refresh();
    this.requestUpdate();
  }

  private toggleClassFilter(index: number): void {
    const t = this.table;
    if (!t) return;
    const cur = new Set(t.filter.classes ?? []);
    if (!cur.delete(index)) cur.add(index);
    t.setFilter({ classes: cur.size ? cur : null });
    t.refresh();
    this.requestUpdate();
  }

  /** Scrolls so that row `i` (of the rows shown) is at the top. */
  scrollToRow(i: number): void {
    const vp = this.viewport();
    const t = this.table;
    if (!vp || !t) return;
    const { scale } = this.geometry(t.rows.length);
    vp.scrollTop = (i * ROW_HEIGHT) / scale;
    this.paintRows();
  }

  /** The handles in the rows drawn now (for tests and benchmarks). */
  visibleHandles(): Handle[] {
    const t = this.table;
    if (!t || this.poolFirst < 0) return [];
    return Array.from(t.rows.subarray(this.poolFirst, this.poolFirst + this.shown));
  }

  /** Scroll height and how many row pixels one scroll pixel stands for. */
  private geometry(n: number): { height: number; scale: number } {
    const total = n * ROW_HEIGHT;
    const height = Math.min(total, MAX_SCROLL_PX);
    const view = this.viewHeight;
    const scale = total > height && height > view ? (total - view) / (height - view) : 1;
    return { height, scale };
  }

  /** The rows in view: the first, how many, and where the first row's top is in the scroller (px). */
  private window(scrollTop: number, n: number): { first: number; count: number; top: number } {
    const { scale } = this.geometry(n);
    const y = scrollTop * scale;
    const first = Math.max(0, Math.min(n - 1, Math.floor(y / ROW_HEIGHT)));
    const count = Math.max(0, Math.min(n - first, Math.ceil(this.viewHeight / ROW_HEIGHT) + 1));
    // the first row sits at the scroll position, less the part of it scrolled past
    return { first, count, top: scrollTop - (y - first * ROW_HEIGHT) };
  }

  /**
   * Draws the rows in view. The pool holds one element per row that fits
   * (in DOM order = screen order); each row is placed by its own transform
   * relative to `anchor`, so a scroll of a few rows moves the rows box (one
   * transform) and rewrites only the rows it exposes: the rows scrolled out
   * are moved to the other end and refilled. `all` rewrites every row (the
   * rows, their order, the picked rows or the classes changed). No layout is
   * read here but the scroll position (the viewport's height comes from the
   * ResizeObserver).
   */
  private paintRows(all = false): void {
    const vp = this.viewport();
    const t = this.table;
    const s = this.session;
    if (!vp || !t || !s) return;
    const box = vp.querySelector<HTMLElement>('.rows');
    const spacer = vp.querySelector<HTMLElement>('.spacer');
    if (!box || !spacer) return;
    const t0 = performance.now();
    const n = t.rows.length;
    const height = this.geometry(n).height;
    if (height !== this.spacerHeight) {
      spacer.style.height = `${height}px`;
      this.spacerHeight = height;
    }
    const { first, count, top } = this.window(vp.scrollTop, n);
    const size = Math.ceil(this.viewHeight / ROW_HEIGHT) + 1;
    if (this.pool.length !== size) {
      while (this.pool.length < size) this.pool.push(this.makeRow());
      this.pool.length = size;
      box.replaceChildren(...this.pool.map((r) => r.el));
      all = true;
    }
    const shift = first - this.poolFirst;
    const ctx = this.cellContext(t, s);
    if (all || this.poolFirst < 0 || Math.abs(shift) >= size || Math.abs(first - this.anchor) > ANCHOR_SPAN) {
      this.anchor = first;
      this.poolFirst = first;
      for (let i = 0; i < size; i++) this.fillRow(this.pool[i] as PooledRow, first + i, ctx);
    } else if (shift > 0) {
      // scrolled down: the rows gone off the top go to the bottom, refilled with the rows exposed
      const moved = this.pool.splice(0, shift);
      this.pool.push(...moved);
      box.append(...moved.map((r) => r.el));
      for (let i = 0; i < shift; i++) this.fillRow(moved[i] as PooledRow, this.poolFirst + size + i, ctx);
      this.poolFirst = first;
    } else if (shift < 0) {
      const moved = this.pool.splice(size + shift, -shift);
      this.pool.unshift(...moved);
      box.prepend(...moved.map((r) => r.el));
      for (let i = 0; i < -shift; i++) this.fillRow(moved[i] as PooledRow, first + i, ctx);
      this.poolFirst = first;
    }
    // a tooltip shown on a row written anew follows its text
    const tip = this.tipCell;
    if (tip && tip.title !== tip.textContent) tip.title = tip.textContent ?? '';
    this.shown = count;
    box.style.transform = `translateY(${top - (first - this.anchor) * ROW_HEIGHT}px)`;
    if (this.paintTimes.push(performance.now() - t0) > 10_000) this.paintTimes.shift();
  }

  /** A row element with one cell per column (the class cell with its swatch), empty, and what it shows (nothing yet). */
  private makeRow(): PooledRow {
    const row = document.createElement('div');
    row.className = 'row grid-row';
    row.dataset['testid'] = 'list-row';
    row.setAttribute('role', 'row');
    const texts: Text[] = [];
    let swatch: HTMLElement | null = null;
    for (const c of LIST_COLUMNS) {
      const cell = document.createElement('span');
      cell.setAttribute('role', 'cell');
      if (c.numeric) cell.className = 'num';
      const text = document.createTextNode('');
      if (c.id === 'class') {
        swatch = document.createElement('span');
        swatch.className = 'swatch';
        cell.append(swatch);
      }
      cell.append(text);
      texts.push(text);
      row.append(cell);
    }
    return { el: row, texts, swatch, cells: LIST_COLUMNS.map(() => ''), k: -1, h: -1, y: Number.NaN, bg: '', picked: false, hidden: false };
  }

  /** What every cell of one drawing reads from (the same for all its rows). */
  private cellContext(t: AnnotationTable, s: AnnotationSession): CellContext {
    return { store: s.store, table: t, mpp: this.mpp, now: Date.now() };
  }

  /**
   * Writes row `k` of the table into a pool row (hidden past the last row),
   * placed by its transform. Only what differs from what the row shows is
   * written (the row remembers it, so nothing is read back from the DOM); the
   * cells' tooltips are set on hover (onCellOver), not here.
   */
  private fillRow(row: PooledRow, k: number, ctx: CellContext): void {
    const t = ctx.table;
    const s = this.session;
    if (!s) return;
    const el = row.el;
    if (k >= t.rows.length) {
      if (!row.hidden) {
        el.style.display = 'none';
        delete el.dataset['row'];
        delete el.dataset['id'];
        row.hidden = true;
        row.k = -1;
        row.h = -1;
      }
      return;
    }
    if (row.hidden) {
      el.style.display = '';
      row.hidden = false;
    }
    const y = (k - this.anchor) * ROW_HEIGHT;
    if (y !== row.y) {
      el.style.transform = `translateY(${y}px)`;
      row.y = y;
    }
    const h = t.rows[k] as number;
    if (k !== row.k) {
      el.dataset['row'] = String(k);
      el.setAttribute('aria-rowindex', String(k + 1));
      row.k = k;
    }
    if (h !== row.h) {
      el.dataset['id'] = s.store.idOf(h);
      row.h = h;
    }
    const picked = this.picked.has(h);
    if (picked !== row.picked) {
      el.classList.toggle('picked', picked);
      row.picked = picked;
    }
    for (let c = 0; c < LIST_COLUMNS.length; c++) {
      const text = (LIST_COLUMNS[c] as ListColumn).text(ctx, h);
      if (row.cells[c] !== text) {
        (row.texts[c] as Text).data = text;
        row.cells[c] = text;
      }
    }
    if (row.swatch) {
      const bg = s.colourOf(s.store.classOf(h)) ?? '#bbb';
      if (row.bg !== bg) {
        row.swatch.style.background = bg;
        row.bg = bg;
      }
    }
  }

  /** The cell whose tooltip was set last (kept in step with its text when its row is rewritten). */
  private tipCell: HTMLElement | null = null;

  /** Hovering a cell gives it its text as a tooltip (a cut-off name reads in full). */
  private onCellOver = (e: PointerEvent): void => {
    const cell = (e.target as HTMLElement).closest?.<HTMLElement>('span[role=cell]');
    if (!cell) return;
    const text = cell.textContent ?? '';
    if (cell.title !== text) cell.title = text;
    this.tipCell = cell;
  };

  private onScroll = (): void => this.paintRows();

  /** Click: fly to the object and select it; Ctrl/⌘: add or remove; Shift: the range from the last click. */
  private onRowClick = (e: MouseEvent): void => {
    const row = (e.target as HTMLElement).closest<HTMLElement>('.row');
    const t = this.table;
    const s = this.session;
    if (!row || !t || !s) return;
    const i = Number(row.dataset['row']);
    const h = t.rows[i];
    if (h === undefined) return;
    if (e.shiftKey && this.pickAnchor >= 0) {
      const [a, b] = this.pickAnchor < i ? [this.pickAnchor, i] : [i, this.pickAnchor];
      if (!(e.ctrlKey || e.metaKey)) this.picked.clear();
      for (let k = a; k <= b && k < t.rows.length; k++) this.picked.add(t.rows[k] as number);
    } else if (e.ctrlKey || e.metaKey) {
      if (!this.picked.delete(h)) this.picked.add(h);
      this.pickAnchor = i;
    } else {
      this.picked.clear();
      this.picked.add(h);
      this.pickAnchor = i;
      // the compared reader's objects are shown, never selected for editing (src/state/compared-reader.ts)
      if (!s.compared.owns(s.store, h)) s.selection.set([s.store.idOf(h)]);
      const [x0, y0, x1, y1] = s.store.bounds(h);
      this.fly?.({ x0, y0, x1, y1 });
    }
    this.confirming = null;
    this.message = null;
    this.requestUpdate();
  };

  private pickedIds(): string[] {
    const s = this.session;
    if (!s) return [];
    return [...this.picked].filter((h) => s.store.isLive(h)).map((h) => s.store.idOf(h));
  }

  /** The picked rows become the viewer's selection. */
  selectInViewer(): void {
    const ids = this.pickedIds();
    this.session?.selection.set(ids);
    this.message = `${ids.length.toLocaleString('en-US')} selected in the viewer.`;
  }

  /** Gives the picked rows the current class: one undo step. */
  setClassOfPicked(): void {
    const s = this.session;
    const name = this.currentClass;
    if (!s || s.readOnly) return;
    if (name === null) {
      this.message = 'Choose a class first.';
      return;
    }
    const n = classifyHandles(s.store, this.picked, name);
    this.message = n ? `Set ${n.toLocaleString('en-US')} object${n === 1 ? '' : 's'} to ${name}. Ctrl+Z undoes.` : `Nothing to change: ${name} already, or locked.`;
  }

  /** Asks before deleting the picked rows, naming how many. */
  askDelete(): void {
    const s = this.session;
    if (!s || s.readOnly) return;
    let locked = 0;
    let n = 0;
    for (const h of this.picked) {
      if (!s.store.isLive(h)) continue;
      if (s.store.lockedOf(h)) locked++;
      else n++;
    }
    this.confirming = { n, locked };
  }

  /** Deletes the picked rows (locked ones stay): one undo step. */
  confirmDelete(): void {
    const s = this.session;
    this.confirming = null;
    if (!s) return;
    const n = deleteHandles(s.store, this.picked);
    this.picked.clear();
    this.pickAnchor = -1;
    this.message = `Deleted ${n.toLocaleString('en-US')} object${n === 1 ? '' : 's'}. Ctrl+Z brings ${n === 1 ? 'it' : 'them'} back.`;
  }

  private renderCounts(): unknown {
    const t = this.table;
    const s = this.session;
    if (!t || !s) return nothing;
    const classes = s.store.classes();
    const active = t.filter.classes;
    const chips: Array<{ index: number; name: string; count: number }> = [];
    for (let i = -1; i < classes.length; i++) {
      const count = t.classCounts[i + 1] ?? 0;
      if (count > 0) chips.push({ index: i, name: i < 0 ? '(none)' : (classes[i] as string), count });
    }
    return html`<div class="counts" role="group" aria-label="Objects per class (click to filter)" data-testid="list-counts">
      ${chips.map(
        (c) => html`<button
          data-testid=${`list-count-${c.name}`}
          aria-pressed=${active?.has(c.index) ? 'true' : 'false'}
          title=${`${c.count.toLocaleString('en-US')} ${c.name}; click to show only these (with others picked the same way)`}
          @click=${() => this.toggleClassFilter(c.index)}
        ><span class="swatch" style=${`background:${s.colourOf(c.index < 0 ? null : c.name) ?? '#bbb'}`}></span>${c.name} <strong>${c.count.toLocaleString('en-US')}</strong></button>`,
      )}
    </div>`;
  }

  private renderFilters(): unknown {
    const t = this.table;
    if (!t) return nothing;
    const authors = t.store.authorNames();
    const chosen = t.filter.authors;
    const value = chosen && chosen.size === 1 ? String([...chosen][0]) : 'all';
    return html`<div class="filters">
      <input
        type="text"
        data-testid="list-search"
        placeholder="Search names and notes"
        aria-label="Search names and notes"
        .value=${t.filter.text}
        @input=${(e: Event) => {
          const v = (e.target as HTMLInputElement).value;
          clearTimeout(this.searchTimer);
          this.searchTimer = window.setTimeout(() => this.search(v), 120);
        }}
      />
      <select
        data-testid="list-author"
        aria-label="Filter by author"
        .value=${value}
        @change=${(e: Event) => {
          const v = (e.target as HTMLSelectElement).value;
          t.setFilter({ authors: v === 'all' ? null : new Set([Number(v)]) });
          t.refresh();
          this.requestUpdate();
        }}
      >
        <option value="all">All authors</option>
        ${authors.map((a, i) => html`<option value=${String(i)} ?selected=${value === String(i)}>${t.authorLabel(a)} (${(t.authorCounts[i + 1] ?? 0).toLocaleString('en-US')})</option>`)}
        ${(t.authorCounts[0] ?? 0) > 0 ? html`<option value="-1" ?selected=${value === '-1'}>unknown (${(t.authorCounts[0] ?? 0).toLocaleString('en-US')})</option>` : nothing}
      </select>
      ${this.renderReviewFilter(t)}
    </div>`;
  }

  /** Filter by review state: each state with its count, and "never submitted". */
  private renderReviewFilter(t: AnnotationTable): unknown {
    const counts = t.reviewCounts();
    const chosen = t.filter.reviews ?? null;
    const value = chosen && chosen.size === 1 ? [...chosen][0] : 'all';
    const states = [...REVIEW_ORDER.filter((st) => counts.has(st)), ...[...counts.keys()].filter((st) => st !== '' && !REVIEW_ORDER.includes(st))];
    return html`<select
      data-testid="list-review"
      aria-label="Filter by review state"
      title=${this.reviewProblem ?? 'Show only objects in one review state'}
      @change=${(e: Event) => {
        const v = (e.target as HTMLSelectElement).value;
        t.setFilter({ reviews: v === 'all' ? null : new Set([v === 'none' ? '' : v]) });
        t.refresh();
        this.requestUpdate();
      }}
    >
      <option value="all" ?selected=${value === 'all'}>All review states</option>
      ${states.map((st) => html`<option value=${st} ?selected=${value === st}>${reviewText(st)} (${(counts.get(st) ?? 0).toLocaleString('en-US')})</option>`)}
      <option value="none" ?selected=${value === ''}>never submitted (${(counts.get('') ?? 0).toLocaleString('en-US')})</option>
    </select>`;
  }

  private renderActions(): unknown {
    const n = this.pickedIds().length;
    const ro = this.session?.readOnly ?? null;
    const c = this.confirming;
    return html`
      ${n > 0
        ? html`<div class="actions" data-testid="list-actions">
            <span>${n.toLocaleString('en-US')} picked</span>
            <button data-testid="list-select" title="Make these the viewer's selection" @click=${() => this.selectInViewer()}>Select in viewer</button>
            <button data-testid="list-set-class" ?disabled=${!!ro} title=${ro ?? 'Give these the current class (one undo step)'} @click=${() => this.setClassOfPicked()}>Set class → ${this.currentClass ?? '(none)'}</button>
            <button data-testid="list-delete" ?disabled=${!!ro} title=${ro ?? 'Delete these (asks first; one undo step)'} @click=${() => this.askDelete()}>Delete…</button>
          </div>`
        : nothing}
      ${c
        ? html`<div class="confirm" role="alertdialog" aria-label="Delete objects" data-testid="list-delete-confirm">
            <span>Delete <strong>${c.n.toLocaleString('en-US')}</strong> object${c.n === 1 ? '' : 's'}${c.locked ? html` (${c.locked.toLocaleString('en-US')} locked, kept)` : nothing}? Ctrl+Z brings them back.</span>
            <button data-testid="list-delete-go" ?disabled=${c.n === 0} @click=${() => this.confirmDelete()}>Delete ${c.n.toLocaleString('en-US')}</button>
            <button data-testid="list-delete-cancel" @click=${() => (this.confirming = null)}>Cancel</button>
          </div>`
        : nothing}
      ${this.message ? html`<div class="actions" role="status" data-testid="list-message">${this.message}</div>` : nothing}
    `;
  }

  protected override render(): unknown {
    const t = this.table;
    const s = this.session;
    const cols = LIST_COLUMNS.map((c) => c.width).join(' ');
    const total = s?.store.size ?? 0;
    const shown = t?.rows.length ?? 0;
    const loading = s && !s.progress.done ? ` (loading ${s.progress.loaded.toLocaleString('en-US')} / ${s.progress.total.toLocaleString('en-US')})` : '';
    return html`
      <div class="top">
        <h3>Annotation list</h3>
        <span data-testid="list-shown">${shown === total ? `${total.toLocaleString('en-US')} objects` : `${shown.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`}${loading}</span>
        <button data-testid="list-close" title="Close the list (T)" aria-label="Close the list" @click=${() => this.dispatchEvent(new Event('wsi-list-close', { bubbles: true, composed: true }))}>✕</button>
      </div>
      ${this.renderCounts()} ${this.renderFilters()} ${this.renderActions()}
      <div class="thead grid-row" role="row" style=${`--cols:${cols}`}>
        ${LIST_COLUMNS.map(
          (c) => html`<span class=${c.numeric ? 'num' : ''} role="columnheader" aria-sort=${t?.sortColumn === c.id ? (t.descending ? 'descending' : 'ascending') : 'none'}
            ><button data-testid=${`list-sort-${c.id}`} title=${c.title} @click=${() => this.sortBy(c.id)}>${c.label}${t?.sortColumn === c.id ? (t.descending ? ' ▼' : ' ▲') : ''}</button></span
          >`,
        )}
      </div>
      <div class="viewport" role="table" aria-label="Annotations" aria-rowcount=${shown} tabindex="0" style=${`--cols:${cols}`} @scroll=${this.onScroll} @click=${this.onRowClick} @pointerover=${this.onCellOver}>
        <div class="spacer"></div>
        <div class="rows"></div>
        ${t && shown === 0 ? html`<div class="empty" data-testid="list-empty">${total === 0 ? 'No annotations on this slide yet.' : 'Nothing matches the search and filters.'}</div>` : nothing}
      </div>
    `;
  }
}

registerKey({
  keys: 'T',
  label: 'annotation list (table)',
  group: 'view',
  match: (e) => e.key === 'T' && !e.ctrlKey && !e.metaKey && !e.altKey,
  run: (k) => {
    if (!k.toggleList || !k.tools) return false;
    k.toggleList();
    return true;
  },
});

if (!customElements.get('wsi-annotation-list')) customElements.define('wsi-annotation-list', WsiAnnotationList);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-annotation-list': WsiAnnotationList;
  }
}
