/**
 * <wsi-agreement-figures>: in the panel's Display section, under the
 * disagreement map while it is shown, a reviewer asks how far the map's
 * readers agree inside the selected ROI polygon. The answer (GET
 * …/agreement, counted on the server) is shown as the per-class table,
 * the per-class figure (mean Dice or IoU over the reader pairs, each
 * pair's value and their range) and the reader × reader heat map (Cohen's
 * kappa, pixel accuracy or one class's Dice, as the user picks), drawn by
 * src/core/agreement/agreement-plots.ts (Observable Plot, the report's
 * figures too), with the per-class CSV, the matrix CSV and the JSON to
 * download. Undefined values read "not defined".
 */
import { LitElement, css, html, nothing } from 'lit';
import { formatValue, matrixMetricLabel, matrixMetrics, type AgreementFigureData, type ClassMetric, type MatrixMetric } from '../core/agreement/agreement-figure-data.js';
import type { AgreementApi, AgreementReportJson } from '../services/agreement-api.js';

/** The figures' data from the agreement JSON: readers by username (else their id's start). */
export function figureData(r: AgreementReportJson): AgreementFigureData {
  return { readers: r.readers.map((x) => x.username ?? x.id.slice(0, 8)), classes: r.classes, perClass: r.metrics.perClass, pairs: r.metrics.pairs };
}

type Plots = typeof import('../core/agreement/agreement-plots.js');
let plotsLoading: Promise<Plots> | null = null;
/** The plotting library is loaded on first use (a chunk of its own: the viewer's bundle stays as it was for those who never open the figures). */
function loadPlots(): Promise<Plots> {
  plotsLoading ??= import('../core/agreement/agreement-plots.js');
  return plotsLoading;
}

