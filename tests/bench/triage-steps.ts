/**
 * Triage benchmark (issue 13), run by `npm run bench -- triage`
 * (scripts/bench/triage-suite.ts starts it with tsx: it loads the browser
 * code of the tool, which the server build does not compile): the triage tool's own work at BENCH_TRIAGE_CELLS
 * predictions (default 1,000,000), in Node on the client's store, spatial
 * index, undo and provenance, with the tool's panel template built each
 * step. It measures what the tool does between a key press and the next
 * object being current — not the browser's drawing, the network, nor
 * loading the predictions (the binary transport of issue 13 is separate):
 *
 * - queue: sorting the run's predictions by score and by position;
 * - step: accept (an untouched prediction: its acceptance queued), reject
 *   (a local delete), relabel (a class change), each followed by the move
 *   to the next undecided object and the panel's template; median and p95.
 */
import { randomUUID } from 'node:crypto';
import type { Geometry } from '../../src/core/annotation.js';
import type { FlatGeometry } from '../../src/core/flat-geometry.js';
import type { Prediction } from '../../src/services/model-run-api.js';
import { AnnotationStore, type AnnotationRecord } from '../../src/state/annotation-store.js';
import { ClassLayers } from '../../src/state/class-layers.js';
import { ModelProvenance } from '../../src/state/model-provenance.js';
import { Selection } from '../../src/state/selection.js';
import { SpatialIndex } from '../../src/state/spatial-index.js';
import { UndoManager } from '../../src/state/undo.js';
import type { ModelContext } from '../../src/tools/model-context.js';
import { toolSpec } from '../../src/tools/registry.js';
import type { ToolContext } from '../../src/tools/tool.js';
import { TriageTool } from '../../src/tools/triage-tool.js';
import { rng } from '../../scripts/bench/workloads.js';

type Emit = (r: Record<string, unknown>) => void;

const CELLS = Number(process.env['BENCH_TRIAGE_CELLS'] ?? 1_000_000);
const SIDE = 100_000;
const RUN = 'bench-run-0001';

function summary(values: number[]): { median: number; p95: number } {
  const s = [...values].sort((a, b) => a - b);
  return { median: +(s[Math.floor(s.length / 2)] as number).toFixed(3), p95: +(s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] as number).toFixed(3) };
}

function square(x: number, y: number, s: number): Geometry {
  return { type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] };
}

async function triageSteps(emit: Emit): Promise<void> {
  const r = rng(13);
  const store = new AnnotationStore();
  const index = new SpatialIndex(store);
  const prov = new ModelProvenance(store);
  const side = Math.ceil(Math.sqrt(CELLS));
  const pitch = SIDE / side;
  const preds: Prediction[] = [];
  const items: Array<{ record: Omit<AnnotationRecord, 'geometry'>; geometry: FlatGeometry }> = [];
  for (let k = 0; k < CELLS; k++) {
    const x = ((k % side) + 0.2) * pitch;
    const y = (Math.floor(k / side) + 0.2) * pitch;
    const g = square(x, y, 8);
    const cls = r() < 0.6 ? 'Tumour' : 'Stroma';
    const id = randomUUID();
    const score = Math.round(r() * 1000) / 1000;
    preds.push({ id, classification: cls, score, kind: 'polygon', geometry: g, version: 1 });
    items.push({ record: { id, kind: 'polygon', classification: cls, name: null, note: null, locked: false, objectType: 'detection', properties: {}, version: 1 }, geometry: { type: 4, coords: new Float64Array([x, y, x + 8, y, x + 8, y + 8, x, y + 8, x, y]), parts: new Uint32Array([5]) } });
  }
  store.bulkLoad(items);
  for (const p of preds) prov.note(store.handleOf(p.id) as number, { id: p.id, source: RUN, parent: null, score: p.score, readOnly: true });
  await index.rebuild();
  // as the sync engine's router does on every local change set: a prediction changed here gets its corrected object
  store.observe((cs) => {
    if (cs.origin !== 'local') return;
    for (const h of [...cs.created, ...cs.updated.map((u) => u.handle), ...cs.deleted.map((d) => d.handle)]) {
      const id = store.idOf(h);
      if (prov.isPrediction(id) && !prov.hasAlias(id)) prov.alias(id, randomUUID());
    }
  });
  const undo = new UndoManager(store);
  const selection = new Selection(store);
  let accepted = 0;
  const models: ModelContext = {
    api: { runs: async () => [{ id: RUN, modelName: 'bench', modelVersion: '1', state: 'imported', objects: CELLS, importedAt: null }], predictions: async () => preds } as unknown as ModelContext['api'],
    provenance: prov,
    accept: (ids) => {
      // as the router does: the prediction's corrected object is queued, the local object keeps its id
      for (const id of ids) prov.alias(id, randomUUID());
      accepted += ids.length;
      return ids.length;
    },
    flyTo: () => undefined,
    magnification: () => 20,
    saving: () => ({ status: 'saved', queued: 0, message: null }),
    reportPage: () => '',
  };
  const ctx = {
    store,
    index,
    selection,
    undo,
    imagePxPerScreenPx: () => 2,
    visibleBox: () => ({ x0: 0, y0: 0, x1: 2000, y1: 1200 }),
    mpp: () => 0.25,
    currentClass: () => 'Tumour',
    currentPaletteClass: () => undefined,
    palette: () => [
      { name: 'Tumour', color: '#c8102e', hotkey: 't' },
      { name: 'Stroma', color: '#f28e2b', hotkey: 's' },
    ],
    commit: (edit, label) => store.apply(edit, 'local', label),
    redraw: () => undefined,
    hide: () => undefined,
    newRecord: () => {
      throw new Error('not used');
    },
    panelChanged: () => undefined,
    notify: () => undefined,
    mask: null,
    paint: null as never,
    maskShown: async () => 0,
    models,
    review: null,
    layers: new ClassLayers(),
  } as ToolContext;
  const tool = new TriageTool(ctx);
  const panel = toolSpec('triage')?.panel;
  let t0 = performance.now();
  await tool.selectRun(RUN);
  emit({ suite: 'triage', metric: 'queue-load-and-sort-by-score', cells: CELLS, ms: +(performance.now() - t0).toFixed(1) });
  t0 = performance.now();
  tool.mode = 'position';
  tool.rebuild();
  emit({ suite: 'triage', metric: 'resort-by-position', cells: CELLS, ms: +(performance.now() - t0).toFixed(1) });
  tool.mode = 'score';
  tool.rebuild();
  tool.go(0);

  const step = (name: string, reps: number, act: () => void): void => {
    const ms: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      act();
      panel?.(tool, ctx);
      ms.push(performance.now() - t);
    }
    emit({ suite: 'triage', metric: `step-${name}`, cells: CELLS, ms: summary(ms), runs: reps, note: 'the tool in Node: decision, states and counts, next object, panel template; not drawing, not the network' });
  };
  step('accept', 300, () => tool.decide('accept'));
  step('reject', 300, () => tool.decide('reject'));
  step('relabel', 300, () => tool.decide('relabel', 'Stroma'));
  step('next', 300, () => tool.next());
  const done = [...tool.progress.values()].reduce((n, p) => n + p.done, 0);
  emit({ suite: 'triage', metric: 'check', cells: CELLS, decided: done, accepted, expectedDecided: 900 });
}

await triageSteps((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
