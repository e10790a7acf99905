/**
 * The smaller store modules on both engines (SQLite and PostgreSQL:
 * tests/helpers/store-engines.ts), one store per engine: model runs with
 * their checked areas, imported predictions and corrected objects, AI masks
 * and prediction blocks; project palettes; the class relabel query;
 * de-identification jobs; project records; slide descriptors; reference
 * events; the report's named queries; what agreement reads of the masks. Each with the bad cases where the engines could differ: unique
 * keys (a second Default project, a second corrected layer), untyped NULL
 * parameters, stale versions (412), JSON and bytes back exactly.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnnotationInput } from '../../src/core/annotation.js';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import { ClassRelabelQueries } from '../../tiles-server/store/class-relabel.js';
import { ConsensusStore } from '../../tiles-server/store/consensus-store.js';
import type { Db } from '../../tiles-server/store/database.js';
import { DeidJobStore } from '../../tiles-server/store/deid-jobs.js';
import { ImportStaging } from '../../tiles-server/store/import-staging.js';
import { ModelMaskStore } from '../../tiles-server/store/model-masks.js';
import { ModelRunStore } from '../../tiles-server/store/model-runs.js';
import { AgreementStore } from '../../tiles-server/store/agreement-store.js';
import { PredictionBlocks } from '../../tiles-server/store/prediction-blocks.js';
import { ProjectRecordStore } from '../../tiles-server/store/project-records.js';
import { REPORT_QUERIES, ReportQueries, type ReportQueryName } from '../../tiles-server/store/report-queries.js';
import { SlideDescriptorStore } from '../../tiles-server/store/slide-descriptors.js';
import { describeEachEngine, type StoreUnderTest } from '../helpers/store-engines.js';

const SLIDE = 'ps-1';
const NOW = '2026-12-08T01:00:00.000Z';

function cell(x: number, classification: string | null = 'Tumour'): AnnotationInput {
  return {
    id: randomUUID(),
    kind: 'polygon',
    geometry: { type: 'Polygon', coordinates: [[[x, 0], [x + 10, 0], [x + 10, 10], [x, 0]]] },
    classification,
    name: null,
    note: null,
    locked: false,
    objectType: 'detection',
    properties: {},
  };
}

describeEachEngine('the smaller store modules', ({ make }) => {
  let engine: StoreUnderTest;
  let db: Db;
  let annotations: AnnotationStore;
  beforeAll(() => {
    engine = make();
    db = engine.open();
    annotations = new AnnotationStore(db);
  });
  afterAll(() => {
    db.close();
    engine.dispose();
  });

  it('model runs: idempotent creation, checked areas, imported predictions with their corrected objects, AI masks, blocks', () => {
    const runs = new ModelRunStore(db);
    const request = { name: 'm' };
    const make1 = (): { status: number; body: Record<string, unknown> } =>
      runs.idempotent('run-op', SLIDE, request, () => ({ status: 201, body: { run: runs.create({ slideId: SLIDE, projectId: 'p', name: 'm', version: '1', parameters: { t: 0.5 }, scoreKey: null, author: 'dr.a' }).id } }));
    const first = make1();
    expect(make1()).toEqual({ status: 201, body: { ...first.body, replayed: true } });
    expect(() => runs.idempotent('run-op', SLIDE, { other: 1 }, () => ({ status: 201, body: {} }))).toThrow(/already used/);
    const runId = first.body['run'] as string;
    expect(runs.list(SLIDE).map((r) => [r.id, r.state, r.parameters])).toEqual([[runId, 'pending', { t: 0.5 }]]);
    expect(() => runs.ofSlide('other-slide', runId)).toThrow(/no model run/);

    const area = runs.addArea(runId, SLIDE, { type: 'Polygon', coordinates: [[[0, 0], [5, 0], [5, 5], [0, 0]]] }, 'dr.a');
    expect(runs.areas(runId).map((a) => [a.id, a.bbox])).toEqual([[area.id, [0, 0, 5, 5]]]);
    expect(runs.removeArea(runId, area.id, 'dr.a')).toBe(true);
    expect(runs.removeArea(runId, area.id, 'dr.a')).toBe(false);
    expect(runs.areas(runId)).toEqual([]);

    // three predictions through import staging (scores, one unscored), committed into the run
    const staging = new ImportStaging(db);
    const job = { slideId: SLIDE, opId: 'import-run', format: 'qupath-geojson', author: 'dr.a', runId };
    const jobId = staging.begin(job);
    const preds = [cell(0), cell(20), cell(40, null)];
    staging.stage(jobId, job, NOW, preds, [0.25, 0.75, Number.NaN]);
    staging.commit(jobId, job, 'h', [], () => ({}), 3);
    expect(runs.get(runId)).toMatchObject({ state: 'imported', objects: 3, importOp: 'import-run' });
    expect(runs.markImported(runId, 'x', 'again', 1, 'dr.b')).toBe(false);
    // a corrected object of the first; a second one is refused by the unique parent index, as a 409
    const fix = cell(1);
    expect(annotations.applyBatch(SLIDE, 'fix-1', 'dr.b', [{ op: 'create', annotation: fix, parent: preds[0]?.id as string }]).status).toBe(200);
    expect(annotations.applyBatch(SLIDE, 'fix-2', 'dr.b', [{ op: 'create', annotation: cell(2), parent: preds[0]?.id as string }]).status).toBe(409);
    const pairs = [...runs.pairs(runId, 2)];
    expect(pairs.map((p) => [p.id, p.score, p.corrected?.id ?? null, p.corrected?.deleted ?? null])).toEqual([
      [preds[0]?.id, 0.25, fix.id, false],
      [preds[1]?.id, 0.75, null, null],
      [preds[2]?.id, null, null, null],
    ]);
    expect(annotations.list(SLIDE, { layer: 'working' }).annotations.map((a) => a.id).sort()).toEqual([fix.id, preds[1]?.id, preds[2]?.id].sort());
    // the class relabel query: editable objects and read-only predictions of a class
    const relabel = new ClassRelabelQueries(db);
    expect(relabel.objectsOf(SLIDE, 'Tumour')).toEqual({ editable: [{ id: fix.id, version: 1 }], predictions: 2 });

    const masks = new ModelMaskStore(db);
    masks.add({ runId, slideId: SLIDE, form: 'probability-maps', downsample: 4, minProbability: 0.5, image: { width: 100, height: 80 }, pixels: { '1': 10 }, opId: 'mask-op', createdBy: 'dr.a', createdAt: NOW });
    expect(masks.get(runId)).toMatchObject({ minProbability: 0.5, downsample: 4, image: { width: 100, height: 80 }, pixels: { '1': 10 } });
    masks.addCorrected(runId, SLIDE, 'dr.b', 'copy-op', 7, NOW);
    expect(() => masks.addCorrected(runId, SLIDE, 'dr.b', 'copy-op-2', 7, NOW)).toThrow(/UNIQUE|unique/);
    expect(masks.corrected(runId)).toEqual([{ runId, annotator: 'dr.b', opId: 'copy-op', tiles: 7, createdAt: NOW }]);
    expect(masks.correctedRunOf(SLIDE, 'dr.b')).toBe(runId);
    expect(masks.correctedRunOf(SLIDE, 'dr.c')).toBeNull();

    // a block's frame is bytes: back exactly, every byte value
    const blocks = new PredictionBlocks(db);
    const frame = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
    blocks.put({ slideId: 'ps-blocks', runId, jobId: 99_999, firstRow: 1, lastRow: 3, n: 3, bbox: [0, 0, 50, 10], frame });
    expect(blocks.has('ps-blocks')).toBe(true);
    const stored = (db.prepare('SELECT frame FROM prediction_blocks WHERE slide_id = ?').get('ps-blocks') as { frame: Buffer }).frame;
    expect(Buffer.isBuffer(stored) && stored.equals(Buffer.from(frame))).toBe(true);
    blocks.discard(99_999);
    expect(blocks.has('ps-blocks')).toBe(false);
  });

  it('project palettes: a project keeps its own palette over the server-wide ids; one Default project at most', () => {
    const ins = db.prepare(`INSERT INTO projects (id, name, editing_mode, blind, all_slides, created_at) VALUES (?, ?, 'classic', 0, ?, ?)`);
    ins.run('p-default', 'Default', 1, NOW);
    ins.run('p-2', 'Second', 0, NOW);
    // a second project holding every slide: the partial unique index refuses it on both engines
    expect(() => ins.run('p-3', 'Third', 1, NOW)).toThrow(/UNIQUE|unique/);
    db.prepare(`INSERT INTO project_slides (id, project_id, slide_id, study_code, added_at) VALUES (?, ?, ?, ?, ?)`).run('ps-2', 'p-2', 'slide-x', 'S-1', NOW);
    const palettes = annotations.palettes;
    expect(palettes.defaultProject()).toBe('p-default');
    expect(palettes.projectOfSlide('ps-2')).toBe('p-2');
    expect(palettes.projectOfSlide('no-such-slide')).toBe('p-default');
    const set = palettes.set('p-2', [{ name: 'Tumour', color: '#000000', hotkey: null }, { name: 'Mitosis', color: '#00ff00', hotkey: 'm' }]);
    const mitosis = annotations.classIdOf('Mitosis');
    expect(set).toEqual([
      { id: 1, name: 'Tumour', color: '#000000', hotkey: null },
      { id: mitosis, name: 'Mitosis', color: '#00ff00', hotkey: 'm' },
    ]);
    expect(palettes.ensureForSlide('ps-2', [{ name: 'Mitosis', color: '#00ff00', hotkey: null }, { name: 'Vessel', color: '#0000ff', hotkey: null }]).map((c) => c.name)).toEqual(['Vessel']);
    expect(palettes.ofSlide('ps-2').map((c) => c.name)).toEqual(['Tumour', 'Mitosis', 'Vessel']);
    expect(palettes.of('p-default')).toEqual([]);
  });

  it('de-identification jobs: study codes numbered per project, one job per file, state moves with and without a decision', () => {
    const jobs = new DeidJobStore(db);
    const add = (id: string, key: string): ReturnType<DeidJobStore['add']> => jobs.add({ id, projectId: 'p-2', sourceKey: key, prefix: 'STUDY', ext: '.svs', bytes: 2 ** 40, now: NOW });
    expect(add('j1', 'k1')?.studyCode).toBe('STUDY-0001');
    expect(add('j2', 'k2')?.studyCode).toBe('STUDY-0002');
    expect(add('j3', 'k1')).toBeNull(); // the same file again
    expect(jobs.get('j1')?.bytes).toBe(2 ** 40); // past 32 bits: a number on both engines
    // without a decision (decided_at stays NULL: an untyped NULL parameter PostgreSQL must be told the type of)
    expect(jobs.transition('j1', ['queued'], 'running', { now: NOW })).toMatchObject({ state: 'running', decidedBy: null, decidedAt: null });
    expect(jobs.transition('j1', ['running'], 'review', { report: { fields: ['PatientName'] }, now: NOW })).toMatchObject({ state: 'review' });
    expect(jobs.report('j1')).toEqual({ fields: ['PatientName'] });
    expect(jobs.transition('j1', ['review'], 'approved', { decidedBy: 'dr.m', projectSlideId: 'ps-9', now: '2026-12-08T02:00:00.000Z' })).toMatchObject({ decidedBy: 'dr.m', decidedAt: '2026-12-08T02:00:00.000Z', projectSlideId: 'ps-9' });
    expect(() => jobs.transition('j1', ['review'], 'rejected', { now: NOW })).toThrow(/approved, not review/);
    expect(() => jobs.transition('none', ['queued'], 'running', { now: NOW })).toThrow(/no such inbox job/);
    jobs.setOriginal('j2', 'kept', NOW);
    expect(jobs.list('p-2').map((j) => [j.id, j.state, j.original])).toEqual([['j1', 'approved', 'quarantined'], ['j2', 'queued', 'kept']]);
    expect(jobs.inState('queued').map((j) => j.id)).toEqual(['j2']);
  });

  it('project records, slide descriptors and reference events: versioned, stale versions refused (412), NULLs kept', () => {
    const records = new ProjectRecordStore(db);
    const protocol = { classes: [{ name: 'Tumour', definition: 'd', referenceStandard: '' }], magnifications: [{ task: 't', magnification: 40 }], acceptanceCriteria: 'a', rules: 'r' };
    expect(records.setProtocol('p-2', protocol, 0, 'dr.m', NOW).version).toBe(1);
    expect(() => records.setProtocol('p-2', protocol, 0, 'dr.m', NOW)).toThrow(/version 1, not 0/);
    expect(records.protocol('p-2')).toMatchObject({ version: 1, value: protocol });
    records.setQualification('p-2', 'u1', { text: 'board certified', date: '2020-01-01' }, 'dr.m', NOW);
    records.setQualification('p-2', 'u1', { text: 'senior', date: '2024-01-01' }, 'dr.m', NOW);
    records.setQualification('p-2', 'u2', { text: 'resident', date: '2025-01-01' }, 'dr.m', NOW);
    expect([...records.qualifications('p-2')].map(([u, q]) => [u, q.version, q.value.text])).toEqual([['u1', 2, 'senior'], ['u2', 1, 'resident']]);

    const descriptors = new SlideDescriptorStore(db);
    expect(descriptors.get('p-2', 'ps-2')).toMatchObject({ version: 0, value: { site: null, stain: null } });
    descriptors.set('p-2', 'ps-2', { site: 'Site A', stain: 'H&E' }, 0, 'dr.m', NOW);
    expect(descriptors.set('p-2', 'ps-2', { site: null }, 1, 'dr.m', NOW).after).toMatchObject({ version: 2, value: { site: null, stain: 'H&E' } });
    expect(() => descriptors.set('p-2', 'ps-2', { stain: 'IHC' }, 1, 'dr.m', NOW)).toThrow(/version 2, not 1/);

    const events = new ConsensusStore(db);
    events.add({ id: 'e1', slideId: SLIDE, kind: 'accept', roi: null, method: 'majority', readers: ['u1', 'u2'], parameters: { k: 2 }, tiles: 3, opId: 'c1', actor: 'dr.m', at: NOW });
    events.add({ id: 'e2', slideId: SLIDE, kind: 'restore', roi: 'roi-1', method: null, readers: [], parameters: {}, tiles: 0, opId: 'c2', actor: 'dr.m', at: '2026-12-08T03:00:00.000Z' });
    expect(events.ofSlide(SLIDE).map((e) => [e.id, e.roi, e.method, e.readers])).toEqual([['e2', 'roi-1', null, []], ['e1', null, 'majority', ['u1', 'u2']]]);
    expect(() => events.add({ id: 'e1', slideId: SLIDE, kind: 'accept', roi: null, method: null, readers: [], parameters: {}, tiles: 0, opId: 'c3', actor: 'x', at: NOW })).toThrow(/UNIQUE|unique/);
  });

  it("the report's named queries all run, with the records above in them; agreement's reads of a mask", () => {
    const report = new ReportQueries(db);
    for (const name of Object.keys(REPORT_QUERIES) as ReportQueryName[]) expect(() => report.rows(name, 'p-2'), name).not.toThrow();
    expect(report.rows('project', 'p-2')).toEqual([{ id: 'p-2', name: 'Second', editing_mode: 'classic', blind: 0, all_slides: 0, created_at: NOW }]);
    expect(report.rows<{ name: string }>('palette', 'p-2').map((r) => r.name)).toEqual(['Tumour', 'Mitosis', 'Vessel']);
    expect(report.rows('slideDescriptors', 'p-2')).toEqual([{ project_slide_id: 'ps-2', version: 2, site: null, stain: 'H&E', set_by: 'dr.m', set_at: NOW }]);
    expect(report.rows<{ id: string }>('deidJobs', 'p-2').map((r) => r.id)).toEqual(['j1', 'j2']);
    expect(report.rows('reviewStates', 'p-2')).toEqual([]);

    db.prepare(`INSERT INTO mask_history (slide_id, annotator, tx, ty, version, op, data, pixels, author, at, op_id) VALUES ('s', 'r1', 2, 1, 1, 'paint', ?, '{"1":4}', 'r1', ?, 'm1')`).run(Buffer.from([1, 2, 3]), NOW);
    const seq = (db.prepare(`SELECT seq FROM mask_history WHERE op_id = 'm1'`).get() as { seq: number }).seq;
    db.prepare(`INSERT INTO mask_tiles (slide_id, annotator, tx, ty, version, head_seq, data, pixels, updated_by, updated_at) VALUES ('s', 'r1', 2, 1, 1, ?, ?, '{"1":4}', 'r1', ?)`).run(seq, Buffer.from([1, 2, 3]), NOW);
    const agreement = new AgreementStore(db);
    expect(agreement.paintedRows('s', 'r1')).toEqual([1]);
    expect(agreement.row('s', 'r1', 1, 0, 5).map((t) => [t.tx, [...t.data], t.pixels])).toEqual([[2, [1, 2, 3], '{"1":4}']]);
    expect(agreement.stamp('s', 'r1')).toBe(`${seq}/1`);
    expect(agreement.stamp('s', 'nobody')).toBe('0/0');
  });
});
