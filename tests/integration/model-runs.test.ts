/**
 * Model runs, provenance and correction counting (issue 13), through HTTP:
 * a QuPath GeoJSON prediction file with scores is imported as a model run,
 * two people script accept / reject / relabel / edit / add actions through
 * the triage route and through the ordinary annotation write paths, and the
 * report's numbers must equal the script, counted independently here
 * (TEST-CATALOGUE AI-01; a label-only change is a correction, AI-02; undo
 * and redo of a rejection, AI-03; a retried import is one run, AI-05). The
 * other formats (HistomicsTK, COCO) carry their scores too, and bad input
 * (unknown runs, another slide's predictions, direct edits of a prediction,
 * malformed files, scores out of range) gets a 4xx with its code, never a
 * 500, and leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, bearer, createUser, signIn, type Session } from '../helpers/accounts.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let base = '';
let admin: Session;
let tina: Session;
let adminId = '';
let tinaId = '';
let slideA = '';
let slideB = '';
let slideC = '';

type Json = Record<string, unknown>;

function as(who: Session, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  return asSession(base, who, method, path, body, method === 'GET' ? extra : { 'Idempotency-Key': randomUUID(), ...extra });
}

/** Uploads a file as the admin (bearer token) and returns status and JSON body. */
async function upload(path: string, text: string, key = randomUUID()): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, ...bearer(base) }, body: text });
  const t = await res.text();
  let body: Json = {};
  try {
    body = JSON.parse(t) as Json;
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

async function newRun(slide: string, extra: Json = {}, key = randomUUID()): Promise<{ status: number; body: Json }> {
  return as(admin, 'POST', `/api/slides/${slide}/model-runs`, { model: { name: 'cellnet', version: '2.1.0' }, parameters: { threshold: 0.5, tile: 512 }, ...extra }, { 'Idempotency-Key': key });
}

function square(x: number, y: number, s: number): number[][][] {
  return [
    [
      [x, y],
      [x + s, y],
      [x + s, y + s],
      [x, y + s],
      [x, y],
    ],
  ];
}

const SIZE = 20;
const N = 1000;
const cellAt = (i: number): [number, number] => [100 + (i % 40) * 40, 100 + Math.floor(i / 40) * 40];
const modelClass = (i: number): string => (i % 2 === 0 ? 'Tumour' : 'Stroma');
const scoreOf = (i: number): number => Math.round(((i * 37) % 1000) / 10) / 100;

/** N scored predictions as QuPath GeoJSON (score in measurements), with their ids. */
function predictionFile(ids: string[]): string {
  const features = ids.map((id, i) => {
    const [x, y] = cellAt(i);
    return {
      type: 'Feature',
      id,
      geometry: { type: 'Polygon', coordinates: square(x, y, SIZE) },
      properties: { objectType: 'detection', classification: { name: modelClass(i), color: [200, 0, 0] }, measurements: { probability: scoreOf(i), area: SIZE * SIZE } },
    };
  });
  return JSON.stringify({ type: 'FeatureCollection', features });
}

beforeAll(async () => {
  server = await startTestServer(`${FIXTURES}/slides`);
  base = server.url;
  admin = server.session as Session;
  adminId = server.admin?.id ?? '';
  tinaId = (await createUser(base, admin, 'tina')).id;
  tina = await signIn(base, 'tina');
  const projects = (await as(admin, 'GET', '/api/projects')).body['projects'] as Array<{ id: string; name: string }>;
  const def = projects.find((p) => p.name === 'Default')?.id ?? '';
  expect((await as(admin, 'PUT', `/api/projects/${def}/members/${tinaId}`, { role: 'annotator' })).status).toBe(200);
  const slides = ((await as(admin, 'GET', '/api/slides')).body['slides'] as Array<{ id: string; status: string }>).filter((s) => s.status === 'ok').map((s) => s.id);
  [slideA, slideB, slideC] = slides as [string, string, string];
  expect(slideC).toBeTruthy();
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

/** What the script did to prediction i: its final state, final class, and the IoU its final outline should have. */
interface Scripted {
  state: 'untouched' | 'accepted' | 'edited' | 'relabelled' | 'both' | 'rejected';
  finalClass: string;
  by: string;
  iou?: number;
}

describe('a model run: import, triage through HTTP, and the report (AI-01, AI-02, AI-03, AI-05)', () => {
  const ids: string[] = Array.from({ length: N }, () => randomUUID());
  const script: Scripted[] = ids.map((_, i) => ({ state: 'untouched', finalClass: modelClass(i), by: '' }));
  let run = '';
  const predictionsKey = randomUUID();
  const runKey = randomUUID();

  it('creates one run for a retried request and imports the scored file once (AI-05)', async () => {
    const first = await newRun(slideA, {}, runKey);
    expect(first.status).toBe(201);
    run = first.body['id'] as string;
    const again = await newRun(slideA, {}, runKey);
    expect(again.status).toBe(201);
    expect(again.body['id']).toBe(run);
    expect(again.body['replayed']).toBe(true);
    expect(first.body).toMatchObject({ state: 'pending', model: { name: 'cellnet', version: '2.1.0' }, parameters: { threshold: 0.5, tile: 512 }, createdBy: adminId, objects: 0 });

    const file = predictionFile(ids);
    const imported = await upload(`/api/slides/${slideA}/model-runs/${run}/predictions?format=qupath-geojson`, file, predictionsKey);
    expect(imported.status, JSON.stringify(imported.body)).toBe(201);
    expect(imported.body).toMatchObject({ imported: N, modelRun: { id: run, scored: N, unscored: 0 } });
    const retry = await upload(`/api/slides/${slideA}/model-runs/${run}/predictions?format=qupath-geojson`, file, predictionsKey);
    // a retry is answered from the record of the first import (200, as any replayed import)
    expect(retry.status).toBe(200);
    expect(retry.body['replayed']).toBe(true);
    expect(retry.body['imported']).toBe(N);
    // a second file into the same run (another key) is refused: one file per run
    const other = await upload(`/api/slides/${slideA}/model-runs/${run}/predictions?format=qupath-geojson`, file);
    expect(other.status).toBe(409);
    expect(other.body['code']).toBe('MODEL_RUN_HAS_PREDICTIONS');

    const runs = (await as(admin, 'GET', `/api/slides/${slideA}/model-runs`)).body['runs'] as Json[];
    expect(runs.filter((r) => r['id'] === run)).toHaveLength(1);
    expect(runs).toHaveLength(1);
    const got = (await as(admin, 'GET', `/api/slides/${slideA}/model-runs/${run}`)).body;
    expect(got).toMatchObject({ state: 'imported', objects: N, importedBy: adminId, format: 'qupath-geojson' });
    const list = (await as(admin, 'GET', `/api/slides/${slideA}/annotations?limit=5000`)).body;
    expect(list['total']).toBe(N);
  });

  it('keeps each prediction read-only with its class, score and provenance', async () => {
    for (const i of [0, 1, 537, 999]) {
      const a = (await as(admin, 'GET', `/api/slides/${slideA}/annotations/${ids[i]}`)).body;
      expect(a).toMatchObject({ id: ids[i], classification: modelClass(i), score: scoreOf(i), source: run, parent: null, readOnly: true });
    }
    // editing a model object directly is refused, whichever write path is used
    const id = ids[600] as string;
    const patch = await as(admin, 'PATCH', `/api/slides/${slideA}/annotations/${id}`, { classification: 'Stroma' }, { 'If-Match': '"1"' });
    expect(patch.status).toBe(409);
    expect(patch.body['code']).toBe('MODEL_OBJECT_READ_ONLY');
    const del = await as(admin, 'DELETE', `/api/slides/${slideA}/annotations/${id}`, undefined, { 'If-Match': '"1"' });
    expect(del.body['code']).toBe('MODEL_OBJECT_READ_ONLY');
    const batch = await as(admin, 'POST', `/api/slides/${slideA}/annotations/batch`, { ops: [{ op: 'update', id, ifMatch: 1, changes: { geometry: { type: 'Polygon', coordinates: square(0, 0, 5) } } }] });
    expect(batch.status).toBe(409);
    expect(batch.body['code']).toBe('MODEL_OBJECT_READ_ONLY');
    // provenance cannot be forged: a created object is manual, whatever it claims
    const forged = await as(admin, 'POST', `/api/slides/${slideC}/annotations`, { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates: square(5, 5, 5) }, source: run, parent: ids[1], readOnly: true });
    expect(forged.status).toBe(201);
    const f = (await as(admin, 'GET', `/api/slides/${slideC}/annotations/${forged.body['id'] as string}`)).body;
    expect(f).toMatchObject({ source: 'manual', parent: null });
    expect(f['readOnly']).toBeUndefined();
  });

  it('counts exactly what two people did, through the triage route and the plain write paths', async () => {
    const review = async (who: Session, ops: Json[]): Promise<Json> => {
      const r = await as(who, 'POST', `/api/slides/${slideA}/model-runs/${run}/review`, { ops });
      expect(r.status, JSON.stringify(r.body).slice(0, 400)).toBe(200);
      return r.body;
    };
    const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, k) => a + k);
    const corrected = new Map<number, { id: string; version: number }>();
    const remember = (body: Json): void => {
      for (const c of body['corrections'] as Array<{ prediction: string; corrected: string; version: number }>) corrected.set(ids.indexOf(c.prediction), { id: c.corrected, version: c.version });
    };

    // admin accepts 310 (10 of them are relabelled later by tina: a label-only change, AI-02)
    remember(await review(admin, range(0, 310).map((i) => ({ prediction: ids[i], action: 'accept' }))));
    for (const i of range(0, 300)) script[i] = { state: 'accepted', finalClass: modelClass(i), by: adminId };
    // admin rejects 95
    remember(await review(admin, range(310, 405).map((i) => ({ prediction: ids[i], action: 'reject' }))));
    for (const i of range(310, 405)) script[i] = { state: 'rejected', finalClass: modelClass(i), by: adminId };
    // admin accepts 5 that tina then deletes with the plain DELETE route: rejected, by tina
    remember(await review(admin, range(405, 410).map((i) => ({ prediction: ids[i], action: 'accept' }))));
    for (const i of range(405, 410)) {
      const c = corrected.get(i) as { id: string; version: number };
      const r = await as(tina, 'DELETE', `/api/slides/${slideA}/annotations/${c.id}`, undefined, { 'If-Match': `"${c.version}"` });
      expect(r.status).toBe(200);
      script[i] = { state: 'rejected', finalClass: modelClass(i), by: tinaId };
    }
    // tina relabels 40 through the triage route
    remember(await review(tina, range(410, 450).map((i) => ({ prediction: ids[i], action: 'relabel', classification: 'Necrosis' }))));
    for (const i of range(410, 450)) script[i] = { state: 'relabelled', finalClass: 'Necrosis', by: tinaId };
    // ...and changes only the class of 10 accepted ones with a plain PATCH (AI-02: never counted as accepted)
    for (const i of range(300, 310)) {
      const c = corrected.get(i) as { id: string; version: number };
      const r = await as(tina, 'PATCH', `/api/slides/${slideA}/annotations/${c.id}`, { classification: 'Lymphocytes' }, { 'If-Match': `"${c.version}"` });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      script[i] = { state: 'relabelled', finalClass: 'Lymphocytes', by: tinaId };
    }
    // tina edits 40 outlines through the triage route (moved 5 px: IoU 15·20 / (800 − 300) = 0.6)
    remember(
      await review(
        tina,
        range(450, 490).map((i) => {
          const [x, y] = cellAt(i);
          return { prediction: ids[i], action: 'edit', geometry: { type: 'Polygon', coordinates: square(x + 5, y, SIZE) } };
        }),
      ),
    );
    for (const i of range(450, 490)) script[i] = { state: 'edited', finalClass: modelClass(i), by: tinaId, iou: 0.6 };
    // ...and 10 by creating the corrected object herself in a plain batch, with "parent" (moved 10 px: IoU 200 / 600)
    const batch = await as(tina, 'POST', `/api/slides/${slideA}/annotations/batch`, {
      ops: range(490, 500).map((i) => {
        const [x, y] = cellAt(i);
        return { op: 'create', parent: ids[i], annotation: { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates: square(x, y + 10, SIZE) }, classification: modelClass(i) } };
      }),
    });
    expect(batch.status, JSON.stringify(batch.body).slice(0, 300)).toBe(200);
    for (const i of range(490, 500)) script[i] = { state: 'edited', finalClass: modelClass(i), by: tinaId, iou: 1 / 3 };
    // tina changes outline and class of 20 (moved 4 px in x and y: IoU 256 / 544)
    remember(
      await review(
        tina,
        range(500, 520).map((i) => {
          const [x, y] = cellAt(i);
          return { prediction: ids[i], action: 'edit', classification: 'Other', geometry: { type: 'Polygon', coordinates: square(x + 4, y + 4, SIZE) } };
        }),
      ),
    );
    for (const i of range(500, 520)) script[i] = { state: 'both', finalClass: 'Other', by: tinaId, iou: 256 / 544 };

    // AI-03: admin undoes one rejection with the plain restore route, then rejects again through triage
    const undone = corrected.get(320) as { id: string; version: number };
    const restored = await as(admin, 'POST', `/api/slides/${slideA}/annotations/${undone.id}/restore`, undefined, { 'If-Match': `"${undone.version}"` });
    expect(restored.status, JSON.stringify(restored.body)).toBe(200);
    const mid = (await as(admin, 'GET', `/api/slides/${slideA}/model-runs/${run}/report`)).body as { counts: Json };
    expect(mid.counts['rejected']).toBe(99);
    expect(mid.counts['accepted']).toBe(301);
    const redo = await as(admin, 'POST', `/api/slides/${slideA}/model-runs/${run}/review`, { ops: [{ prediction: ids[320], action: 'reject', ifMatch: restored.body['version'] }] });
    expect(redo.status, JSON.stringify(redo.body)).toBe(200);
    const history = (await as(admin, 'GET', `/api/slides/${slideA}/annotations/${undone.id}/history`)).body['history'] as Array<{ op: string }>;
    expect(history.map((h) => h.op)).toEqual(['create', 'delete', 'restore', 'delete']);

    // tina adds 30 cells by hand inside an area she marked checked, and 5 outside it (not misses)
    const area = await as(tina, 'POST', `/api/slides/${slideA}/model-runs/${run}/checked-areas`, { geometry: { type: 'Polygon', coordinates: square(2000, 2000, 1000) } });
    expect(area.status, JSON.stringify(area.body)).toBe(201);
    const manual = (x: number, y: number, cls: string): Json => ({ op: 'create', annotation: { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates: square(x, y, 12) }, classification: cls } });
    const added = await as(tina, 'POST', `/api/slides/${slideA}/annotations/batch`, {
      ops: [...range(0, 30).map((k) => manual(2050 + (k % 6) * 100, 2050 + Math.floor(k / 6) * 100, k < 18 ? 'Tumour' : 'Lymphocytes')), ...range(0, 5).map((k) => manual(4000 + k * 50, 4000, 'Tumour'))],
    });
    expect(added.status).toBe(200);

    // the expected report, counted from the script
    const expected = { untouched: 0, accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0, missed: 30 };
    const perClass: Record<string, Json & Record<string, number>> = {};
    const matrix: Record<string, Record<string, number>> = {};
    const perAnnotator: Record<string, Record<string, number>> = {};
    const ious: number[] = [];
    script.forEach((s, i) => {
      expected[s.state]++;
      const c = (perClass[modelClass(i)] ??= { predictions: 0, untouched: 0, accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0, missed: 0 });
      c.predictions++;
      c[s.state]++;
      if (s.state === 'relabelled' || s.state === 'both') {
        const row = (matrix[modelClass(i)] ??= {});
        row[s.finalClass] = (row[s.finalClass] ?? 0) + 1;
      }
      if (s.state !== 'untouched') {
        const p = (perAnnotator[s.by] ??= { accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0, missed: 0 });
        p[s.state] = (p[s.state] ?? 0) + 1;
      }
      if (s.iou !== undefined) ious.push(s.iou);
    });
    (perClass['Tumour'] as Record<string, number>)['missed'] = 18;
    perClass['Lymphocytes'] = { predictions: 0, untouched: 0, accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0, missed: 12 };
    (perAnnotator[tinaId] as Record<string, number>)['missed'] = 30;
    // the catalogue's figures (AI-01), as the script meant them
    expect(expected).toEqual({ untouched: 480, accepted: 300, edited: 50, relabelled: 50, both: 20, rejected: 100, missed: 30 });

    const report = await as(admin, 'GET', `/api/slides/${slideA}/model-runs/${run}/report`);
    expect(report.status).toBe(200);
    const r = report.body as {
      predictions: number;
      counts: Json;
      corrected: number;
      perClass: Record<string, Json>;
      relabelMatrix: Json;
      perAnnotator: Json;
      iou: { objects: number; mean: number; min: number; max: number; unmeasured: number };
      checkedAreas: number;
    };
    expect(r.predictions).toBe(N);
    expect(r.counts).toEqual(expected);
    expect(r.corrected).toBe(50 + 50 + 20 + 100);
    for (const [cls, want] of Object.entries(perClass)) expect(r.perClass[cls], cls).toMatchObject(want);
    expect(r.relabelMatrix).toEqual(matrix);
    expect(r.perAnnotator).toEqual(perAnnotator);
    expect(r.checkedAreas).toBe(1);
    expect(r.iou.objects).toBe(70);
    expect(r.iou.unmeasured).toBe(0);
    expect(r.iou.mean).toBeCloseTo(ious.reduce((s, v) => s + v, 0) / ious.length, 9);
    expect(r.iou.min).toBeCloseTo(1 / 3, 9);
    expect(r.iou.max).toBeCloseTo(0.6, 9);
    // the report page's histogram: the same IoUs per tenth
    const bins = new Array<number>(10).fill(0);
    for (const v of ious) bins[Math.min(9, Math.floor(v * 10 + 1e-9))]++;
    expect((r.iou as unknown as { histogram: number[] }).histogram).toEqual(bins);
  });

  it('follows the final state: accepting a relabelled object again makes it accepted, withdrawing the area removes the misses', async () => {
    const d = (await as(tina, 'POST', `/api/slides/${slideA}/model-runs/${run}/review`, { ops: [{ prediction: ids[415], action: 'accept' }] })).body;
    // a corrected object exists: the triage route wants its version
    expect(d['code']).toBe('PRECONDITION_REQUIRED');
    const child = (await as(admin, 'GET', `/api/slides/${slideA}/annotations?limit=5000`)).body['annotations'] as Array<{ id: string; parent: string | null; version: number }>;
    const c = child.find((a) => a.parent === ids[415]) as { id: string; version: number };
    const stale = await as(tina, 'POST', `/api/slides/${slideA}/model-runs/${run}/review`, { ops: [{ prediction: ids[415], action: 'accept', ifMatch: c.version + 7 }] });
    expect(stale.status).toBe(412);
    const key = randomUUID();
    const ok = await as(tina, 'POST', `/api/slides/${slideA}/model-runs/${run}/review`, { ops: [{ prediction: ids[415], action: 'accept', ifMatch: c.version }] }, { 'Idempotency-Key': key });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((ok.body['corrections'] as Json[])[0]).toMatchObject({ prediction: ids[415], corrected: c.id, state: 'accepted' });
    // the same request retried (a lost answer) is answered from its record, not refused as stale
    const retried = await as(tina, 'POST', `/api/slides/${slideA}/model-runs/${run}/review`, { ops: [{ prediction: ids[415], action: 'accept', ifMatch: c.version }] }, { 'Idempotency-Key': key });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body).toMatchObject({ replayed: true, results: ok.body['results'] });
    // each model object says its state
    const stateOf = async (id: string): Promise<unknown> => (await as(admin, 'GET', `/api/slides/${slideA}/annotations/${id}`)).body['correction'];
    expect(await stateOf(ids[415] as string)).toBe('accepted');
    expect(await stateOf(c.id)).toBe('accepted');
    expect(await stateOf(ids[999] as string)).toBe('untouched');
    expect(await stateOf(ids[505] as string)).toBe('both');
    expect(await stateOf(ids[305] as string)).toBe('relabelled');
    expect(await stateOf(ids[312] as string)).toBe('rejected');
    const areas = (await as(admin, 'GET', `/api/slides/${slideA}/model-runs/${run}/checked-areas`)).body['areas'] as Array<{ id: string }>;
    expect(areas).toHaveLength(1);
    expect((await as(tina, 'DELETE', `/api/slides/${slideA}/model-runs/${run}/checked-areas/${areas[0]?.id as string}`)).status).toBe(200);
    const r = (await as(admin, 'GET', `/api/slides/${slideA}/model-runs/${run}/report`)).body as { counts: Json };
    expect(r.counts).toMatchObject({ accepted: 301, relabelled: 49, missed: 0 });
    // the layers of the list: 520 predictions acted on (100 of them rejected), 35 objects drawn by hand
    const count = async (layer: string): Promise<number> => ((await as(admin, 'GET', `/api/slides/${slideA}/annotations?limit=5000&layer=${layer}`)).body['annotations'] as Json[]).length;
    expect(await count('model')).toBe(N);
    expect(await count('corrected')).toBe(420);
    expect(await count('manual')).toBe(35);
    expect(await count('working')).toBe(35 + 420 + 480);
    expect(await count('all')).toBe(N + 420 + 35);
    // the corrected set exported with its provenance in QuPath GeoJSON properties
    const exported = await fetch(`${base}/api/slides/${slideA}/annotations/export?format=qupath-geojson&layer=working`, { headers: bearer(base) });
    expect(exported.status).toBe(200);
    const features = ((await exported.json()) as { features: Array<{ id: string; properties: Json }> }).features;
    expect(features).toHaveLength(35 + 420 + 480);
    const byId = new Map(features.map((f) => [f.id, f.properties]));
    expect(byId.get(ids[900] as string)?.['provenance']).toEqual({ source: run, parent: null, score: scoreOf(900), correction: 'untouched' });
    const edited = features.find((f) => (f.properties['provenance'] as Json | undefined)?.['parent'] === ids[450]);
    expect(edited?.properties['provenance']).toEqual({ source: run, parent: ids[450], correction: 'edited' });
    expect(byId.has(ids[450] as string)).toBe(false);
    expect(features.filter((f) => f.properties['provenance'] === undefined)).toHaveLength(35);
    const bad = await as(admin, 'GET', `/api/slides/${slideA}/annotations?layer=predictions`);
    expect(bad.status).toBe(400);
    expect(bad.body['code']).toBe('BAD_REQUEST');
  });

  it('records every model-run request in the audit log', async () => {
    const audit = (await as(admin, 'GET', `/api/audit?object=${slideA}&limit=1000`)).body['records'] as Array<{ action: string; detail: unknown }>;
    const routes = new Map<string, Set<string>>();
    for (const a of audit) {
      const detail = (typeof a.detail === 'string' ? JSON.parse(a.detail) : a.detail) as { route?: string };
      if (!detail?.route?.includes('/model-runs')) continue;
      const set = routes.get(a.action) ?? new Set<string>();
      set.add(detail.route);
      routes.set(a.action, set);
    }
    expect([...(routes.get('change') ?? [])].sort()).toEqual(
      ['POST /api/slides/*/model-runs', 'POST /api/slides/*/model-runs/*/predictions', 'POST /api/slides/*/model-runs/*/review', 'POST /api/slides/*/model-runs/*/checked-areas', 'DELETE /api/slides/*/model-runs/*/checked-areas/*'].sort(),
    );
    expect([...(routes.get('download') ?? [])]).toEqual(['GET /api/slides/*/model-runs/*/report']);
    expect([...(routes.get('read') ?? [])].sort()).toEqual(['GET /api/slides/*/model-runs', 'GET /api/slides/*/model-runs/*', 'GET /api/slides/*/model-runs/*/checked-areas'].sort());
  });
});

