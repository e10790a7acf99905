/**
 * The regulatory report of one project (issue 15), built from the records
 * alone: the annotation protocol, the annotators and their qualifications,
 * the dataset (by study code only, never a file name), de-identification,
 * annotation volume, review outcomes, AI correction rates, inter-observer
 * agreement (with cluster-bootstrap intervals over ROIs,
 * cluster-bootstrap.ts) and the audit chain. The dataset is grouped by the
 * site and stain managers set per slide (store/slide-descriptors.ts). Every figure carries the query it came
 * from (`source`). A section whose records do not exist says so (`status:
 * "absent"` and why) rather than being left out.
 *
 * Reproducible: the body holds nothing of the moment it was built (no
 * time, no timing, no audit head), its arrays are in a fixed order, and its
 * hash is the SHA-256 of its canonical JSON (src/core/canonical-json.ts).
 * The audit chain's head moves with every audited request (this report's
 * own read included), so it is given beside the body, in the attestation,
 * with the time the report was made.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { WsiError } from '../../src/core/errors.js';
import type { AgreementService } from '../agreement-service.js';
import { correctionReport } from '../corrections/report.js';
import type { SlideScope } from '../identity/access-service.js';
import { actionsOf } from '../identity/permissions.js';
import { clusterBootstrap, meanKappa, pooledAgreement, REPORT_BOOTSTRAP, type AgreementUnit } from './cluster-bootstrap.js';
import type { DeidReport } from '../deid/report.js';
import type { SlideRegistry } from '../slides/registry.js';
import type { AnnotationStore } from '../store/annotation-store.js';
import type { Project, ProjectSlide } from '../store/identity-store.js';
import type { ModelRun, ModelRunStore } from '../store/model-runs.js';
import type { MaskCorrectionReport } from '../../src/core/corrections-report.js';
import { sqlSource, type FigureSource, type ReportQueries } from '../store/report-queries.js';
import type { VerifyResult } from '../../src/core/audit-verify.js';

export const REPORT_FORMAT = 'wsi-annotate project report';
export const REPORT_VERSION = 1;

export interface ReportDeps {
  queries: ReportQueries;
  annotations: AnnotationStore;
  modelRuns: ModelRunStore;
  agreement: AgreementService;
  /** The mask part of a run's corrections report (AI masks: model-mask-service.ts); absent: not reported. */
  maskCorrections?: (scope: SlideScope, run: ModelRun) => Promise<MaskCorrectionReport | null>;
  registry: SlideRegistry;
  /** The project's slides (the Default project: every slide of the folder). */
  projectSlides: (project: Project) => Promise<ProjectSlide[]>;
  /** The audit chain now: its head and a full check. */
  auditChain: () => { head: { seq: number; hash: string } | null; verify: VerifyResult };
}

export interface BuiltReport {
  hash: { algorithm: 'sha256'; value: string; of: string };
  body: Record<string, unknown>;
  attestation: {
    generatedAt: string;
    generatedBy: string;
    auditChain: { headSeq: number | null; headHash: string | null } & VerifyResult;
    note: string;
  };
}

type Row = Record<string, unknown>;
const ABSENT = 'absent';
const NOT_SET = '(not set)';

function absent(reason: string, source: FigureSource | FigureSource[]): Record<string, unknown> {
  return { status: ABSENT, reason, source };
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

/** A count map as sorted rows (canonical JSON sorts keys, but a list reads better in the page). */
function countRows(m: Map<string, number>, key: string): Array<Record<string, unknown>> {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, n]) => ({ [key]: k, count: n }));
}

export class ProjectReportBuilder {
  constructor(private readonly d: ReportDeps) {}

