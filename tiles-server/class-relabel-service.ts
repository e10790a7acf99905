/**
 * Merging a class into another, or renaming one, with what carries it: on
 * every slide of the project, each live object of the class becomes a new
 * version with the other class (the annotation write path, so review locks
 * hold and the history can restore the old one), and each mask tile holding
 * its pixels (every reader's mask) becomes a new tile version with those
 * pixels relabelled (the mask history keeps the old one). The palette
 * changes in the same transaction: a merge removes the class, a rename puts
 * the new name in its place, with its colour, hotkey and position. A mask id
 * means one name on the whole server (store/project-palettes.ts), so a
 * rename gives the new name its own id and relabels the pixels to it.
 *
 * Two steps: `prepare` reads and recodes outside the write transaction
 * (tiles are inflated and compressed on the thread pool), `commit` writes
 * all of it in one transaction, each write conditional on the version read,
 * so an edit made in between refuses the whole operation (409
 * CLASS_RELABEL_CONFLICT) and nothing changes. The answer is kept under
 * the request's Idempotency-Key in the same transaction: a retry with the
 * key replays it (the class it names is gone by then, so preparing again
 * would answer 404), and the key sent with another request is refused.
 */
import type { AnnotationClass } from '../src/core/annotation.js';
import { createHash } from 'node:crypto';
import { WsiError, isErrorCode } from '../src/core/errors.js';
import { countsJson, deflateTile, histogram, inflateTile } from './masks/tile-codec.js';
import type { AnnotationStore, RegisteredClass } from './store/annotation-store.js';
import { ClassRelabelQueries } from './store/class-relabel.js';
import { writeTransaction, type Db } from './store/database.js';
import type { Project } from './store/identity-store.js';
import { MaskOpError, type MaskStore } from './store/mask-store.js';

export interface RelabelRequest {
  from: string;
  /** Merge: the class that takes the objects and pixels (in the palette). */
  into?: string;
  /** Rename: the new name (not in the palette). */
  rename?: string;
}

interface TilePlan {
  annotator: string;
  tx: number;
  ty: number;
  version: number;
  data: Buffer;
  pixels: string;
  relabelled: number;
}

interface SlidePlan {
  slideId: string;
  objects: Array<{ id: string; version: number }>;
  predictions: number;
  tiles: TilePlan[];
}

export interface RelabelPlan {
  projectId: string;
  mode: 'merge' | 'rename';
  from: RegisteredClass;
  /** The class name objects and pixels get. */
  target: string;
  targetId: number;
  palette: AnnotationClass[];
  slides: SlidePlan[];
  /** The request it answers (its Idempotency-Key is kept with a hash of it). */
  request: RelabelRequest;
}

export interface RelabelAnswer {
  mode: 'merge' | 'rename';
  from: { name: string; id: number | null };
  to: { name: string; id: number };
  slides: number;
  objects: number;
  /** Model predictions of the class: read-only, left as they are. */
  predictionsLeft: number;
  tiles: number;
  pixels: number;
  classes: RegisteredClass[];
}

export interface ClassRelabelDeps {
  db: Db;
  annotations: AnnotationStore;
  masks: MaskStore;
  /** The mask write path's review lock (review-service.ts maskGuard). */
  maskGuard: (slideId: string, annotator: string, tiles: ReadonlyArray<{ tx: number; ty: number }> | null) => void;
  /** The project-slide ids of a project. */
  projectSlides: (project: Project) => Promise<string[]>;
  /** A slide's masks changed (caches of counts, the agreement jobs). */
  onMaskChange: (slideId: string) => void;
}

const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Reads {from, into} or {from, rename}: a clear 400 for anything else. */
export function parseRelabel(body: unknown): RelabelRequest {
  const o = (body ?? {}) as Record<string, unknown>;
  const from = o['from'];
  if (typeof from !== 'string' || from.trim() === '') throw new WsiError('BAD_REQUEST', 'send {"from": "<class>", "into": "<class>"} to merge, or {"from": "<class>", "rename": "<new name>"} to rename');
  const into = o['into'];
  const rename = o['rename'];
  if ((into === undefined) === (rename === undefined)) throw new WsiError('BAD_REQUEST', 'give exactly one of "into" (merge) and "rename"');
  if (into !== undefined && (typeof into !== 'string' || into.trim() === '')) throw new WsiError('BAD_REQUEST', '"into" must be the name of a class of the palette');
  if (rename !== undefined && (typeof rename !== 'string' || rename.trim() === '' || rename.trim().length > 100)) throw new WsiError('BAD_REQUEST', '"rename" must be a name of 1–100 characters');
  return { from: from.trim(), ...(into !== undefined ? { into: (into as string).trim() } : {}), ...(rename !== undefined ? { rename: (rename as string).trim() } : {}) };
}