describe('prediction formats and their scores', () => {
  it('reads HistomicsTK element scores (user data) and COCO scores, categories and boxes', async () => {
    const run = (await newRun(slideB)).body['id'] as string;
    const htk = {
      annotation: {
        name: 'cells',
        elements: [
          { type: 'polyline', closed: true, points: [[10, 10, 0], [40, 10, 0], [40, 40, 0]], group: 'Tumour', user: { score: 0.25 } },
          { type: 'rectangle', center: [100, 100, 0], width: 20, height: 10, rotation: 0, group: 'Stroma', user: { score: 0.75 } },
        ],
      },
    };
    const r1 = await upload(`/api/slides/${slideB}/model-runs/${run}/predictions?format=histomicstk-json`, JSON.stringify(htk));
    expect(r1.status, JSON.stringify(r1.body)).toBe(201);
    expect(r1.body).toMatchObject({ imported: 2, modelRun: { scored: 2, unscored: 0 } });
    const list = (await as(admin, 'GET', `/api/slides/${slideB}/annotations?limit=100`)).body['annotations'] as Array<Json>;
    const mine = list.filter((a) => a['source'] === run);
    expect(mine.map((a) => [a['classification'], a['score']]).sort()).toEqual([
      ['Stroma', 0.75],
      ['Tumour', 0.25],
    ]);

    const cocoRun = (await newRun(slideB, { scoreKey: 'score' })).body['id'] as string;
    const coco = {
      images: [{ id: 7, width: 1000, height: 1000 }],
      categories: [
        { id: 1, name: 'Tumour' },
        { id: 2, name: 'Lymphocytes' },
      ],
      annotations: [
        { id: 1, image_id: 7, category_id: 1, segmentation: [[0, 0, 30, 0, 30, 30, 0, 30]], score: 0.9 },
        { id: 2, image_id: 7, category_id: 2, bbox: [50, 50, 10, 20], score: 0.1 },
        { id: 3, image_id: 7, category_id: 2, segmentation: { counts: [0, 5], size: [10, 10] }, score: 0.5 },
      ],
    };
    const r2 = await upload(`/api/slides/${slideB}/model-runs/${cocoRun}/predictions?format=coco-json`, JSON.stringify(coco));
    expect(r2.status, JSON.stringify(r2.body)).toBe(201);
    expect(r2.body).toMatchObject({ imported: 2, modelRun: { scored: 2, scoreKey: 'score' } });
    expect((r2.body['skipped'] as Json[])[0]).toMatchObject({ where: 'annotations[2]' });
    const all = (await as(admin, 'GET', `/api/slides/${slideB}/annotations?limit=100`)).body['annotations'] as Array<Json>;
    const cocoObjects = all.filter((a) => a['source'] === cocoRun);
    expect(cocoObjects.map((a) => [a['classification'], a['kind'], a['score']]).sort()).toEqual([
      ['Lymphocytes', 'rectangle', 0.1],
      ['Tumour', 'polygon', 0.9],
    ]);
  });

  it('answers 202 at once with Prefer: respond-async, and the import can be followed to its end', async () => {
    const run = (await newRun(slideB)).body['id'] as string;
    const key = randomUUID();
    const features = Array.from({ length: 50 }, (_, i) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [i, i] }, properties: { classification: { name: 'Tumour' }, score: i / 50 } }));
    const res = await fetch(`${base}/api/slides/${slideB}/model-runs/${run}/predictions?format=qupath-geojson`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, Prefer: 'respond-async', ...bearer(base) },
      body: JSON.stringify({ type: 'FeatureCollection', features }),
    });
    expect(res.status).toBe(202);
    const where = res.headers.get('location') as string;
    expect(where).toBe(`/api/slides/${slideB}/annotations/import/${key}`);
    await res.text();
    let state = '';
    for (let i = 0; i < 100 && state !== 'done'; i++) {
      const p = await as(admin, 'GET', where);
      state = p.body['state'] as string;
      if (state !== 'done') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('done');
    expect((await as(admin, 'GET', `/api/slides/${slideB}/model-runs/${run}`)).body).toMatchObject({ state: 'imported', objects: 50 });
  });

  it('reads the score under a configured key, in QuPath measurement lists too', async () => {
    const run = (await newRun(slideB, { scoreKey: 'Detection probability' })).body['id'] as string;
    const file = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', geometry: { type: 'Point', coordinates: [5, 5] }, properties: { classification: { name: 'Tumour' }, measurements: [{ name: 'Detection probability', value: 0.42 }] } },
        { type: 'Feature', geometry: { type: 'Point', coordinates: [6, 6] }, properties: { classification: { name: 'Tumour' } } },
      ],
    };
    const r = await upload(`/api/slides/${slideB}/model-runs/${run}/predictions?format=qupath-geojson`, JSON.stringify(file));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ modelRun: { scored: 1, unscored: 1, scoreKey: 'Detection probability' } });
    expect((r.body['warnings'] as string[]).some((w) => w.includes('no score'))).toBe(true);
  });
});

