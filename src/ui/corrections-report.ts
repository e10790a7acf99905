/**
 * <wsi-corrections-report>: the corrections report of a model run as a page
 * (report.html?slide=…&run=…, linked from the triage tool): what happened
 * to the model's objects per class (accepted, relabelled, edited, both,
 * rejected, untouched, and the misses added by hand), the relabel matrix,
 * the IoU of changed outlines, and the same per annotator — the numbers of
 * `GET …/model-runs/{run}/report` (docs/ai-corrections.md), drawn as SVG
 * (report-plots.ts) and listed in a table, with the JSON to download.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { CorrectionReport } from '../core/corrections-report.js';
import { maskCorrections } from './mask-corrections.js';
import { pageChrome } from './page-chrome.js';
import { ModelRunApi, type ModelRunInfo } from '../services/model-run-api.js';
import { OUTCOMES, OUTCOME_LABELS, iouHistogram, legend, relabelMatrix, stackedBars, type Outcome } from './report-plots.js';

type Counts = Record<Outcome, number>;

/** The report's JSON (one home for its shape: src/core/corrections-report.ts). */
export type CorrectionReportJson = CorrectionReport;

const fmt = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined ? '—' : v.toFixed(digits));
const pct = (n: number, d: number): string => (d > 0 ? `${((100 * n) / d).toFixed(1)} %` : '—');

export class WsiCorrectionsReport extends LitElement {
  static override properties = {
    server: { type: String },
    slide: { type: String },
    run: { type: String },
    runs: { state: true },
    report: { state: true },
    problem: { state: true },
  };

  declare server: string;
  declare slide: string;
  declare run: string;
  declare runs: ModelRunInfo[];
  declare report: CorrectionReportJson | null;
  declare problem: string | null;

  constructor() {
    super();
    const q = new URLSearchParams(globalThis.location?.search ?? '');
    this.server = '';
    this.slide = q.get('slide') ?? '';
    this.run = q.get('run') ?? '';
    this.runs = [];
    this.report = null;
    this.problem = null;
  }

