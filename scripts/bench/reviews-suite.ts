/**
 * What reviews cost (issue 14), in-process on a store file like the
 * server's: (1) the review guard in the annotation write path — batches of
 * 1,000 updates with the guard on and off, alternating in one run (the
 * guard's lookup runs once per changed object, inside the write's
 * transaction); (2) one reviewer decision (accept: version check, event,
 * audit record, commit); (3) project progress and a queue page over a slide
 * of BENCH_REVIEW_OBJECTS objects (default 50,000), a tenth of them
 * submitted and a tenth of those accepted. The connection commits with
 * synchronous=NORMAL, as the server's own connection does (it syncs the
 * journal once per group of answers: store/wal-sync.ts), so the figures are
 * the work, not the disk's flush time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AnnotationInput } from '../../src/core/annotation.js';
import { AuditLog } from '../../tiles-server/audit/audit-log.js';
import { ReviewService } from '../../tiles-server/review-service.js';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import { SqliteAuditStore } from '../../tiles-server/store/audit-store.js';
import { openDatabase } from '../../tiles-server/store/database.js';
import { ReviewStore } from '../../tiles-server/store/reviews.js';
import type { Emit } from './tiles-suite.js';

const OBJECTS = Number(process.env['BENCH_REVIEW_OBJECTS'] ?? 50_000);
const ROUNDS = Number(process.env['BENCH_REVIEW_ROUNDS'] ?? 10);
const BATCH = 1000;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};
const median = (xs: number[]): number => quantile(xs, 0.5);
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function cell(i: number): AnnotationInput {
  const x = (i % 500) * 40;
  const y = Math.floor(i / 500) * 40;
  return {
    id: randomUUID(),
    kind: 'polygon',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [x, y],
          [x + 20, y],
          [x + 20, y + 20],
          [x, y + 20],
          [x, y],
        ],
      ],
    },
    classification: i % 3 === 0 ? 'Tumour' : 'Stroma',
    name: null,
    note: null,
    locked: false,
    objectType: 'detection',
    properties: {},
  };
}

export async function reviewsSuite(_root: string, emit: Emit): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wsi-bench-reviews-'));
  try {
    const db = openDatabase(join(dir, 'wsi.db'));
    db.pragma('synchronous = NORMAL');
    const annotations = new AnnotationStore(db);
    const audit = new AuditLog(new SqliteAuditStore(db), dir);
    const slide = 'benchslide';
    const project = 'benchproject';
    const access = { slidesOf: async () => [{ id: slide }], store: { membersOf: async () => [] }, invalidate: () => undefined };
    const service = new ReviewService({
      db,
      store: new ReviewStore(db),
      annotations,
      access: access as never,
      folderSlides: () => [slide],
      audit: (e) => void audit.append([e]),
    });
    const authors = ['u-ann', 'u-bob', 'u-cy', 'u-dee'];
    const ids: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < OBJECTS; i += BATCH) {
      const n = Math.min(BATCH, OBJECTS - i);
      const batch = Array.from({ length: n }, (_, j) => cell(i + j));
      const author = authors[(i / BATCH) % authors.length] as string;
      annotations.applyBatch(slide, randomUUID(), author, batch.map((annotation) => ({ op: 'create' as const, annotation })));
      ids.push(...batch.map((a) => a.id));
    }
    emit({ suite: 'reviews', metric: 'setup', objects: OBJECTS, ms: Math.round(performance.now() - t0) });
    annotations.writeGuards.push(service.annotationGuard);
    const principal = (id: string): never => ({ user: { id } }) as never;
    const scope = { project: { id: project, blind: false, editingMode: 'classic' }, projectSlideId: slide, slideId: slide, role: 'reviewer', seesOthers: true } as never;
    // a tenth submitted by their authors
    const submitted: Array<{ id: string; version: number }> = [];
    for (let i = 0; i < ids.length; i += 10) {
      const a = annotations.get(ids[i] as string);
      if (!a) continue;
      const r = service.submit(scope, principal(a.createdBy), { object: a.id, version: 0 }, null);
      submitted.push({ id: r.item.id, version: r.item.version });
    }
    // (2) decisions: a tenth of the submitted accepted, one at a time
    const decide: number[] = [];
    for (const s of submitted.slice(0, Math.floor(submitted.length / 10))) {
      const t = performance.now();
      service.transition(scope, principal('u-rev'), s.id, { action: 'accept', version: s.version }, null);
      decide.push(performance.now() - t);
    }
    emit({ suite: 'reviews', metric: 'accept', decisions: decide.length, medianMs: round3(median(decide)), p95Ms: round3(quantile(decide, 0.95)) });

    // (1) the guard: the same 1,000-update batch shape with and without it, alternating
    const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
    const unreviewed = ids.filter((_, i) => i % 10 !== 0);
    let next = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // the order alternates too, so neither side always runs on a warmer cache
      for (const which of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        annotations.writeGuards.length = 0;
        if (which === 'on') annotations.writeGuards.push(service.annotationGuard);
        const chunk = unreviewed.slice(next, next + BATCH);
        next = (next + BATCH) % Math.max(BATCH, unreviewed.length - BATCH);
        const ops = chunk.map((id) => ({ op: 'update' as const, id, ifMatch: (annotations.get(id) as { version: number }).version, changes: { name: `r${round}` } }));
        const t = performance.now();
        const r = annotations.applyBatch(slide, randomUUID(), 'u-ann', ops);
        times[which].push(performance.now() - t);
        if (r.status !== 200) throw new Error(`bench batch refused: ${JSON.stringify(r.body).slice(0, 200)}`);
      }
    }
    annotations.writeGuards.length = 0;
    annotations.writeGuards.push(service.annotationGuard);
    const on = median(times.on);
    const off = median(times.off);
    emit({ suite: 'reviews', metric: 'update-batch', ops: BATCH, rounds: ROUNDS, guardOnMedianMs: round3(on), guardOffMedianMs: round3(off), ratio: round3(on / off), perOpOverheadUs: round3(((on - off) / BATCH) * 1000) });

    // (3) progress and a queue page
    const projectScope = { project: { id: project, blind: false, editingMode: 'classic', allSlides: false }, role: 'manager' } as never;
    const progress: number[] = [];
    const queue: number[] = [];
    for (let i = 0; i < 7; i++) {
      let t = performance.now();
      await service.progress(projectScope, principal('u-rev'));
      progress.push(performance.now() - t);
      t = performance.now();
      await service.queue(projectScope, new URLSearchParams({ limit: '100', class: 'Tumour' }));
      queue.push(performance.now() - t);
    }
    emit({ suite: 'reviews', metric: 'progress', objects: OBJECTS, medianMs: round3(median(progress)) });
    emit({ suite: 'reviews', metric: 'queue-page', limit: 100, medianMs: round3(median(queue)) });
    audit.close();
    db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
