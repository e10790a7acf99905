/**
 * <wsi-measurements-view>: the per-ROI measurement table (issue 11). One row
 * per region of interest, nested under its parent by the hierarchy rule
 * (core/hierarchy-rule.ts): area, perimeter, the objects under it per class
 * (cells, detections, points; nested ROIs included) and the painted mask's
 * area per class inside it, then the slide's totals; CSV export. Clicking a
 * row selects the ROI. The table follows edits (the hierarchy recomputes
 * only what an edit affects; the rows are measured again on the next frame).
 */
import { LitElement, css, html, nothing } from 'lit';
import { maskClassId } from '../core/annotation.js';
import { formatArea, formatLength } from '../core/scale.js';
import type { AnnotationSession } from '../session/annotation-session.js';
import { Hierarchy } from '../state/hierarchy.js';
import { measureRois, measurementsCsv, slideTotals, type RoiRow, type SlideTotals } from '../state/roi-measurements.js';
import { floatingStyles } from './floating-styles.js';
import { panelStyles } from './panel-styles.js';

/** One hierarchy per session, made when the table is first opened and kept current from then on. */
const hierarchies = new WeakMap<AnnotationSession, Hierarchy>();

export function hierarchyOf(s: AnnotationSession): Hierarchy {
  let h = hierarchies.get(s);
  if (!h) hierarchies.set(s, (h = new Hierarchy(s.store, s.index)));
  return h;
}

export class WsiMeasurementsView extends LitElement {
  static override properties = {
    session: { attribute: false },
    mpp: { attribute: false },
    slideSize: { attribute: false },
    rows: { state: true },
    totals: { state: true },
    busy: { state: true },
  };

  declare session: AnnotationSession | null;
  declare mpp: number | null;
  declare slideSize: { width: number; height: number } | null;
  declare rows: RoiRow[];
  declare totals: SlideTotals | null;
  declare busy: boolean;
  private unsubscribe: Array<() => void> = [];
  private pending = false;

  constructor() {
    super();
    this.session = null;
    this.mpp = null;
    this.slideSize = null;
    this.rows = [];
    this.totals = null;
    this.busy = false;
  }