export class ClassRelabelService {
  private readonly queries: ClassRelabelQueries;

  constructor(private readonly d: ClassRelabelDeps) {
    this.queries = new ClassRelabelQueries(d.db);
  }

  /** The answer already given to this operation id and request, or null; the key used for another request is refused. */
  replay(project: Project, opId: string, req: RelabelRequest): RelabelAnswer | null {
    const prior = this.queries.priorOp(opId, opScope(project.id), requestHash(project.id, req));
    if (prior === 'reused') throw new WsiError('IDEMPOTENCY_KEY_REUSED', `operation id ${opId} was already used for a different request`);
    return prior ? (prior.body as unknown as RelabelAnswer) : null;
  }

  /** Checks the request against the palette and reads what would change (nothing is written). */
  async prepare(project: Project, req: RelabelRequest, signal?: AbortSignal): Promise<RelabelPlan> {
    const palette = this.d.annotations.palettes.of(project.id);
    const from = palette.find((c) => c.name === req.from);
    if (!from) throw new WsiError('CLASS_NOT_FOUND', `this project's palette has no class "${req.from}"`, { name: req.from });
    let target: string;
    let next: AnnotationClass[];
    const plain = palette.map(({ name, color, hotkey }) => ({ name, color, hotkey }));
    if (req.into !== undefined) {
      if (same(req.into, req.from)) throw new WsiError('BAD_REQUEST', `a class cannot be merged into itself ("${req.from}")`);
      const into = palette.find((c) => c.name === req.into);
      if (!into) throw new WsiError('CLASS_NOT_FOUND', `this project's palette has no class "${req.into}" to merge into`, { name: req.into });
      target = into.name;
      next = plain.filter((c) => c.name !== from.name);
    } else {
      const name = req.rename as string;
      if (name === from.name) throw new WsiError('BAD_REQUEST', `"${name}" is the class's name already`);
      const taken = palette.find((c) => same(c.name, name) && c.name !== from.name);
      if (taken) throw new WsiError('PALETTE_DUPLICATE_NAME', `the palette has a class "${taken.name}" already; merge "${from.name}" into it instead`, { name: taken.name });
      target = name;
      next = plain.map((c) => (c.name === from.name ? { ...c, name } : c));
    }
    const targetId = this.d.annotations.previewClassIds([target]).get(target) as number;
    const slides: SlidePlan[] = [];
    for (const slideId of await this.d.projectSlides(project)) {
      signal?.throwIfAborted();
      const objects = this.queries.objectsOf(slideId, from.name);
      const tiles: TilePlan[] = [];
      if (from.id !== null) {
        for (const m of this.d.masks.list(slideId)) {
          const heads = this.d.masks.tiles(slideId, m.annotator).filter((t) => ((JSON.parse(t.pixels) as Record<string, number>)[String(from.id)] ?? 0) > 0);
          if (heads.length === 0) continue;
          this.d.maskGuard(slideId, m.annotator, heads);
          for (const t of heads) {
            signal?.throwIfAborted();
            const px = new Uint8Array(await inflateTile(t.data));
            let relabelled = 0;
            for (let i = 0; i < px.length; i++) {
              if (px[i] === from.id) {
                px[i] = targetId;
                relabelled++;
              }
            }
            tiles.push({ annotator: m.annotator, tx: t.tx, ty: t.ty, version: t.version, data: await deflateTile(px), pixels: countsJson(histogram(px)), relabelled });
          }
        }
      }
      if (objects.editable.length || objects.predictions || tiles.length) slides.push({ slideId, objects: objects.editable, predictions: objects.predictions, tiles });
    }
    return { projectId: project.id, mode: req.into !== undefined ? 'merge' : 'rename', from, target, targetId, palette: next, slides, request: req };
  }

