/**
 * The mask part of the corrections report page (issue 13, AI masks): for
 * each annotator's corrected layer, the pixels changed, per class the
 * model's pixels, the kept, changed and added ones and the error rate, and
 * the confusion model class × final class in pixels — as tables (pixel
 * counts are too wide for the relabel matrix's cells). The numbers are the
 * server's (src/core/corrections-report.ts).
 */
import { html, nothing, type TemplateResult } from 'lit';
import type { MaskConfusion, MaskCorrectionReport } from '../core/corrections-report.js';

const n = (v: number): string => v.toLocaleString('en');
const rate = (v: number | null): string => (v === null ? '—' : `${(100 * v).toFixed(2)} %`);

function confusionTables(c: MaskConfusion, name: (id: string) => string, testid: string): TemplateResult {
  const ids = Object.keys(c.perClass).sort((a, b) => Number(a) - Number(b));
  return html`
    <p class="muted" data-testid=${`${testid}-totals`}>${n(c.pixels)} pixels counted · <strong data-testid=${`${testid}-changed`}>${n(c.changed)}</strong> changed (${rate(c.pixels ? c.changed / c.pixels : null)})</p>
    <table data-testid=${`${testid}-classes`}>
      <tr><th>class</th><th>model px</th><th>final px</th><th>kept</th><th>changed away</th><th>added</th><th>error rate</th></tr>
      ${ids.map((id) => {
        const x = c.perClass[id] as MaskConfusion['perClass'][string];
        return html`<tr data-class=${id}><td>${name(id)}</td><td>${n(x.model)}</td><td>${n(x.final)}</td><td>${n(x.kept)}</td><td data-key="changedFrom">${n(x.changedFrom)}</td><td>${n(x.changedTo)}</td><td>${rate(x.errorRate)}</td></tr>`;
      })}
    </table>
    <table data-testid=${`${testid}-matrix`} style="margin-top:6px">
      <tr><th>model ↓ / final →</th>${ids.map((id) => html`<th>${name(id)}</th>`)}</tr>
      ${ids.map((from) => html`<tr><td>${name(from)}</td>${ids.map((to) => html`<td data-cell=${`${from}→${to}`}>${n(c.matrix[from]?.[to] ?? 0)}</td>`)}</tr>`)}
    </table>
  `;
}

export function maskCorrections(mask: MaskCorrectionReport | null | undefined): TemplateResult | typeof nothing {
  if (!mask) return nothing;
  const names = new Map(mask.classes.map((c) => [String(c.id), c.name]));
  const name = (id: string): string => (id === '0' ? 'unlabelled' : (names.get(id) ?? `class ${id}`));
  return html`
    <section data-testid="mask-report">
      <h2 style="margin-top:14px">AI mask: pixels corrected (${mask.form}${mask.minProbability !== null ? `, min. probability ${mask.minProbability}` : ''}, downsample ${mask.downsample})</h2>
      ${mask.corrections.length === 0 ? html`<p class="muted">Nobody has a corrected layer of this mask yet.</p>` : nothing}
      ${mask.corrections.map(
        (c) => html`
          <h3 style="font-size:13px">${c.annotator.length > 20 ? `${c.annotator.slice(0, 8)}…` : c.annotator} · whole slide</h3>
          ${confusionTables(c.slide, name, 'mask-slide')}
          ${c.checkedAreas.map((a, i) => html`<h3 style="font-size:13px">checked area ${i + 1}</h3>${confusionTables(a.confusion, name, 'mask-area')}`)}
        `,
      )}
    </section>
  `;
}