  static override styles = [
    pageChrome,
    css`
    header {
      align-items: baseline;
      padding-bottom: 6px;
    }
    h2 {
      font-size: 14px;
      margin: 0 0 6px;
    }
    .cols {
      display: flex;
      flex-wrap: wrap;
      gap: 12px 28px;
      margin-top: 10px;
    }
    section {
      min-width: 0;
    }
    .tiles {
      display: flex;
      gap: 8px;
      flex-wrap: wrap;
      margin: 8px 0;
    }
    .tile {
      border: 1px solid #d5dae1;
      border-radius: 6px;
      padding: 4px 10px;
      min-width: 74px;
    }
    .tile b {
      display: block;
      font-size: 18px;
    }
    .legend {
      display: flex;
      flex-wrap: wrap;
      gap: 4px 12px;
      font-size: 12px;
    }
    .legend i {
      display: inline-block;
      width: 10px;
      height: 10px;
      margin-right: 4px;
      border-radius: 2px;
    }
    table {
      border-collapse: collapse;
      font-size: 12px;
    }
    td,
    th {
      border-bottom: 1px solid #e4e7ec;
      padding: 2px 8px;
      text-align: right;
    }
    td:first-child,
    th:first-child {
      text-align: left;
    }
    .problem {
      background: #fdecea;
      padding: 8px;
      border-radius: 4px;
    }
    .muted {
      color: #666;
      font-size: 12px;
    }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private api(): ModelRunApi {
    return new ModelRunApi(this.server, this.slide);
  }

  async load(): Promise<void> {
    this.problem = null;
    if (!this.slide) {
      this.problem = 'Open this page from the triage tool of a slide (report.html?slide=…&run=…).';
      return;
    }
    try {
      this.runs = await this.api().runs();
      if (!this.run) this.run = this.runs.find((r) => r.state === 'imported')?.id ?? '';
      if (!this.run) {
        this.problem = 'This slide has no imported model run yet.';
        return;
      }
      this.report = await this.api().report<CorrectionReportJson>(this.run);
    } catch (err) {
      const m = (err as Error).message;
      this.problem = /\(401/.test(m) ? 'Your session has ended: sign in again, then reload this page.' : m;
    }
  }

  private pick(e: Event): void {
    this.run = (e.target as HTMLSelectElement).value;
    this.report = null;
    const q = new URLSearchParams({ slide: this.slide, run: this.run });
    history.replaceState(null, '', `?${q.toString()}`);
    void this.load();
  }

  override render(): unknown {
    const r = this.report;
    return html`
      <header>
        <h1>Corrections report${r ? html` · ${r.run.model.name} ${r.run.model.version}` : nothing}</h1>
        ${this.runs.length > 1
          ? html`<select data-testid="report-run" @change=${(e: Event) => this.pick(e)}>
              ${this.runs.filter((x) => x.state === 'imported').map((x) => html`<option value=${x.id} ?selected=${x.id === this.run}>${x.modelName} ${x.modelVersion} · ${x.objects} objects</option>`)}
            </select>`
          : nothing}
        ${r ? html`<a data-testid="report-json" href=${this.api().reportUrl(this.run)} download=${`corrections-${this.run}.json`}>JSON</a>` : nothing}
      </header>
      ${this.problem ? html`<p class="problem" data-testid="report-problem">${this.problem}</p>` : nothing}
      ${r ? this.body(r) : this.problem ? nothing : html`<p class="muted">Loading…</p>`}
    `;
  }

  private body(r: CorrectionReportJson): unknown {
    const decided = r.predictions - r.counts.untouched;
    const classes = Object.keys(r.perClass).sort();
    const rows = [...classes.map((c) => ({ label: c, counts: r.perClass[c] as Partial<Counts> })), { label: 'All classes', counts: r.counts as Partial<Counts> }];
    const annotators = Object.keys(r.perAnnotator).sort();
    return html`
      <p class="muted" data-testid="report-run-id">Run ${r.run.id}${r.run.importedAt ? html` · imported ${r.run.importedAt.slice(0, 16).replace('T', ' ')}` : nothing} · ${r.checkedAreas} checked area${r.checkedAreas === 1 ? '' : 's'} · generated ${r.generatedAt.slice(0, 19).replace('T', ' ')} UTC</p>
      <div class="tiles" data-testid="report-tiles">
        <div class="tile">predictions<b data-testid="n-predictions">${r.predictions}</b></div>
        <div class="tile">reviewed<b data-testid="n-reviewed">${decided}</b></div>
        <div class="tile">corrected<b data-testid="n-corrected">${r.corrected}</b></div>
        <div class="tile">error rate (corrected / reviewed)<b data-testid="error-rate">${pct(r.corrected, decided)}</b></div>
        <div class="tile">missed<b data-testid="n-missed">${r.counts.missed}</b></div>
      </div>
      <div class="cols">
        <section>
          <h2>What happened to the model's objects, per model class</h2>
          ${stackedBars(rows, 620, 'class-bars')} ${legend()}
        </section>
        <section>
          <h2>Relabel matrix (model class → final class)</h2>
          ${relabelMatrix(r.relabelMatrix)}
        </section>
        <section>
          <h2>Changed outlines: IoU (${r.iou.objects} measured${r.iou.unmeasured ? `, ${r.iou.unmeasured} points or lines not measurable` : ''})</h2>
          ${r.iou.histogram ? iouHistogram(r.iou.histogram) : html`<p class="muted">This server's report has no IoU histogram.</p>`}
          <p class="muted">mean ${fmt(r.iou.mean)} · median ${fmt(r.iou.median)} · min ${fmt(r.iou.min)} · max ${fmt(r.iou.max)}</p>
        </section>
        <section>
          <h2>Per annotator (who made the decision that stands)</h2>
          ${annotators.length ? stackedBars(annotators.map((a) => ({ label: a.length > 20 ? `${a.slice(0, 8)}…` : a, counts: r.perAnnotator[a] as Partial<Counts> })), 520, 'annotator-bars') : html`<p class="muted">No decision yet.</p>`}
        </section>
      </div>
      <h2 style="margin-top:14px">The numbers</h2>
      <table data-testid="report-table">
        <tr><th>model class</th><th>predictions</th>${OUTCOMES.map((k) => html`<th>${OUTCOME_LABELS[k]}</th>`)}<th>IoU mean</th><th>IoU median</th></tr>
        ${classes.map((c) => {
          const x = r.perClass[c] as CorrectionReportJson['perClass'][string];
          return html`<tr data-class=${c}><td>${c}</td><td>${x.predictions}</td>${OUTCOMES.map((k) => html`<td data-key=${k}>${x[k]}</td>`)}<td>${fmt(x.iou.mean)}</td><td>${fmt(x.iou.median)}</td></tr>`;
        })}
        <tr data-class="(all)"><td><strong>all</strong></td><td>${r.predictions}</td>${OUTCOMES.map((k) => html`<td data-key=${k}><strong>${r.counts[k]}</strong></td>`)}<td>${fmt(r.iou.mean)}</td><td>${fmt(r.iou.median)}</td></tr>
      </table>
      ${maskCorrections(r.mask)}
      <p class="muted">Not in this report yet: figures over time.</p>
    `;
  }
}

if (!customElements.get('wsi-corrections-report')) customElements.define('wsi-corrections-report', WsiCorrectionsReport);