  /**
   * Writes a prepared plan in one transaction, all or nothing, and keeps its
   * answer under `opId` (a retry that raced this one replays it).
   */
  commit(plan: RelabelPlan, actor: string, opId: string): RelabelAnswer & { replayed?: true } {
    const scope = opScope(plan.projectId);
    const hash = requestHash(plan.projectId, plan.request);
    const at = new Date().toISOString();
    let objects = 0;
    let tiles = 0;
    let pixels = 0;
    let predictions = 0;
    const written = writeTransaction(this.d.db, (): { answer: RelabelAnswer; replayed: boolean } => {
      const prior = this.queries.priorOp(opId, scope, hash);
      if (prior === 'reused') throw new WsiError('IDEMPOTENCY_KEY_REUSED', `operation id ${opId} was already used for a different request`);
      if (prior) return { answer: prior.body as unknown as RelabelAnswer, replayed: true };
      // the palette as the plan read it: a change since is a conflict, not something to write over
      const now = this.d.annotations.palettes.of(plan.projectId);
      if (!now.some((c) => c.name === plan.from.name && c.id === plan.from.id)) throw conflict(`class "${plan.from.name}" changed in the palette meanwhile`);
      const saved = this.d.annotations.palettes.set(plan.projectId, plan.palette);
      const targetId = saved.find((c) => c.name === plan.target)?.id;
      if (targetId !== plan.targetId) throw conflict('the class ids changed meanwhile');
      for (const s of plan.slides) {
        predictions += s.predictions;
        if (s.objects.length) {
          const r = this.d.annotations.applyBatch(
            s.slideId,
            `${opId}:${s.slideId}`,
            actor,
            s.objects.map((o) => ({ op: 'update' as const, id: o.id, ifMatch: o.version, changes: { classification: plan.target } })),
          );
          if (r.status !== 200) {
            const code = r.body['code'];
            const message = String(r.body['message'] ?? 'refused');
            if (code === 'PRECONDITION_FAILED' || code === 'ANNOTATION_DELETED' || code === 'ANNOTATION_NOT_FOUND') throw conflict(`an object changed meanwhile (${message})`);
            throw new WsiError(isErrorCode(code) ? code : 'CONFLICT', message, { slide: s.slideId });
          }
          objects += s.objects.length;
        }
        const byAnnotator = new Map<string, TilePlan[]>();
        for (const t of s.tiles) byAnnotator.set(t.annotator, [...(byAnnotator.get(t.annotator) ?? []), t]);
        for (const [annotator, list] of byAnnotator) {
          // review locks as the mask write path has them, checked again inside the transaction
          this.d.maskGuard(s.slideId, annotator, list);
          list.forEach((t, i) => {
            try {
              this.d.masks.writeTile(s.slideId, annotator, { tx: t.tx, ty: t.ty, ifMatch: t.version, data: t.data, pixels: t.pixels }, i, 'paint', actor, at, opId);
            } catch (err) {
              if (err instanceof MaskOpError) throw conflict(`mask tile (${t.tx}, ${t.ty}) changed meanwhile (${err.message})`);
              throw err;
            }
            tiles++;
            pixels += t.relabelled;
          });
        }
      }
      const answer: RelabelAnswer = {
        mode: plan.mode,
        from: { name: plan.from.name, id: plan.from.id },
        to: { name: plan.target, id: plan.targetId },
        slides: plan.slides.length,
        objects,
        predictionsLeft: predictions,
        tiles,
        pixels,
        classes: saved,
      };
      this.queries.putOp(opId, scope, hash, 200, answer);
      return { answer, replayed: false };
    });
    if (written.replayed) return { ...written.answer, replayed: true };
    for (const s of plan.slides) if (s.tiles.length) this.d.onMaskChange(s.slideId);
    return written.answer;
  }
}

/** The scope a merge or rename's operation id is kept under (the operations table keys answers by scope and request). */
const opScope = (projectId: string): string => `project:${projectId}`;

function requestHash(projectId: string, req: RelabelRequest): string {
  return createHash('sha256').update(projectId).update('\0').update(JSON.stringify({ from: req.from, into: req.into ?? null, rename: req.rename ?? null })).digest('hex');
}

function conflict(why: string): WsiError {
  return new WsiError('CLASS_RELABEL_CONFLICT', `${why}; nothing was changed, try again`);
}
