/**
 * The triage tool's panel section (src/tools/triage-tool.ts): the run, the
 * order, the task's magnification, the score filter and colours, the
 * current object and its state, the decision buttons, done/remaining per
 * model class, the bulk actions, marking the view as checked, and the link
 * to the report page; decisions not yet saved are shown with why.
 */
import { html, nothing } from 'lit';
import type { Tool, ToolContext } from './tool.js';
import type { TriageTool } from './triage-tool.js';
import { scoreColour, type SortMode, type TriageState } from './triage-queue.js';

const STATE_LABEL: Record<TriageState, string> = { untouched: 'to do', accepted: 'accepted', edited: 'edited', relabelled: 'relabelled', both: 'relabelled + edited', rejected: 'rejected' };

function num(e: Event): number {
  return Number((e.target as HTMLInputElement).value);
}

export function triagePanel(tool: Tool, ctx: ToolContext): unknown {
  const t = tool as TriageTool;
  const m = ctx.models;
  if (!m) return nothing;
  t.ensureRuns();
  const saving = m.saving();
  const cur = t.current();
  const progress = t.progress;
  const colour = new Map(ctx.palette().map((c) => [c.name, c.color]));
  let done = 0;
  let remaining = 0;
  for (const p of progress.values()) {
    done += p.done;
    remaining += p.remaining;
  }
  const imported = (t.runs ?? []).filter((r) => r.state === 'imported');
  return html`<div data-testid="triage">
    ${t.error ? html`<div class="status bad" data-testid="triage-error">${t.error}</div>` : nothing}
    ${saving.status === 'offline' || saving.status === 'error' || saving.status === 'conflict' || saving.status === 'retrying'
      ? html`<div class="status bad" data-testid="triage-saving">${saving.queued} decision${saving.queued === 1 ? '' : 's'} not saved yet: ${saving.message ?? saving.status}. They are kept and sent again.</div>`
      : nothing}
    ${t.loading ? html`<div class="status" data-testid="triage-loading">${t.loading}</div>` : nothing}
    <label>Model run
      <select data-testid="triage-run" @change=${(e: Event) => void t.selectRun((e.target as HTMLSelectElement).value)}>
        <option value="" ?selected=${t.runId === null} disabled>${imported.length ? 'choose a run' : 'no imported run'}</option>
        ${imported.map((r) => html`<option value=${r.id} ?selected=${r.id === t.runId}>${r.modelName} ${r.modelVersion} (${r.objects})</option>`)}
      </select>
    </label>
    ${t.runId === null
      ? nothing
      : html`
          <div class="grid">
            <label>Order
              <select data-testid="triage-sort" @change=${(e: Event) => { t.mode = (e.target as HTMLSelectElement).value as SortMode; t.rebuild(); }}>
                <option value="score" ?selected=${t.mode === 'score'}>score, lowest first</option>
                <option value="position" ?selected=${t.mode === 'position'}>position</option>
              </select>
            </label>
            <label>Magnification
              <input type="number" min="0.5" max="80" step="0.5" data-testid="triage-mag" .value=${String(t.taskMagnification)} @change=${(e: Event) => (t.taskMagnification = num(e) > 0 ? num(e) : t.taskMagnification)} />
            </label>
            <label>Score from <input type="number" min="0" max="1" step="0.05" data-testid="triage-min" .value=${String(t.filter.min)} @change=${(e: Event) => { t.filter = { ...t.filter, min: num(e) }; t.rebuild(); }} /></label>
            <label>to <input type="number" min="0" max="1" step="0.05" data-testid="triage-max" .value=${String(t.filter.max)} @change=${(e: Event) => { t.filter = { ...t.filter, max: num(e) }; t.rebuild(); }} /></label>
          </div>
          <label><input type="checkbox" data-testid="triage-colour" .checked=${t.colourByScore} @change=${(e: Event) => { t.colourByScore = (e.target as HTMLInputElement).checked; ctx.redraw(); }} /> colour by score
            <span class="swatch" style="background:${scoreColour(0)}"></span>0 <span class="swatch" style="background:${scoreColour(0.5)}"></span>0.5 <span class="swatch" style="background:${scoreColour(1)}"></span>1</label>
          ${cur
            ? html`<div class="status" data-testid="triage-current" data-id=${cur.id} data-state=${t.state(cur)}>
                <strong>${t.cursor + 1}</strong> of ${t.order.length}: ${cur.classification ?? 'no class'}, score <span data-testid="triage-score">${cur.score === null ? '—' : cur.score.toFixed(3)}</span> — <span data-testid="triage-state">${STATE_LABEL[t.state(cur)]}</span>
              </div>`
            : html`<div class="status warn" data-testid="triage-current">No prediction in the queue.</div>`}
          <div class="grid">
            <button data-testid="triage-accept" @click=${() => t.decide('accept')}>Accept <kbd>A</kbd></button>
            <button data-testid="triage-reject" @click=${() => t.decide('reject')}>Reject <kbd>R</kbd></button>
            <button data-testid="triage-prev" @click=${() => t.previous()}>Previous <kbd>,</kbd></button>
            <button data-testid="triage-next" @click=${() => t.next()}>Next <kbd>.</kbd></button>
          </div>
          <h3>Done / remaining</h3>
          <table data-testid="triage-progress">
            <tr><th>model class</th><th>done</th><th>to do</th></tr>
            ${[...progress].map(
              ([name, p]) => html`<tr data-class=${name}><td><span class="swatch" style=${`background:${colour.get(name) ?? '#888'}`}></span>${name}</td><td data-testid="done">${p.done}</td><td data-testid="remaining">${p.remaining}</td></tr>`,
            )}
            <tr><td><strong>All</strong></td><td data-testid="triage-done">${done}</td><td data-testid="triage-remaining">${remaining}</td></tr>
          </table>
          <h3>In bulk (undecided only)</h3>
          <div class="grid">
            <button data-testid="triage-accept-roi" @click=${() => t.bulkInRoi('accept')}>Accept in ROI</button>
            <button data-testid="triage-reject-roi" @click=${() => t.bulkInRoi('reject')}>Reject in ROI</button>
            <label>Score <input type="number" min="0" max="1" step="0.05" data-testid="triage-threshold" .value=${String(t.threshold)} @change=${(e: Event) => (t.threshold = num(e))} /></label>
            <span></span>
            <button data-testid="triage-accept-above" @click=${() => t.bulk('accept', (it) => it.score !== null && it.score >= t.threshold, `with a score of ${t.threshold} or more`)}>Accept ≥ score</button>
            <button data-testid="triage-reject-below" @click=${() => t.bulk('reject', (it) => it.score !== null && it.score < t.threshold, `with a score below ${t.threshold}`)}>Reject &lt; score</button>
          </div>
          <button data-testid="triage-checked" @click=${() => void t.markViewChecked()}>Mark the view as checked</button>
          <p><a href=${m.reportPage(t.runId)} target="_blank" rel="noopener" data-testid="triage-report">Corrections report</a></p>
        `}
  </div>`;
}