describe('bad input gets a 4xx with its code and leaves nothing behind', () => {
  let run = '';
  let otherRun = '';
  let otherPrediction = '';
  let manualId = '';
  let prediction = '';
  const point = (score: unknown, extra: Json = {}): Json => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [1, 1] }, properties: { classification: { name: 'Tumour' }, ...(score === undefined ? {} : { probability: score }), ...extra } });
  const fc = (...features: Json[]): string => JSON.stringify({ type: 'FeatureCollection', features });

  beforeAll(async () => {
    run = (await newRun(slideC)).body['id'] as string;
    otherRun = (await newRun(slideB)).body['id'] as string;
    const o = await upload(`/api/slides/${slideB}/model-runs/${otherRun}/predictions?format=qupath-geojson`, fc(point(0.5)));
    expect(o.status).toBe(201);
    const b = (await as(admin, 'GET', `/api/slides/${slideB}/annotations?limit=1000`)).body['annotations'] as Json[];
    otherPrediction = b.find((a) => a['source'] === otherRun)?.['id'] as string;
    manualId = (await as(admin, 'POST', `/api/slides/${slideC}/annotations`, { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [3, 3] } })).body['id'] as string;
  });

  it('refuses malformed prediction files and scores out of range or not numbers (nothing is imported)', async () => {
    const before = (await as(admin, 'GET', `/api/slides/${slideC}/annotations?limit=1`)).body['total'];
    const cases: Array<[string, string, string]> = [
      ['qupath-geojson', '{"type":"FeatureCollection","features":[{"type":"Feature",', 'IMPORT_INVALID'],
      ['qupath-geojson', fc(point(0.5), point(1.5)), 'IMPORT_INVALID'],
      ['qupath-geojson', fc(point(-0.1)), 'IMPORT_INVALID'],
      ['qupath-geojson', fc(point('NaN')), 'IMPORT_INVALID'],
      ['qupath-geojson', fc(point(null, { measurements: { probability: 'high' } })), 'IMPORT_INVALID'],
      ['qupath-geojson', `${'['.repeat(5000)}${']'.repeat(5000)}`, 'IMPORT_INVALID'],
      ['coco-json', JSON.stringify({ categories: [{ id: 1, name: 'Tumour' }], annotations: [{ category_id: 9, bbox: [0, 0, 5, 5] }] }), 'IMPORT_INVALID'],
      ['coco-json', JSON.stringify({ annotations: [{ image_id: 1, category_id: 1, bbox: [0, 0, 5, 5] }, { image_id: 2, category_id: 1, bbox: [0, 0, 5, 5] }] }), 'IMPORT_INVALID'],
      ['coco-json', JSON.stringify({ annotations: [{ category_id: 1, segmentation: { counts: 'abc', size: [2, 2] } }] }), 'IMPORT_INVALID'],
      ['coco-json', JSON.stringify({ annotations: [{ category_id: 1, segmentation: [[0, 0, 5, 0, 5]] }] }), 'IMPORT_INVALID'],
      ['coco-json', JSON.stringify([{ category_id: 1, bbox: [0, 0, 5, 5], score: 3 }]), 'IMPORT_INVALID'],
      ['histomicstk-json', JSON.stringify({ elements: [{ type: 'point', center: [1, 1, 0], user: { score: 2 } }] }), 'IMPORT_INVALID'],
      ['shapefile', fc(point(0.5)), 'BAD_REQUEST'],
    ];
    for (const [format, text, code] of cases) {
      const r = await upload(`/api/slides/${slideC}/model-runs/${run}/predictions?format=${format}`, text);
      expect(r.status, `${format} ${text.slice(0, 80)}: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.body['code'], text.slice(0, 80)).toBe(code);
    }
    const after = (await as(admin, 'GET', `/api/slides/${slideC}/annotations?limit=1`)).body['total'];
    expect(after).toBe(before);
    expect((await as(admin, 'GET', `/api/slides/${slideC}/model-runs/${run}`)).body).toMatchObject({ state: 'pending', objects: 0 });
    // the run still takes a good file afterwards
    const good = await upload(`/api/slides/${slideC}/model-runs/${run}/predictions?format=qupath-geojson`, fc(point(0.5), point(0)));
    expect(good.status, JSON.stringify(good.body)).toBe(201);
    const list = (await as(admin, 'GET', `/api/slides/${slideC}/annotations?limit=100`)).body['annotations'] as Json[];
    prediction = list.find((a) => a['source'] === run)?.['id'] as string;
    expect(prediction).toBeTruthy();
  });

  it('takes one of two files sent at once into one run, and nothing of the other', async () => {
    const race = (await newRun(slideC)).body['id'] as string;
    const before = (await as(admin, 'GET', `/api/slides/${slideC}/annotations?limit=1`)).body['total'] as number;
    const files = [fc(point(0.1), point(0.2), point(0.3)), fc(point(0.4), point(0.5))];
    const answers = await Promise.all(files.map((f) => upload(`/api/slides/${slideC}/model-runs/${race}/predictions?format=qupath-geojson`, f)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses, JSON.stringify(answers.map((a) => a.body))).toEqual([201, 409]);
    const won = answers.find((a) => a.status === 201)?.body['imported'] as number;
    expect(answers.find((a) => a.status === 409)?.body['code']).toBe('MODEL_RUN_HAS_PREDICTIONS');
    expect((await as(admin, 'GET', `/api/slides/${slideC}/model-runs/${race}`)).body).toMatchObject({ state: 'imported', objects: won });
    // the loser's objects were discarded (they may take a moment: discards run in short transactions)
    const after = (await as(admin, 'GET', `/api/slides/${slideC}/annotations?limit=1`)).body['total'] as number;
    expect(after - before).toBe(won);
  });

  it('refuses bad run descriptions', async () => {
    for (const body of [{}, { model: { name: 'x' } }, { model: { name: '', version: '1' } }, { model: { name: 'x', version: '1' }, parameters: [1] }, { model: { name: 'x', version: '1' }, scoreKey: '../etc' }, { model: { name: 'x', version: '1' }, extra: 1 }]) {
      const r = await as(admin, 'POST', `/api/slides/${slideC}/model-runs`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body['code']).toBe('MODEL_RUN_INVALID');
    }
  });

  it('answers unknown runs, other slides\' runs and predictions, and bad triage with a code', async () => {
    const unknown = randomUUID();
    const cases: Array<[string, string, unknown, number, string]> = [
      ['GET', `/api/slides/${slideC}/model-runs/${unknown}`, undefined, 404, 'MODEL_RUN_NOT_FOUND'],
      ['GET', `/api/slides/${slideC}/model-runs/${unknown}/report`, undefined, 404, 'MODEL_RUN_NOT_FOUND'],
      ['POST', `/api/slides/${slideC}/model-runs/${unknown}/review`, { ops: [{ prediction, action: 'accept' }] }, 404, 'MODEL_RUN_NOT_FOUND'],
      // a run of another slide, addressed through this one
      ['GET', `/api/slides/${slideC}/model-runs/${otherRun}/report`, undefined, 404, 'MODEL_RUN_NOT_FOUND'],
      ['POST', `/api/slides/${slideC}/model-runs/${otherRun}/checked-areas`, { geometry: { type: 'Polygon', coordinates: square(0, 0, 5) } }, 404, 'MODEL_RUN_NOT_FOUND'],
      // another slide's prediction, a manual object, an unknown id
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction: otherPrediction, action: 'accept' }] }, 404, 'PREDICTION_NOT_FOUND'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction: manualId, action: 'reject' }] }, 404, 'PREDICTION_NOT_FOUND'],
      ['POST', `/api/slides/${slideC}/annotations/batch`, { ops: [{ op: 'create', parent: otherPrediction, annotation: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] } } }] }, 404, 'PREDICTION_NOT_FOUND'],
      ['POST', `/api/slides/${slideC}/annotations/batch`, { ops: [{ op: 'create', parent: manualId, annotation: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] } } }] }, 404, 'PREDICTION_NOT_FOUND'],
      ['POST', `/api/slides/${slideC}/annotations/batch`, { ops: [{ op: 'create', parent: '../x', annotation: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] } } }] }, 400, 'INVALID_ANNOTATION'],
      // malformed triage
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [] }, 400, 'BAD_REQUEST'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'approve' }] }, 400, 'BAD_REQUEST'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'relabel' }] }, 400, 'BAD_REQUEST'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'accept' }, { prediction, action: 'reject' }] }, 400, 'BAD_REQUEST'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'relabel', classification: 'Not a class' }] }, 400, 'INVALID_ANNOTATION'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'edit', geometry: { type: 'Polygon', coordinates: [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]] } }] }, 400, 'INVALID_ANNOTATION'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'edit', geometry: { type: 'Polygon', coordinates: [[[0, 0], [Number.MAX_VALUE, 0], [1, 1]]] } }] }, 400, 'INVALID_ANNOTATION'],
      ['POST', `/api/slides/${slideC}/model-runs/${run}/checked-areas`, { geometry: { type: 'Point', coordinates: [1, 1] } }, 400, 'INVALID_ANNOTATION'],
      ['DELETE', `/api/slides/${slideC}/model-runs/${run}/checked-areas/${unknown}`, undefined, 404, 'CHECKED_AREA_NOT_FOUND'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await as(admin, method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 120)}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body['code']).toBe(code);
    }
    // nothing of the refused triage was written
    const r = (await as(admin, 'GET', `/api/slides/${slideC}/model-runs/${run}/report`)).body as { counts: Json };
    expect(r.counts).toMatchObject({ untouched: 2, accepted: 0, rejected: 0 });
  });

  it('refuses a second corrected object for one prediction, triage by a viewer, and by a stranger', async () => {
    const make = (): Promise<{ status: number; body: Json }> =>
      as(admin, 'POST', `/api/slides/${slideC}/annotations/batch`, { ops: [{ op: 'create', parent: prediction, annotation: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] } } }] });
    expect((await make()).status).toBe(200);
    const second = await make();
    expect(second.status).toBe(409);
    expect(second.body['code']).toBe('ANNOTATION_EXISTS');
    // a viewer may read the report but not triage
    const vera = (await createUser(base, admin, 'vera')).id;
    const projects = (await as(admin, 'GET', '/api/projects')).body['projects'] as Array<{ id: string; name: string }>;
    expect((await as(admin, 'PUT', `/api/projects/${projects.find((p) => p.name === 'Default')?.id ?? ''}/members/${vera}`, { role: 'viewer' })).status).toBe(200);
    const v = await signIn(base, 'vera');
    const refused = await as(v, 'POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'accept' }] });
    expect(refused.status).toBe(403);
    expect(refused.body['code']).toBe('FORBIDDEN');
    expect((await as(v, 'POST', `/api/slides/${slideC}/model-runs`, { model: { name: 'x', version: '1' } })).status).toBe(403);
    expect((await as(v, 'GET', `/api/slides/${slideC}/model-runs/${run}/report`)).status).toBe(200);
    // someone in no project does not learn that the slide exists
    const stranger = (await createUser(base, admin, 'stranger')).id;
    expect(stranger).toBeTruthy();
    const s = await signIn(base, 'stranger');
    const r = await as(s, 'POST', `/api/slides/${slideC}/model-runs/${run}/review`, { ops: [{ prediction, action: 'accept' }] });
    expect(r.status).toBe(404);
    expect(r.body['code']).toBe('SLIDE_NOT_FOUND');
  });
});