  /** Builds the report; `actor` is recorded in the attestation and as the actor of agreement computations. */
  async build(project: Project, actor: string): Promise<BuiltReport> {
    const body = await this.body(project, actor);
    const value = createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
    const chain = this.d.auditChain();
    return {
      hash: { algorithm: 'sha256', value, of: 'the canonical JSON of body (keys sorted, no white space, UTF-8)' },
      body,
      attestation: {
        generatedAt: new Date().toISOString(),
        generatedBy: actor,
        auditChain: { headSeq: chain.head?.seq ?? null, headHash: chain.head?.hash ?? null, ...chain.verify },
        note: 'not hashed: the time, who asked, and the audit chain head, which moves with every audited request (this report’s own read included)',
      },
    };
  }

  /** The hashed part: records only. */
  async body(project: Project, actor: string): Promise<Record<string, unknown>> {
    const p = { project: project.id };
    const slides = await this.d.projectSlides(project);
    slides.sort((a, b) => (a.studyCode < b.studyCode ? -1 : a.studyCode > b.studyCode ? 1 : a.id < b.id ? -1 : 1));
    const codeOf = new Map(slides.map((s) => [s.id, s.studyCode]));
    const studyCode = (id: unknown): string => codeOf.get(String(id)) ?? '(not in the project)';
    return {
      format: REPORT_FORMAT,
      version: REPORT_VERSION,
      project: { id: project.id, name: project.name, editingMode: project.editingMode, blind: project.blind, createdAt: project.createdAt, source: sqlSource('project', p) },
      protocol: this.protocol(project.id),
      annotators: this.annotators(project.id),
      dataset: await this.dataset(project, slides),
      deidentification: this.deid(project.id, studyCode),
      annotationVolume: this.volume(slides),
      reviewOutcomes: this.reviews(project.id, studyCode),
      aiCorrections: await this.corrections(project, slides, studyCode),
      interObserver: await this.agreement(project, slides, actor),
    };
  }

  private protocol(project: string): Record<string, unknown> {
    const p = { project };
    const q = this.d.queries;
    const stored = q.rows<Row>('protocol', project)[0];
    const defs = stored ? (JSON.parse(String(stored['body'])) as { classes: Array<{ name: string; definition: string; referenceStandard: string }>; magnifications: unknown[]; acceptanceCriteria: string; rules: string }) : null;
    const defOf = new Map((defs?.classes ?? []).map((c) => [c.name.toLowerCase(), c]));
    const significant = q.rows<Row>('significant', project);
    const sigClasses = new Set(significant.filter((s) => s['kind'] === 'class').map((s) => String(s['value'])));
    const palette = q.rows<Row>('palette', project).map((r) => {
      const d = defOf.get(String(r['name']).toLowerCase());
      return {
        position: num(r['position']),
        classId: num(r['class_id']),
        name: r['name'],
        color: r['color'],
        hotkey: r['hotkey'] ?? null,
        definition: d?.definition ?? null,
        referenceStandard: d?.referenceStandard ?? null,
        expertSignificant: sigClasses.has(String(r['name'])),
      };
    });
    const settings = q.rows<Row>('reviewSettings', project)[0];
    return {
      classes: { rows: palette, source: [sqlSource('palette', p), sqlSource('protocol', p), sqlSource('significant', p)] },
      definitions: stored
        ? {
            status: 'ok',
            version: num(stored['version']),
            setBy: stored['set_by'],
            setAt: stored['set_at'],
            magnifications: defs?.magnifications ?? [],
            acceptanceCriteria: defs?.acceptanceCriteria ?? '',
            rules: defs?.rules ?? '',
            // definitions of classes the palette no longer has stay in the record
            classesNotInPalette: (defs?.classes ?? []).filter((c) => !palette.some((x) => String(x.name).toLowerCase() === c.name.toLowerCase())),
            source: sqlSource('protocol', p),
          }
        : absent('no annotation protocol has been recorded for this project (PUT /api/projects/{id}/protocol)', sqlSource('protocol', p)),
      review: {
        stages: ['submitted → accepted by a reviewer', 'expert-significant classes and ROIs: then accepted by an expert, never the same reviewer'],
        allowSelfReview: settings ? num(settings['allow_self_review']) === 1 : false,
        significantClasses: [...sigClasses].sort(),
        significantRois: significant.filter((s) => s['kind'] === 'roi').map((s) => String(s['value'])),
        experts: q.rows<Row>('experts', project).map((e) => ({ userId: e['user_id'], username: e['username'] ?? null })),
        rejectReasons: q.rows<Row>('reasons', project).map((r) => ({ code: r['code'], label: r['label'], retired: r['retired_at'] !== null })),
        source: [sqlSource('reviewSettings', p), sqlSource('significant', p), sqlSource('experts', p), sqlSource('reasons', p)],
      },
    };
  }