  static override styles = [
    panelStyles,
    floatingStyles,
    css`
      :host {
        left: 8px;
      }
      table {
        border-collapse: collapse;
        width: 100%;
      }
      th,
      td {
        padding: 4px 6px;
        border-bottom: 1px solid #eee;
        text-align: right;
        white-space: nowrap;
      }
      th {
        position: sticky;
        top: 0;
        background: #fafafa;
        font-size: 11px;
        color: #555;
        font-weight: 600;
      }
      th.name,
      td.name {
        text-align: left;
      }
      tbody tr {
        cursor: pointer;
      }
      tbody tr:hover td {
        background: #f1f6ff;
      }
      tr.totals td {
        font-weight: 600;
        border-top: 2px solid #ccc;
        cursor: default;
      }
      .swatch {
        display: inline-block;
        width: 9px;
        height: 9px;
        border-radius: 2px;
        margin-right: 4px;
      }
      .note {
        color: #666;
        font-size: 12px;
        padding: 6px 0;
      }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    void this.refresh();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Builds the hierarchy (first time) and measures every ROI; edits measure again on the next frame. */
  async refresh(): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.busy = true;
    const h = hierarchyOf(s);
    await h.build();
    if (this.unsubscribe.length === 0) {
      const again = (): void => {
        if (this.pending) return;
        this.pending = true;
        requestAnimationFrame(() => {
          this.pending = false;
          this.measure();
        });
      };
      this.unsubscribe.push(s.store.observe(again));
      if (s.mask) this.unsubscribe.push(s.mask.store.observe(again));
    }
    this.measure();
    this.busy = false;
  }

  private measure(): void {
    const s = this.session;
    if (!s) return;
    const h = hierarchyOf(s);
    const size = this.slideSize ?? { width: Number.MAX_SAFE_INTEGER, height: Number.MAX_SAFE_INTEGER };
    this.rows = measureRois(s.store, h, s.mask?.store ?? null, size);
    this.totals = slideTotals(s.store, h, s.mask?.store ?? null);
  }

  /** The object classes with at least one object, in palette order then the rest. */
  private objectClasses(): string[] {
    const seen = new Set<string>(this.totals?.objects.keys() ?? []);
    const order = (this.session?.palette ?? []).map((c) => c.name).filter((n) => seen.has(n));
    return [...order, ...[...seen].filter((n) => !order.includes(n)).sort()];
  }

  /** The mask classes painted anywhere. */
  private maskClasses(): Array<{ id: number; name: string; color: string }> {
    const px = this.totals?.maskPx;
    if (!px) return [];
    return (this.session?.palette ?? []).flatMap((c) => {
      const id = maskClassId(c);
      return id !== null && (px[id] as number) > 0 ? [{ id, name: c.name, color: c.color }] : [];
    });
  }

  private area(px: number): string {
    return this.mpp ? formatArea(px * this.mpp * this.mpp) : `${Math.round(px).toLocaleString()} px²`;
  }

  private length(px: number): string {
    return this.mpp ? formatLength(px * this.mpp) : `${px.toFixed(0)} px`;
  }

  private downloadCsv(): void {
    if (!this.totals) return;
    const csv = measurementsCsv(this.rows, this.totals, this.mpp, this.objectClasses(), this.maskClasses());
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
    a.download = 'roi-measurements.csv';
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  private select(r: RoiRow): void {
    this.session?.selection.set([r.id]);
  }

  protected override render(): unknown {
    const classes = this.objectClasses();
    const masks = this.maskClasses();
    const colour = new Map((this.session?.palette ?? []).map((c) => [c.name, c.color]));
    const t = this.totals;
    return html`<header>
        <h2>Measurements per region</h2>
        <span>${this.rows.length.toLocaleString()} region${this.rows.length === 1 ? '' : 's'}</span>
        <button data-testid="measurements-csv" ?disabled=${!t} title="Download this table as CSV" @click=${() => this.downloadCsv()}>CSV</button>
        <button data-testid="measurements-close" aria-label="Close the measurements" title="Close (Esc)" @click=${() => this.dispatchEvent(new CustomEvent('wsi-close', { bubbles: true, composed: true }))}>✕</button>
      </header>
      <div class="body">
        ${this.busy ? html`<div class="note">Working out the hierarchy…</div>` : nothing}
        <div class="note">An object belongs to the smallest region holding its centroid (on the edge counts as inside); counts include nested regions. Mask area: painted pixels inside the region.</div>
        <table data-testid="measurements">
          <thead>
            <tr>
              <th class="name">Region</th>
              <th>Area</th>
              <th>Perimeter</th>
              ${classes.map((c) => html`<th title="Objects of this class inside the region">${c ? html`<span class="swatch" style=${`background:${colour.get(c) ?? '#999'}`}></span>${c}` : '(no class)'}</th>`)}
              ${masks.map((c) => html`<th title="Painted mask area of this class inside the region"><span class="swatch" style=${`background:${c.color}`}></span>${c.name} mask</th>`)}
            </tr>
          </thead>
          <tbody>
            ${this.rows.map(
              (r) => html`<tr data-id=${r.id} @click=${() => this.select(r)}>
                <td class="name" style=${`padding-left:${6 + r.depth * 14}px`}>${r.depth ? '└ ' : ''}${r.name ?? r.classification ?? 'region'}${r.name && r.classification ? html` <small>(${r.classification})</small>` : nothing}</td>
                <td>${this.area(r.areaPx)}</td>
                <td>${this.length(r.perimeterPx)}</td>
                ${classes.map((c) => html`<td data-class=${c}>${(r.objects.get(c) ?? 0).toLocaleString()}</td>`)}
                ${masks.map((c) => html`<td>${r.maskPx ? this.area(r.maskPx[c.id] as number) : '–'}</td>`)}
              </tr>`,
            )}
            ${t
              ? html`<tr class="totals">
                  <td class="name">Whole slide</td>
                  <td></td>
                  <td></td>
                  ${classes.map((c) => html`<td>${(t.objects.get(c) ?? 0).toLocaleString()}</td>`)}
                  ${masks.map((c) => html`<td>${t.maskPx ? this.area(t.maskPx[c.id] as number) : '–'}</td>`)}
                </tr>`
              : nothing}
          </tbody>
        </table>
        ${this.rows.length === 0 && !this.busy ? html`<div class="note">No regions yet: draw a polygon, rectangle or ellipse.</div>` : nothing}
      </div>`;
  }
}

if (!customElements.get('wsi-measurements-view')) customElements.define('wsi-measurements-view', WsiMeasurementsView);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-measurements-view': WsiMeasurementsView;
  }
}
