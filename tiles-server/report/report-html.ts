/**
 * The regulatory report as one self-contained page for reading and
 * printing (print to PDF from the browser): every section of the JSON with
 * its figures as tables and plain SVG bars, each figure followed by the
 * query it came from, and the hash at the end. Served with the data
 * policy (no script, no style sheet: SVG and table attributes only), so
 * it holds nothing that runs.
 */
import type { BuiltReport } from './project-report.js';
import type { FigureSource } from '../store/report-queries.js';
import type { AgreementFigureData } from '../../src/core/agreement/agreement-figure-data.js';
import { classFigureSvg, matrixFigureSvg } from './report-plots.js';

type Obj = Record<string, unknown>;

function esc(v: unknown): string {
  const s = v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(v: unknown): string {
  if (typeof v === 'number' && !Number.isInteger(v)) return esc(v.toFixed(4));
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return esc(v);
}

function sources(s: unknown): string {
  const list = (Array.isArray(s) ? s : s ? [s] : []) as FigureSource[];
  if (list.length === 0) return '';
  return `<p><small>Source: ${list
    .map((x) => `<b>${esc(x.query)}</b> (${esc(Object.entries(x.params).map(([k, v]) => `${k}=${String(v)}`).join(', '))})${x.sql ? `: <code>${esc(x.sql)}</code>` : ''}${x.computation ? ` — ${esc(x.computation)}` : ''}`)
    .join('; ')}</small></p>`;
}

function table(rows: unknown, cols: string[]): string {
  const list = Array.isArray(rows) ? (rows as Obj[]) : [];
  if (list.length === 0) return '<p><i>No rows.</i></p>';
  return `<table border="1" cellpadding="3" cellspacing="0"><tr>${cols.map((c) => `<th align="left">${esc(c)}</th>`).join('')}</tr>${list
    .map((r) => `<tr>${cols.map((c) => `<td>${fmt(r[c])}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

/** Horizontal bars of labelled counts, as SVG with presentation attributes only. */
/** A run's AI-mask corrections: per corrected layer, pixels changed and the per-class error rates. */
function maskHtml(m: Obj): string {
  const rows = (m['corrections'] as Obj[]).map((c) => ({ annotator: c['annotator'], pixels: c['pixels'], changed: c['changed'], changedRate: c['changedRate'], errorRate: Object.entries(c['errorRate'] as Obj).map(([k, v]) => `${k}: ${v === null ? '—' : Number(v).toFixed(4)}`).join(', ') }));
  return `<p>AI mask (${esc(m['form'])}): pixels changed per corrected layer.</p>${table(rows, ['annotator', 'pixels', 'changed', 'changedRate', 'errorRate'])}`;
}

export function bars(items: Array<{ label: string; value: number }>, title: string): string {
  if (items.length === 0) return '';
  const max = Math.max(1, ...items.map((i) => i.value));
  const row = 20;
  const h = items.length * row + 24;
  const body = items
    .map((it, i) => {
      const y = 20 + i * row;
      const w = Math.round((it.value / max) * 300);
      return `<text x="0" y="${y + 13}" font-size="12">${esc(it.label)}</text><rect x="180" y="${y + 2}" width="${w}" height="14" fill="#4c7bd9"></rect><text x="${186 + w}" y="${y + 13}" font-size="12">${esc(it.value)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" width="540" height="${h}" data-figure="${esc(title)}"><text x="0" y="12" font-size="12" font-weight="bold">${esc(title)}</text>${body}</svg>`;
}

function section(title: string, v: unknown, render: (o: Obj) => string): string {
  const o = (v ?? {}) as Obj;
  if (o['status'] === 'absent') return `<h2>${esc(title)}</h2><p><b>Not available:</b> ${esc(o['reason'])}</p>${sources(o['source'])}`;
  return `<h2>${esc(title)}</h2>${render(o)}`;
}

/** The dataset's site and stain groups (or why there are none), with their source. */
function siteAndStainHtml(o: Obj | undefined): string {
  if (!o) return '';
  if (o['status'] === 'absent') return `<h3>Site and stain</h3><p><b>Not available:</b> ${esc(o['reason'])}</p>${sources(o['source'])}`;
  const barsOf = (key: string, title: string): string => bars((o[key === 'site' ? 'bySite' : 'byStain'] as Obj[]).map((x) => ({ label: String(x[key]), value: Number(x['count']) })), title);
  return `<h3>Site and stain</h3>${barsOf('site', 'Slides by site')}${barsOf('stain', 'Slides by stain')}${table(o['bySiteAndStain'], ['site', 'stain', 'count'])}<p>Slides without a site or stain set: ${fmt(o['slidesWithout'])}.</p>${sources(o['source'])}`;
}

/** The agreement's bootstrap intervals: estimate, interval, units and resamples, or why there is none. */
function intervalsHtml(o: Obj | undefined): string {
  if (!o) return '';
  const row = (what: string, r: Obj): Obj =>
    r['status'] === 'ok'
      ? { statistic: what, estimate: r['estimate'], interval: `${Number(r['lower']).toFixed(4)} – ${Number(r['upper']).toFixed(4)} (${Number(r['level']) * 100}%)`, units: r['units'], resamples: `${String(r['resamples'])} (seed ${String(r['seed'])})` }
      : { statistic: what, estimate: r['estimate'], interval: `none: ${String(r['reason'])}`, units: r['units'], resamples: '—' };
  return `<h3>Confidence intervals</h3>${table([row('pixel agreement, pooled', o['pixelAgreement'] as Obj), row('kappa, mean per ROI', o['kappa'] as Obj)], ['statistic', 'estimate', 'interval', 'units', 'resamples'])}${sources(o['source'])}`;
}

/** One computed reading's figures (per-class Dice with the pairs' spread, the reader × reader kappa), readers by username. */
function readingFiguresHtml(x: Obj, names: ReadonlyMap<string, string>): string {
  if (x['status'] !== 'ok' || !Array.isArray(x['perClass'])) return '';
  const ids = x['readers'] as string[];
  const pairs = (x['pairs'] as Obj[]).map((p) => ({
    a: ids.indexOf(String(p['a'])),
    b: ids.indexOf(String(p['b'])),
    cohenKappa: p['cohenKappa'] as number | null,
    pixelAccuracy: p['pixelAccuracy'] as number | null,
    perClass: (p['perClass'] as Array<{ class: number; dice: number | null; iou: number | null }>) ?? [],
  }));
  const perClass = x['perClass'] as Array<{ class: number; name: string | null; meanDice: number | null; meanIou: number | null }>;
  const d: AgreementFigureData = { readers: ids.map((id) => names.get(id) ?? id), classes: perClass.map((c) => ({ id: c.class, name: c.name })), perClass, pairs };
  return `<h3>Reading ${esc(x['name'])} (${esc(x['studyCode'])}): figures</h3><figure data-figure="agreement-classes">${classFigureSvg(d, 'dice')}<figcaption>Dice per class: bar, the mean over reader pairs; dots, each pair; line, their range. "not defined": no pair of readers used the class.</figcaption></figure><figure data-figure="agreement-matrix">${matrixFigureSvg(d, 'kappa')}<figcaption>Cohen's kappa for each pair of readers (the diagonal is left empty; "not defined": chance agreement is 1).</figcaption></figure>`;
}

export function projectReportHtml(r: BuiltReport): string {
  const b = r.body;
  const project = b['project'] as Obj;
  const protocol = b['protocol'] as Obj;
  const classes = protocol['classes'] as Obj;
  const review = protocol['review'] as Obj;
  const a = r.attestation.auditChain;
  // annotators by username where they are members (the body keeps ids)
  const names = new Map((((b['annotators'] as Obj)['rows'] as Obj[]) ?? []).map((m) => [String(m['userId']), String(m['username'])]));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Regulatory report: ${esc(project['name'])}</title></head><body>
<h1>Regulatory report: ${esc(project['name'])}</h1>
<p>Project ${esc(project['id'])}, editing mode ${esc(project['editingMode'])}, ${project['blind'] ? 'blind' : 'not blind'}, created ${esc(project['createdAt'])}.</p>
${sources(project['source'])}
<h2>Annotation protocol</h2>
<h3>Classes</h3>${table(classes['rows'], ['position', 'name', 'color', 'hotkey', 'definition', 'referenceStandard', 'expertSignificant'])}${sources(classes['source'])}
${section('Definitions, magnifications and acceptance criteria', protocol['definitions'], (d) => `<p>Version ${fmt(d['version'])}, set by ${fmt(d['setBy'])} at ${fmt(d['setAt'])}.</p>${table(d['magnifications'], ['task', 'magnification'])}<p><b>Acceptance criteria:</b> ${fmt(d['acceptanceCriteria'])}</p><p><b>Rules:</b> ${fmt(d['rules'])}</p>${sources(d['source'])}`)}
<h3>Review stages</h3><ul>${((review['stages'] as string[]) ?? []).map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<p>Self-review allowed: ${fmt(review['allowSelfReview'])}. Expert-significant classes: ${fmt((review['significantClasses'] as string[]).join(', ') || 'none')}. Experts: ${fmt((review['experts'] as Obj[]).map((e) => e['username'] ?? e['userId']).join(', ') || 'none')}.</p>
${table(review['rejectReasons'], ['code', 'label', 'retired'])}${sources(review['source'])}
${section('Annotators and qualifications', b['annotators'], (o) => `${table((o['rows'] as Obj[]).map((m) => ({ ...m, qualification: m['qualification'] ? `${String((m['qualification'] as Obj)['text'])} (${String((m['qualification'] as Obj)['date'])}, v${String((m['qualification'] as Obj)['version'])})` : 'none recorded' })), ['username', 'displayName', 'role', 'memberSince', 'qualification'])}<p>${esc(o['note'])}</p>${sources(o['source'])}`)}
${section('Dataset composition', b['dataset'], (o) => `<p>Slides: ${fmt(o['count'])}. ${esc(o['note'])}.</p>${table(o['slides'], ['studyCode', 'status', 'format', 'vendor', 'width', 'height', 'levels', 'mpp', 'objectivePower', 'bytes', 'site', 'stain', 'addedAt'])}${bars((o['byVendor'] as Obj[]).map((x) => ({ label: String(x['vendor']), value: Number(x['count']) })), 'Slides by vendor')}${table(o['byMpp'], ['mpp', 'count'])}${table(o['byObjective'], ['objectivePower', 'count'])}${siteAndStainHtml(o['siteAndStain'] as Obj)}${sources(o['source'])}`)}
${section('De-identification', b['deidentification'], (o) => `${table(o['jobs'], ['studyCode', 'state', 'inProjectAs', 'original', 'result', 'rules', 'label', 'macro', 'fieldsModified', 'verification', 'outputSha256'])}${table(o['byState'], ['state', 'count'])}${table(o['byRules'], ['rules', 'count'])}${sources(o['source'])}`)}
${section('Annotation volume', b['annotationVolume'], (o) => `<p>Live objects: ${fmt(o['objects'])}.</p>${table((o['rows'] as Obj[]).map((x) => ({ ...x, annotator: names.get(String(x['annotator'])) ?? x['annotator'] })), ['class', 'annotator', 'origin', 'objects'])}${sources(o['source'])}`)}
${section('Review outcomes', b['reviewOutcomes'], (o) => {
    const st = o['states'] as Obj;
    const dec = o['decisions'] as Obj;
    const ps = o['perSlide'] as Obj;
    const rr = o['rejectionReasons'] as Obj;
    return `${bars((st['rows'] as Obj[]).map((x) => ({ label: `${String(x['kind'])} ${String(x['state'])}`, value: Number(x['items']) })), 'Review items by state')}${table(st['rows'], ['kind', 'state', 'items'])}${sources(st['source'])}
<h3>Per slide</h3>${table((ps['rows'] as Obj[]).map((x) => ({ studyCode: x['studyCode'], counts: Object.entries(x['counts'] as Obj).map(([k, v]) => `${k}: ${String(v)}`).join(', ') })), ['studyCode', 'counts'])}${sources(ps['source'])}
<h3>Decisions</h3><p>First-stage acceptance rate: ${fmt(dec['firstStageAcceptanceRate'])}.</p>${table(dec['rows'], ['action', 'expertStage', 'events'])}${sources(dec['source'])}
<h3>Rejection reasons</h3>${table(rr['rows'], ['reason', 'label', 'events'])}${sources(rr['source'])}`;
  })}
${section('AI corrections', b['aiCorrections'], (o) => {
    const t = o['totals'] as Obj;
    return `<p>Predictions ${fmt(t['predictions'])}, corrected ${fmt(t['corrected'])} (rate ${fmt(t['correctionRate'])}), rejected ${fmt(t['rejected'])}, missed ${fmt(t['missed'])}; error rate ${fmt(t['errorRate'])}.</p>
${(o['runs'] as Obj[]).map((run) => `<h3>Run ${esc(run['run'])} on ${esc(run['studyCode'])}: ${esc((run['model'] as Obj)['name'])} ${esc((run['model'] as Obj)['version'])}</h3>${bars(Object.entries(run['counts'] as Obj).map(([k, v]) => ({ label: k, value: Number(v) })), `Corrections of run ${String(run['run'])}`)}<p>Correction rate ${fmt(run['correctionRate'])}, error rate ${fmt(run['errorRate'])}, IoU of edited outlines: mean ${fmt((run['iou'] as Obj)['mean'])} over ${fmt((run['iou'] as Obj)['objects'])}.</p>${run['mask'] ? maskHtml(run['mask'] as Obj) : ''}${sources(run['source'])}`).join('')}
<p>${esc(Object.entries(o['rules'] as Obj).map(([k, v]) => `${k}: ${String(v)}`).join('. '))}</p>${sources(o['source'])}`;
  })}
${section('Inter-observer agreement', b['interObserver'], (o) => `${table((o['readings'] as Obj[]).map((x) => ({ ...x, readers: (x['readers'] as string[]).join(', '), pairs: Array.isArray(x['pairs']) ? (x['pairs'] as Obj[]).map((p) => `${String(p['a'])}/${String(p['b'])}: κ ${p['cohenKappa'] === null ? '—' : Number(p['cohenKappa']).toFixed(3)}, accuracy ${p['pixelAccuracy'] === null ? '—' : Number(p['pixelAccuracy']).toFixed(3)}`).join('; ') : null })), ['name', 'studyCode', 'roi', 'readers', 'status', 'pixels', 'fleissKappa', 'pairs', 'reason'])}${(o['readings'] as Obj[]).map((x) => readingFiguresHtml(x, names)).join('')}${intervalsHtml(o['intervals'] as Obj | undefined)}<p>${esc(Object.entries(o['rules'] as Obj).map(([k, v]) => `${k}: ${String(v)}`).join('. '))}</p>${(o['readings'] as Obj[]).map((x) => sources(x['source'])).join('')}${sources(o['source'])}`)}
<h2>Audit chain</h2>
<p>Head: record ${fmt(a.headSeq)}, hash <code>${fmt(a.headHash)}</code>. Verification: <b>${a.ok ? 'intact' : 'BROKEN'}</b> (${fmt(a.records)} records, ${fmt(a.checkpoints)} checkpoints${a.ok ? '' : `; first broken link ${fmt(a.brokenAt)}: ${fmt(a.reason)}`}).</p>
<p><small>Source: <b>AuditLog.verify</b> — the whole chain and its signed checkpoints, as GET /api/audit/verify.</small></p>
<h2>Reproducibility</h2>
<p>SHA-256 of the report body (${esc(r.hash.of)}): <code data-report-hash>${esc(r.hash.value)}</code></p>
<p>Generated at ${esc(r.attestation.generatedAt)} by ${esc(r.attestation.generatedBy)}; ${esc(r.attestation.note)}.</p>
</body></html>`;
}