  private annotators(project: string): Record<string, unknown> {
    const rows = this.d.queries.rows<Row>('members', project).map((m) => ({
      userId: m['user_id'],
      username: m['username'],
      displayName: m['display_name'],
      role: m['role'],
      memberSince: m['added_at'],
      qualification: m['q_version'] === null ? null : { version: num(m['q_version']), text: m['q_text'], date: m['q_date'], setBy: m['q_set_by'], setAt: m['q_set_at'] },
    }));
    return {
      rows,
      withoutQualification: rows.filter((r) => r.qualification === null).length,
      note: 'project members only; admins reach every project as managers without being members',
      source: sqlSource('members', { project }),
    };
  }

  private async dataset(project: Project, slides: ProjectSlide[]): Promise<Record<string, unknown>> {
    const source: FigureSource = project.allSlides
      ? { query: 'folderSlides', computation: 'every slide of SLIDES_DIR (the Default project), with its metadata read from the file', params: { project: project.id } }
      : { ...sqlSource('projectSlides', { project: project.id }), computation: 'each slide’s metadata read from its file (vendor, size, levels, MPP, objective)' };
    const rows: Array<Record<string, unknown>> = [];
    const byVendor = new Map<string, number>();
    const byMpp = new Map<string, number>();
    const byObjective = new Map<string, number>();
    const bySite = new Map<string, number>();
    const byStain = new Map<string, number>();
    const bySiteAndStain = new Map<string, number>();
    const described = new Map(this.d.queries.rows<Row>('slideDescriptors', project.id).map((r) => [String(r['project_slide_id']), r]));
    for (const s of slides) {
      const entry = await this.d.registry.entryOf(s.slideId);
      let meta: Record<string, unknown> = { status: 'missing' };
      if (entry) {
        try {
          const open = await this.d.registry.get(s.slideId);
          const m = open.meta;
          meta = { status: open.probeError ? 'error' : 'ok', ...(open.probeError ? { code: open.probeError.code } : {}), format: entry.format, vendor: m.vendor, width: m.width, height: m.height, levels: m.levels.length, mpp: m.mpp, objectivePower: m.objectivePower, compression: m.compression, bytes: entry.size };
        } catch (err) {
          meta = { status: 'error', format: entry.format, bytes: entry.size, code: err instanceof WsiError ? err.code : 'INTERNAL' };
        }
      }
      const inc = (m: Map<string, number>, k: unknown): void => void m.set(String(k ?? 'unknown'), (m.get(String(k ?? 'unknown')) ?? 0) + 1);
      inc(byVendor, meta['vendor']);
      inc(byMpp, meta['mpp']);
      inc(byObjective, meta['objectivePower']);
      const d = described.get(s.id);
      const site = d ? (d['site'] as string | null) : null;
      const stain = d ? (d['stain'] as string | null) : null;
      inc(bySite, site ?? NOT_SET);
      inc(byStain, stain ?? NOT_SET);
      inc(bySiteAndStain, JSON.stringify([site ?? NOT_SET, stain ?? NOT_SET]));
      rows.push({ studyCode: s.studyCode, projectSlideId: s.id, addedAt: s.addedAt, ...meta, site, stain, descriptorsVersion: d ? num(d['version']) : 0 });
    }
    const descriptorSource = { ...sqlSource('slideDescriptors', { project: project.id }), computation: 'the latest site and stain of each project slide, counted per value (slides without one: "(not set)")' };
    const siteAndStain =
      described.size === 0
        ? absent('no manager has set a site or stain on a slide of this project (PUT /api/slides/{id}/descriptors)', descriptorSource)
        : {
            status: 'ok',
            bySite: countRows(bySite, 'site'),
            byStain: countRows(byStain, 'stain'),
            bySiteAndStain: [...bySiteAndStain.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, n]) => {
              const [site, stain] = JSON.parse(k) as [string, string];
              return { site, stain, count: n };
            }),
            slidesWithout: slides.filter((s) => !described.has(s.id)).length,
            source: descriptorSource,
          };
    return {
      slides: rows,
      count: rows.length,
      byVendor: countRows(byVendor, 'vendor'),
      byMpp: countRows(byMpp, 'mpp'),
      byObjective: countRows(byObjective, 'objectivePower'),
      siteAndStain,
      note: 'slides are named by study code only: file names are never part of the report',
      source,
    };
  }

  private deid(project: string, studyCode: (id: unknown) => string): Record<string, unknown> {
    const source = sqlSource('deidJobs', { project });
    const jobs = this.d.queries.rows<Row>('deidJobs', project);
    if (jobs.length === 0) return absent('no slide of this project came through the quarantine inbox (INBOX_DIR)', source);
    const states = new Map<string, number>();
    const rules = new Map<string, number>();
    const rows = jobs.map((j) => {
      states.set(String(j['state']), (states.get(String(j['state'])) ?? 0) + 1);
      const r = j['report'] ? (JSON.parse(String(j['report'])) as DeidReport) : null;
      if (r) rules.set(`${r.rules.name} ${r.rules.version} (${r.profile})`, (rules.get(`${r.rules.name} ${r.rules.version} (${r.profile})`) ?? 0) + 1);
      return {
        studyCode: j['study_code'],
        state: j['state'],
        inProjectAs: j['project_slide_id'] ? studyCode(j['project_slide_id']) : null,
        original: j['original'],
        errorCode: j['error_code'] ?? null,
        rules: r ? { name: r.rules.name, version: r.rules.version, profile: r.profile } : null,
        result: r?.result ?? null,
        label: r?.label ?? null,
        macro: r?.macro ?? null,
        fieldsModified: r?.fieldsModified ?? null,
        imagesModified: r?.imagesModified ?? null,
        verification: r?.verification ? { result: r.verification.result, bytesScanned: r.verification.bytesScanned, needles: r.verification.needles, hits: r.verification.hits.length } : null,
        outputSha256: r?.output?.sha256 ?? null,
      };
    });
    return { status: 'ok', jobs: rows, byState: countRows(states, 'state'), byRules: countRows(rules, 'rules'), source };
  }

  private volume(slides: ProjectSlide[]): Record<string, unknown> {
    const counts = new Map<string, number>();
    for (const s of slides) {
      let after = 0;
      for (;;) {
        const page = this.d.annotations.list(s.id, { after, limit: 10_000 });
        for (const a of page.annotations) {
          if (a.deleted) continue;
          const origin = a.source && a.source !== 'manual' ? 'model' : a.parent ? 'corrected' : 'manual';
          const key = JSON.stringify([a.classification ?? '(none)', a.createdBy, origin]);
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        if (page.next === null) break;
        after = page.next;
      }
    }
    const rows = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, n]) => {
      const [cls, annotator, origin] = JSON.parse(k) as [string, string, string];
      return { class: cls, annotator, origin, objects: n };
    });
    return {
      rows,
      objects: rows.reduce((s, r) => s + r.objects, 0),
      source: { query: 'liveObjects', computation: 'AnnotationStore.list over every project slide: live objects counted by class, creator and origin (manual, model prediction, corrected prediction)', params: { slides: slides.length } },
    };
  }

  private reviews(project: string, studyCode: (id: unknown) => string): Record<string, unknown> {
    const p = { project };
    const q = this.d.queries;
    const states = q.rows<Row>('reviewStates', project);
    if (states.length === 0) return absent('nothing of this project has been submitted for review', sqlSource('reviewStates', p));
    const reasons = new Map(q.rows<Row>('reasons', project).map((r) => [String(r['code']), String(r['label'])]));
    const perSlide = new Map<string, Record<string, number>>();
    for (const r of q.rows<Row>('reviewPerSlide', project)) {
      const code = studyCode(r['slide_id']);
      const m = perSlide.get(code) ?? {};
      m[String(r['state'])] = num(r['items']);
      perSlide.set(code, m);
    }
    const decisions = q.rows<Row>('reviewDecisions', project).map((r) => ({ action: r['action'], expertStage: num(r['expert']) === 1, events: num(r['events']) }));
    const accepted = decisions.filter((d) => d.action === 'accept' && !d.expertStage).reduce((s, d) => s + d.events, 0);
    const decided = decisions.filter((d) => ['accept', 'request-changes', 'reject'].includes(String(d.action)) && !d.expertStage).reduce((s, d) => s + d.events, 0);
    return {
      status: 'ok',
      states: { rows: states.map((r) => ({ kind: r['kind'], state: r['state'], items: num(r['items']) })), source: sqlSource('reviewStates', p) },
      perSlide: {
        rows: [...perSlide.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([code, counts]) => ({ studyCode: code, counts })),
        source: sqlSource('reviewPerSlide', p),
      },
      decisions: { rows: decisions, firstStageAcceptanceRate: decided === 0 ? null : accepted / decided, source: sqlSource('reviewDecisions', p) },
      rejectionReasons: {
        rows: q.rows<Row>('rejectionReasons', project).map((r) => ({ reason: r['reason'] ?? null, label: reasons.get(String(r['reason'])) ?? null, events: num(r['events']) })),
        source: [sqlSource('rejectionReasons', p), sqlSource('reasons', p)],
      },
    };
  }

  private async corrections(project: Project, slides: ProjectSlide[], studyCode: (id: unknown) => string): Promise<Record<string, unknown>> {
    const source = sqlSource('modelRuns', { project: project.id });
    const runs = this.d.queries.rows<Row>('modelRuns', project.id);
    const bySlide = new Map(slides.map((s) => [s.id, s]));
    if (runs.length === 0) return absent('no AI model run was imported into this project', source);
    const totals = { predictions: 0, corrected: 0, rejected: 0, missed: 0, maskPixels: 0, maskPixelsChanged: 0 };
    const rows: Array<Record<string, unknown>> = [];
    for (const r of runs) {
      const run = this.d.modelRuns.get(String(r['id']));
      if (!run) throw new WsiError('INTERNAL', 'a model run vanished while the report was built');
      const c = correctionReport(run, this.d.modelRuns, this.d.annotations);
      totals.predictions += c.predictions;
      totals.corrected += c.corrected;
      totals.rejected += c.counts.rejected;
      totals.missed += c.counts.missed;
      const mask = await this.maskPart(project, bySlide.get(run.slideId), run);
      for (const m of mask?.corrections ?? []) {
        totals.maskPixels += m.pixels;
        totals.maskPixelsChanged += m.changed;
      }
      rows.push({
        run: run.id,
        studyCode: studyCode(run.slideId),
        model: run.model,
        state: run.state,
        importedAt: run.importedAt,
        predictions: c.predictions,
        counts: c.counts,
        corrected: c.corrected,
        correctionRate: c.predictions === 0 ? null : c.corrected / c.predictions,
        errorRate: c.predictions + c.counts.missed === 0 ? null : (c.corrected + c.counts.missed) / (c.predictions + c.counts.missed),
        relabelMatrix: c.relabelMatrix,
        iou: { objects: c.iou.objects, unmeasured: c.iou.unmeasured, mean: c.iou.mean, median: c.iou.median },
        ...(mask ? { mask } : {}),
        source: { query: 'correctionReport', computation: 'tiles-server/corrections/report.ts over the run’s predictions and corrected objects (GET …/model-runs/{run}/report)', params: { run: run.id } },
      });
    }
    return {
      status: 'ok',
      runs: rows,
      totals: {
        ...totals,
        correctionRate: totals.predictions === 0 ? null : totals.corrected / totals.predictions,
        errorRate: totals.predictions + totals.missed === 0 ? null : (totals.corrected + totals.missed) / (totals.predictions + totals.missed),
      },
      rules: {
        correctionRate: 'predictions a person changed or removed (edited, relabelled, both, rejected) over predictions',
        errorRate: '(corrected + missed) over (predictions + missed): missed objects are those drawn by hand inside the run’s checked areas',
        maskPixelsChanged: 'AI masks: level-0 pixels of the slide whose class in an annotator’s corrected layer differs from the model’s (every pixel counted; per class error rate = the model’s pixels of a class given another over the model’s pixels of it)',
      },
      source,
    };
  }

  /** A manager's view of a project slide (the report reads everyone's work). */
  private managerScope(project: Project, ps: ProjectSlide): SlideScope {
    return { project, projectSlideId: ps.id, slideId: ps.slideId, studyCode: ps.studyCode, role: 'manager', actions: actionsOf('manager', project), seesOthers: true, seesFileNames: false };
  }

  /** A run's AI-mask corrections, summed per annotator's corrected layer (null: the run's output is objects, or the slide left the project). */
  private async maskPart(project: Project, ps: ProjectSlide | undefined, run: ModelRun): Promise<{ form: string; corrections: Array<{ annotator: string; pixels: number; changed: number; changedRate: number | null; errorRate: Record<string, number | null> }> } | null> {
    if (!ps || !this.d.maskCorrections) return null;
    const m = await this.d.maskCorrections(this.managerScope(project, ps), run);
    if (!m) return null;
    return {
      form: m.form,
      corrections: m.corrections.map((c) => ({
        annotator: c.annotator,
        pixels: c.slide.pixels,
        changed: c.slide.changed,
        changedRate: c.slide.pixels === 0 ? null : c.slide.changed / c.slide.pixels,
        errorRate: Object.fromEntries(Object.entries(c.slide.perClass).filter(([id, x]) => id !== '0' && x.model > 0).map(([id, x]) => [m.classes.find((k) => String(k.id) === id)?.name ?? `class ${id}`, x.errorRate])),
      })),
    };
  }

  private async agreement(project: Project, slides: ProjectSlide[], actor: string): Promise<Record<string, unknown>> {
    const p = { project: project.id };
    const q = this.d.queries;
    const sources = [sqlSource('readings', p), sqlSource('readingReaders', p)];
    const items = q.rows<Row>('readings', project.id);
    if (items.length === 0) return absent('no reading (several readers on the same slides) exists in this project', sources);
    const readers = new Map<string, string[]>();
    for (const r of q.rows<Row>('readingReaders', project.id)) {
      const list = readers.get(String(r['reading_id'])) ?? [];
      list.push(String(r['user_id']));
      readers.set(String(r['reading_id']), list);
    }
    const bySlide = new Map(slides.map((s) => [s.id, s]));
    const rows: Array<Record<string, unknown>> = [];
    const units: AgreementUnit[] = [];
    for (const it of items) {
      const ps = bySlide.get(String(it['slide_id']));
      const who = (readers.get(String(it['id'])) ?? []).slice(0, 6);
      const roi = String(it['roi_id'] ?? '');
      const base = { reading: it['id'], name: it['name'], studyCode: ps?.studyCode ?? '(not in the project)', roi: roi || null, readers: who };
      const source: FigureSource = { query: 'AgreementService.compute', computation: 'readers’ masks counted inside the ROI (GET /api/slides/{id}/agreement)', params: { slide: String(it['slide_id']), roi: roi || null, readers: who.join(',') } };
      if (!ps) {
        rows.push({ ...base, status: 'not computed', reason: 'the slide is no longer in the project', source });
        continue;
      }
      if (!roi) {
        rows.push({ ...base, status: 'not computed', reason: 'a reading of a whole slide has no ROI to count agreement in', source });
        continue;
      }
      if (who.length < 2) {
        rows.push({ ...base, status: 'not computed', reason: 'fewer than two readers', source });
        continue;
      }
      const scope = this.managerScope(project, ps);
      try {
        const a = await this.d.agreement.compute(scope, actor, { roi, readers: who.join(',') });
        const pairs = a.metrics.pairs;
        units.push({
          pixels: pairs.reduce((t, x) => t + x.pixels, 0),
          agree: pairs.reduce((t, x) => t + x.agree, 0),
          // Fleiss' kappa with three readers or more, Cohen's for a pair
          fleissKappa: a.metrics.fleissKappa ?? (pairs.length === 1 ? (pairs[0]?.cohenKappa ?? null) : null),
        });
        rows.push({
          ...base,
          status: 'ok',
          pixels: a.pixels,
          fleissKappa: a.metrics.fleissKappa,
          pairs: a.metrics.pairs.map((x) => ({ a: who[x.a] ?? null, b: who[x.b] ?? null, pixels: x.pixels, agree: x.agree, pixelAccuracy: x.pixelAccuracy, cohenKappa: x.cohenKappa, perClass: x.perClass.map((c) => ({ class: c.class, dice: c.dice, iou: c.iou })) })),
          // per class (names from the palette; 0 = Unlabelled): the figures' numbers (report-plots.ts)
          perClass: a.metrics.perClass.map((c) => ({ class: c.class, name: a.classes.find((k) => k.id === c.class)?.name ?? null, meanDice: c.meanDice, meanIou: c.meanIou })),
          source,
        });
      } catch (err) {
        if (!(err instanceof WsiError) || err.status >= 500) throw err;
        rows.push({ ...base, status: 'not computed', reason: `${err.code}: ${err.message}`, source });
      }
    }
    return {
      status: 'ok',
      readings: rows,
      intervals: {
        units: units.length,
        pixelAgreement: clusterBootstrap(units, pooledAgreement, REPORT_BOOTSTRAP),
        kappa: clusterBootstrap(units, meanKappa, REPORT_BOOTSTRAP),
        source: { query: 'clusterBootstrap', computation: 'the readings above computed (status ok), one unit per ROI: pixel agreement pooled over units (agreeing over counted pixel pairs) and the mean per-ROI kappa (Fleiss’ with 3+ readers, Cohen’s for 2), each with a seeded percentile cluster bootstrap over the ROIs', params: { seed: REPORT_BOOTSTRAP.seed, resamples: REPORT_BOOTSTRAP.resamples, level: REPORT_BOOTSTRAP.level } },
      },
      rules: {
        sampleSize: 'per reading: the pixels counted inside the ROI; for the intervals: the number of ROIs (units)',
        confidenceIntervals: `a percentile cluster bootstrap over ROIs (${REPORT_BOOTSTRAP.resamples} resamples, seed ${REPORT_BOOTSTRAP.seed}, ${REPORT_BOOTSTRAP.level * 100}%): neighbouring pixels are not independent samples, so ROIs are resampled whole, never pixels; ROIs are taken as independent (ROIs of one slide should not overlap); with fewer than 2 ROIs no interval is given`,
      },
      source: sources,
    };
  }
}