function save(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

export class WsiAgreementFigures extends LitElement {
  static override properties = {
    api: { attribute: false },
    readers: { attribute: false },
    roi: { attribute: false },
    report: { state: true },
    reportRoi: { state: true },
    classMetric: { state: true },
    matrixMetric: { state: true },
    status: { state: true },
    busy: { state: true },
    plots: { state: true },
  };

  declare api: AgreementApi | null;
  /** The readers the map compares. */
  declare readers: readonly string[];
  /** The selected polygon's annotation id (the ROI), or null. */
  declare roi: string | null;
  declare report: AgreementReportJson | null;
  /** The ROI the report was counted in. */
  declare reportRoi: string | null;
  declare classMetric: ClassMetric;
  declare matrixMetric: MatrixMetric;
  declare status: string | null;
  declare busy: boolean;
  /** The figures' module once loaded. */
  declare plots: Plots | null;

  static override styles = css`
    :host {
      display: grid;
      gap: 4px;
      grid-column: 1 / -1;
      margin-top: 6px;
      font-size: 12px;
      min-width: 0;
    }
    button {
      white-space: normal;
    }
    .scroll {
      overflow-x: auto;
    }
    select,
    button {
      font: inherit;
    }
    table {
      border-collapse: collapse;
      font-size: 11px;
    }
    th,
    td {
      border-bottom: 1px solid #ddd;
      padding: 1px 4px;
      text-align: right;
    }
    th:first-child,
    td:first-child {
      text-align: left;
    }
    .nd {
      color: #777;
      font-style: italic;
    }
    .status {
      font-size: 11px;
      color: #555;
    }
    .exports {
      display: flex;
      gap: 6px;
      flex-wrap: wrap;
    }
    svg {
      max-width: 100%;
      height: auto;
    }
  `;

  constructor() {
    super();
    this.api = null;
    this.readers = [];
    this.roi = null;
    this.report = null;
    this.reportRoi = null;
    this.classMetric = 'dice';
    this.matrixMetric = 'kappa';
    this.status = null;
    this.busy = false;
    this.plots = null;
  }

  private async compute(): Promise<void> {
    const api = this.api;
    const roi = this.roi;
    if (!api || !roi || this.readers.length < 2) return;
    this.busy = true;
    this.status = 'Counting the readers’ pixels inside the ROI…';
    try {
      const [report, plots] = await Promise.all([api.report(roi, this.readers), loadPlots()]);
      this.report = report;
      this.plots = plots;
      this.reportRoi = roi;
      if (!matrixMetrics(figureData(this.report)).includes(this.matrixMetric)) this.matrixMetric = 'kappa';
      this.status = null;
    } catch (err) {
      this.report = null;
      this.status = `Not computed: ${(err as Error).message}`;
    } finally {
      this.busy = false;
    }
  }

  private async csv(table: 'classes' | 'readers'): Promise<void> {
    const api = this.api;
    const roi = this.reportRoi;
    if (!api || !roi) return;
    const metric = this.matrixMetric === 'accuracy' ? 'accuracy' : 'kappa';
    try {
      save(await api.reportCsv(roi, this.readers, table, metric), table === 'classes' ? 'agreement-classes.csv' : `agreement-${metric}.csv`);
    } catch (err) {
      this.status = `Not downloaded: ${(err as Error).message}`;
    }
  }

  private renderTable(r: AgreementReportJson, d: AgreementFigureData): unknown {
    const cell = (v: number | null): unknown => (v === null ? html`<td class="nd">${formatValue(v)}</td>` : html`<td>${formatValue(v)}</td>`);
    return html`<div class="scroll"><table data-testid="agreement-class-table">
      <tr>
        <th>Class</th>
        ${d.readers.map((x) => html`<th title="Pixels this reader gave the class">${x}</th>`)}
        <th>Dice</th>
        <th>IoU</th>
      </tr>
      ${r.metrics.perClass.map(
        (c) =>
          html`<tr>
            <td>${d.classes.find((k) => k.id === c.class)?.name ?? `class ${c.class}`}</td>
            ${c.pixels.map((p) => html`<td>${p.toLocaleString('en')}</td>`)}${cell(c.meanDice)}${cell(c.meanIou)}
          </tr>`,
      )}
    </table></div>`;
  }

  override render(): unknown {
    if (this.readers.length < 2) return nothing;
    const r = this.report;
    const d = r ? figureData(r) : null;
    const width = Math.min(600, Math.max(220, this.getBoundingClientRect().width || 240));
    const classes = d && this.plots ? this.plots.classFigure(d, this.classMetric, document, width) : null;
    const matrix = d && this.plots ? this.plots.matrixFigure(d, this.matrixMetric, document, width) : null;
    const kappa = r ? (r.readers.length > 2 ? `Fleiss' κ ${formatValue(r.metrics.fleissKappa)}` : `Cohen's κ ${formatValue(r.metrics.pairs[0]?.cohenKappa ?? null)}`) : '';
    return html`<button data-testid="agreement-compute" ?disabled=${!this.roi || this.busy} title=${this.roi ? 'Count how far the readers agree inside the selected ROI' : 'Select the ROI polygon first'} @click=${() => void this.compute()}>
        Agreement in the selected ROI
      </button>
      ${this.status ? html`<span class="status" data-testid="agreement-status">${this.status}</span>` : nothing}
      ${r && d
        ? html`<span data-testid="agreement-summary">${r.pixels.toLocaleString('en')} px, ${r.readers.length} readers, ${kappa}${this.reportRoi !== this.roi ? ' (an earlier ROI)' : ''}</span>
            ${r.pixels === 0 ? html`<span class="status">No pixel of the ROI was counted: nothing to compare.</span>` : nothing} ${this.renderTable(r, d)}
            <label
              >Per class
              <select data-testid="agreement-class-metric" aria-label="Per-class metric" @change=${(e: Event) => (this.classMetric = (e.target as HTMLSelectElement).value as ClassMetric)}>
                <option value="dice" ?selected=${this.classMetric === 'dice'}>Dice</option>
                <option value="iou" ?selected=${this.classMetric === 'iou'}>IoU</option>
              </select></label
            >
            <div data-testid="agreement-class-plot">${classes ?? html`<span class="status">No class to plot.</span>`}</div>
            <label
              >Reader × reader
              <select data-testid="agreement-matrix-metric" aria-label="Reader matrix metric" @change=${(e: Event) => (this.matrixMetric = (e.target as HTMLSelectElement).value as MatrixMetric)}>
                ${matrixMetrics(d).map((m) => html`<option value=${m} ?selected=${m === this.matrixMetric}>${matrixMetricLabel(d, m)}</option>`)}
              </select></label
            >
            <div data-testid="agreement-matrix-plot">${matrix ?? html`<span class="status">Fewer than two readers: no matrix.</span>`}</div>
            <div class="exports">
              Export:
              <a href="#" data-testid="agreement-csv-classes" @click=${(e: Event) => (e.preventDefault(), void this.csv('classes'))}>per-class CSV</a>
              <a href="#" data-testid="agreement-csv-matrix" title="Kappa or pixel accuracy, as the matrix shows (a class's Dice: kappa)" @click=${(e: Event) => (e.preventDefault(), void this.csv('readers'))}>matrix CSV</a>
              <a href="#" data-testid="agreement-json" @click=${(e: Event) => (e.preventDefault(), save(new Blob([JSON.stringify(r, null, 2)], { type: 'application/json' }), 'agreement.json'))}>JSON</a>
            </div>`
        : this.roi
          ? nothing
          : html`<span class="status">Select the ROI polygon on the slide to compare the readers inside it.</span>`}`;
  }
}

if (!customElements.get('wsi-agreement-figures')) customElements.define('wsi-agreement-figures', WsiAgreementFigures);
