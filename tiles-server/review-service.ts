/**
 * Reviews for the HTTP routes (issue 14, docs in README "Reviews"): submit,
 * the reviewer's transitions (state machine: reviews/review-states.ts),
 * reopening, the queue, project progress, reject reasons, significance and
 * experts, threaded comments (readings: reading-service.ts). It also guards the write paths:
 * reviewed objects and painted regions are locked (REV-01), and deleting an
 * object under review closes its review (REV-04). Every transition writes
 * its event and its audit record in one transaction with the change.
 */
import { geometryBounds, type Annotation, type Geometry } from '../src/core/annotation.js';
import { WsiError } from '../src/core/errors.js';
import { MASK_TILE } from '../src/core/mask/mask-grid.js';
import type { AuditEvent } from './audit/audit-log.js';
import type { AccessService, ProjectScope, SlideScope } from './identity/access-service.js';
import type { Principal } from './identity/auth-service.js';
import { seesOthers } from './identity/permissions.js';
import { LOCKED_STATES, nextState, REVIEWER_ACTIONS, UNDELETABLE_STATES, type ReviewAction, REVIEW_STATES } from './reviews/review-states.js';
import type { AnnotationStore, WriteGuard } from './store/annotation-store.js';
import { writeTransaction, type Db } from './store/database.js';
import { object, stringList, text, type Body } from './reviews/body-checks.js';
import type { ItemKind, ReviewComment, ReviewItem, ReviewSettings, ReviewStore } from './store/reviews.js';

const REASON_CODE = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;


/** Whether (x, y) lies inside a polygon's outline (even-odd over every ring: holes are outside). */
function insideRegion(g: Geometry, x: number, y: number): boolean {
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  let inside = false;
  for (const rings of polygons) {
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i] as [number, number];
        const [xj, yj] = ring[j] as [number, number];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
  }
  return inside;
}

/** The state version a transition was made on: the body's `version`, or If-Match. */
function versionOf(body: Body, ifMatch: number | null): number {
  const v = body['version'];
  if (v !== undefined) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new WsiError('BAD_REQUEST', 'version must be a non-negative integer (the review state version you acted on)');
    if (ifMatch !== null && ifMatch !== v) throw new WsiError('BAD_REQUEST', 'If-Match and version name different versions');
    return v;
  }
  if (ifMatch !== null) return ifMatch;
  throw new WsiError('PRECONDITION_REQUIRED', 'send the review state version you acted on (version in the body, or If-Match), so a stale decision cannot overwrite a newer one');
}

export interface ReviewServiceDeps {
  db: Db;
  store: ReviewStore;
  annotations: AnnotationStore;
  access: AccessService;
  /** The ids of the folder's slides (the Default project holds them all). */
  folderSlides: () => string[];
  audit: (e: AuditEvent) => void;
}

/** An item as the routes show it. */
export type ItemView = ReviewItem & { needsExpert: boolean };

export class ReviewService {
  constructor(private readonly d: ReviewServiceDeps) {}

  get store(): ReviewStore {
    return this.d.store;
  }

  private view(item: ReviewItem): ItemView {
    return { ...item, needsExpert: this.d.store.needsExpert(item.id) };
  }

  private sees(scope: { seesOthers: boolean }, me: string, annotator: string): boolean {
    return scope.seesOthers || annotator === me;
  }

  /** The annotation `id` on this slide, when the caller may see it; else 404 as for an unknown id. */
  private annotationOn(scope: SlideScope, me: string, id: unknown): Annotation {
    if (typeof id !== 'string') throw new WsiError('BAD_REQUEST', 'name the object by its annotation id');
    const a = this.d.annotations.get(id);
    if (!a || this.d.annotations.slideOf(id) !== scope.projectSlideId || !this.sees(scope, me, a.createdBy)) throw new WsiError('ANNOTATION_NOT_FOUND', `no annotation ${id.slice(0, 64)} on this slide`);
    return a;
  }

  /** The item `id` on this slide, when the caller may see it (blind projects: their own only). */
  item(scope: SlideScope, me: string, id: string): ReviewItem {
    const item = UUID.test(id) ? this.d.store.get(id) : null;
    if (!item || item.slideId !== scope.projectSlideId || !this.sees(scope, me, item.annotator)) throw new WsiError('REVIEW_NOT_FOUND', `no review item ${id} on this slide`);
    return item;
  }

  itemWithEvents(scope: SlideScope, me: string, id: string): ItemView & { events: ReturnType<ReviewStore['events']> } {
    const item = this.item(scope, me, id);
    return { ...this.view(item), events: this.d.store.events(item.id) };
  }

  /** The items on a slide that the caller may see, optionally of one object or one region. */
  list(scope: SlideScope, me: string, q: URLSearchParams): ItemView[] {
    const objectId = q.get('object');
    const region = q.get('region');
    return this.d.store
      .ofSlide(scope.projectSlideId)
      .filter((i) => this.sees(scope, me, i.annotator))
      .filter((i) => (objectId === null || (i.kind === 'object' && i.targetId === objectId)) && (region === null || (i.kind === 'region' && i.targetId === region)))
      .map((i) => this.view(i));
  }

  private record(p: Principal, scope: { project: { id: string } }, slideId: string, action: string, detail: AuditEvent['detail']): void {
    this.d.audit({ actor: p.user.id, action, projectId: scope.project.id, target: slideId, detail: detail ?? {} });
  }

  /**
   * The author submits an object (`{object, version}`) or their painted
   * region inside an ROI (`{region: roiId, version}`); `version` is the
   * item's state version (0 for work never submitted).
   */
  submit(scope: SlideScope, p: Principal, raw: unknown, ifMatch: number | null): { status: number; item: ItemView } {
    const body = object(raw);
    const me = p.user.id;
    const onVersion = versionOf(body, ifMatch);
    let kind: ItemKind;
    let target: Annotation;
    if (body['object'] !== undefined && body['region'] === undefined) {
      kind = 'object';
      target = this.annotationOn(scope, me, body['object']);
      if (target.deleted) throw new WsiError('ANNOTATION_DELETED', `annotation ${target.id} is deleted; restore it before submitting`);
      if (target.readOnly) throw new WsiError('REVIEW_ILLEGAL_TRANSITION', `annotation ${target.id} is a model prediction: predictions are triaged (model runs), and their corrected objects are reviewed`);
      if (target.createdBy !== me) throw new WsiError('FORBIDDEN', 'you submit your own work; this object was made by someone else');
    } else if (body['region'] !== undefined && body['object'] === undefined) {
      kind = 'region';
      target = this.annotationOn(scope, me, body['region']);
      if (target.deleted) throw new WsiError('ANNOTATION_DELETED', `ROI ${target.id} is deleted`);
    } else {
      throw new WsiError('BAD_REQUEST', 'send {"object": annotationId} or {"region": roiId}, with version');
    }
    return writeTransaction(this.d.db, () => {
      let item = this.d.store.byTarget(kind, target.id, me);
      const created = item === null;
      item ??= this.d.store.create({ projectId: scope.project.id, slideId: scope.projectSlideId, kind, targetId: target.id, annotator: me, className: null, targetVersion: null, by: me });
      const moved = this.transitionIn(item, onVersion, 'submit', p, scope, { comment: null, reason: null, className: target.classification, targetVersion: kind === 'object' ? target.version : null });
      return { status: created ? 201 : 200, item: moved };
    });
  }

  /**
   * One transition inside the caller's transaction: checks the version, the
   * state table and who acts; writes the event and the audit record.
   */
  private transitionIn(
    item: ReviewItem,
    onVersion: number,
    action: ReviewAction,
    p: Principal | null,
    scope: { project: { id: string }; role?: string },
    t: { comment: string | null; reason: string | null; className?: string | null; targetVersion?: number | null; actor?: string },
  ): ItemView {
    if (item.version !== onVersion) {
      throw new WsiError('PRECONDITION_FAILED', `review item ${item.id} is at state version ${item.version} (${item.state}); your decision was made on version ${onVersion}`, { current: this.view(item) });
    }
    const needsExpert = this.d.store.needsExpert(item.id) || (t.className !== undefined && t.className !== null && this.d.store.settings(item.projectId).significantClasses.includes(t.className));
    const step = nextState(action, item.state, { needsExpert, expertDone: item.expertDone });
    if (!step) throw new WsiError('REVIEW_ILLEGAL_TRANSITION', `cannot ${action} an item that is ${item.state}`, { state: item.state, version: item.version });
    const me = p?.user.id ?? t.actor ?? 'server';
    let selfReview = false;
    if (step.by === 'author' && item.annotator !== me) throw new WsiError('FORBIDDEN', 'only the author submits this work');
    if (step.by === 'author-or-manager' && item.annotator !== me && scope.role !== 'manager') throw new WsiError('FORBIDDEN', 'only the author or a manager reopens reviewed work');
    if (step.by === 'reviewer' || step.by === 'expert') {
      if (step.by === 'expert' && !this.d.store.isExpert(item.projectId, me)) throw new WsiError('REVIEW_NOT_EXPERT', 'this item needs its expert stage: only the project\'s experts decide it');
      // the expert stage is a second pair of eyes: not the reviewer who accepted this round's first stage
      if (step.by === 'expert' && this.firstStageBy(item) === me) throw new WsiError('REVIEW_SAME_REVIEWER', 'you accepted the first stage of this item: another expert decides its expert stage');
      if (item.annotator === me) {
        if (!this.d.store.settings(item.projectId).allowSelfReview) throw new WsiError('REVIEW_SELF_REVIEW', 'you cannot review your own work in this project (a manager may allow self-review)');
        selfReview = true;
      }
    }
    const fresh = action === 'reopen' || (action === 'submit' && item.state === 'closed');
    const expertDone = action === 'accept' ? step.by === 'expert' : fresh || action === 'submit' ? false : item.expertDone;
    const className = t.className !== undefined ? t.className : item.className;
    const targetVersion = t.targetVersion !== undefined ? t.targetVersion : item.targetVersion;
    const ok = this.d.store.move(item, onVersion, {
      action,
      to: step.to,
      actor: me,
      comment: t.comment,
      reason: t.reason,
      selfReview,
      expert: step.by === 'expert',
      round: fresh ? item.round + 1 : item.round,
      expertDone,
      className,
      targetVersion,
    });
    const after = this.d.store.get(item.id) as ReviewItem;
    if (!ok) throw new WsiError('PRECONDITION_FAILED', `review item ${item.id} changed while you decided; it is at version ${after.version}`, { current: this.view(after) });
    this.d.audit({
      actor: p ? p.user.id : (t.actor ?? null),
      action: `review.${action}`,
      projectId: scope.project.id,
      target: item.slideId,
      detail: { item: item.id, kind: item.kind, object: item.targetId, from: item.state, to: step.to, version: after.version, selfReview, expert: step.by === 'expert', reason: t.reason },
    });
    return this.view(after);
  }

  /** Who accepted the first stage of the item's current round (null: nobody yet). */
  private firstStageBy(item: ReviewItem): string | null {
    const events = this.d.store.events(item.id);
    let since = 0;
    events.forEach((e, i) => {
      if (e.action === 'submit' || e.action === 'reopen') since = i;
    });
    return events.slice(since).find((e) => e.action === 'accept' && !e.expert)?.actor ?? null;
  }

  /** A reviewer's decision: `{action: accept|request-changes|reject, version, comment?, reason?}`. */
  transition(scope: SlideScope, p: Principal, itemId: string, raw: unknown, ifMatch: number | null): ItemView {
    const body = object(raw);
    const action = body['action'];
    if (typeof action !== 'string' || !(REVIEWER_ACTIONS as readonly string[]).includes(action)) throw new WsiError('BAD_REQUEST', `action must be one of ${REVIEWER_ACTIONS.join(', ')}`);
    const onVersion = versionOf(body, ifMatch);
    const comment = text(body['comment'], 'comment', action === 'request-changes');
    let reason: string | null = null;
    if (action === 'reject') {
      const r = body['reason'];
      if (r === undefined || r === null || r === '') throw new WsiError('REVIEW_REASON_REQUIRED', 'a rejection names a reason from the project\'s list (GET /api/projects/{id}/reviews/reasons)');
      if (typeof r !== 'string' || !this.d.store.hasReason(scope.project.id, r)) throw new WsiError('REVIEW_REASON_UNKNOWN', `"${String(r).slice(0, 40)}" is not one of this project's reject reasons`);
      reason = r;
    }
    const item = this.item(scope, p.user.id, itemId);
    return writeTransaction(this.d.db, () => {
      const out = this.transitionIn(item, onVersion, action as ReviewAction, p, scope, { comment, reason });
      // the comment that goes back to the author is also on the object's thread
      if (comment !== null && item.kind === 'object') this.d.store.addComment({ projectId: scope.project.id, slideId: scope.projectSlideId, targetId: item.targetId, replyTo: null, author: p.user.id, text: comment, point: null });
      return out;
    });
  }

  /**
   * Accepts, in one transaction, the items a reviewer saw inside an ROI:
   * `{roi, items: [{id, version}]}` (each an object whose bounding-box
   * centre lies inside the ROI's outline). All or nothing: one stale
   * version (412), illegal move or refusal leaves every item as it was.
   */
  bulkAccept(scope: SlideScope, p: Principal, raw: unknown): ItemView[] {
    const body = object(raw);
    const roi = this.annotationOn(scope, p.user.id, body['roi']);
    if (roi.deleted || (roi.geometry.type !== 'Polygon' && roi.geometry.type !== 'MultiPolygon')) throw new WsiError('BAD_REQUEST', 'roi must be a live region (a polygon) on this slide');
    const list = body['items'];
    if (!Array.isArray(list) || list.length === 0 || list.length > 5000) throw new WsiError('BAD_REQUEST', 'items must list 1 to 5,000 {id, version}');
    const wanted = list.map((x, i) => {
      const o = x as Body | null;
      if (!o || typeof o !== 'object' || typeof o['id'] !== 'string' || typeof o['version'] !== 'number' || !Number.isInteger(o['version'])) throw new WsiError('BAD_REQUEST', `items[${i}] must be {id, version}`);
      return { id: o['id'], version: o['version'] };
    });
    const items = wanted.map((w) => ({ item: this.item(scope, p.user.id, w.id), version: w.version }));
    for (const { item } of items) {
      const a = item.kind === 'object' ? this.d.annotations.get(item.targetId) : null;
      if (!a) throw new WsiError('BAD_REQUEST', `review item ${item.id} is not an object`);
      const [x0, y0, x1, y1] = geometryBounds(a.geometry);
      if (!insideRegion(roi.geometry, (x0 + x1) / 2, (y0 + y1) / 2)) throw new WsiError('BAD_REQUEST', `object ${a.id} (review item ${item.id}) is not inside ROI ${roi.id}`);
    }
    return writeTransaction(this.d.db, () => items.map(({ item, version }) => this.transitionIn(item, version, 'accept', p, scope, { comment: null, reason: null })));
  }

  /** The author (or a manager) reopens accepted or rejected work: a new round starts, the earlier one stays in the history. */
  reopen(scope: SlideScope, p: Principal, itemId: string, raw: unknown, ifMatch: number | null): ItemView {
    const body = object(raw ?? {});
    const onVersion = versionOf(body, ifMatch);
    const comment = text(body['comment'], 'comment', false);
    const item = this.item(scope, p.user.id, itemId);
    return writeTransaction(this.d.db, () => this.transitionIn(item, onVersion, 'reopen', p, scope, { comment, reason: null }));
  }

  /**
   * The annotation write path's guard (AnnotationStore.writeGuards): an
   * object (or an ROI with painted regions) under review or accepted does
   * not change (409 REVIEW_LOCKED); deleting one that is not accepted closes
   * its reviews with the reason 'deleted'.
   */
  readonly annotationGuard: WriteGuard = (e) => {
    const open = this.d.store.openOfTarget(e.current.id).filter((i) => i.slideId === e.slideId);
    if (open.length === 0) return;
    if (e.op === 'delete') {
      const locked = open.find((i) => UNDELETABLE_STATES.has(i.state));
      if (locked) throw new WsiError('REVIEW_LOCKED', `${e.current.id} is accepted ${locked.kind === 'region' ? '(a painted region inside it)' : ''} and locked; reopen the review (POST …/reviews/${locked.id}/reopen) before deleting it`);
      for (const i of open) {
        this.transitionIn(i, i.version, 'close', null, { project: { id: i.projectId } }, { comment: `the object was deleted (operation ${e.opId})`, reason: 'deleted', actor: e.author });
      }
      return;
    }
    const locked = open.find((i) => LOCKED_STATES.has(i.state));
    if (locked) {
      throw new WsiError(
        'REVIEW_LOCKED',
        `${e.current.id} is ${locked.state === 'accepted' ? 'accepted' : 'under review'}${locked.kind === 'region' ? ' (as the ROI of a painted region)' : ''} and locked: the reviewed version stays as it was. ${locked.state === 'accepted' ? 'Reopen it' : 'Wait for the decision'} (review item ${locked.id}) to change it`,
      );
    }
  };

  /**
   * The mask write path's guard: tiles of the annotator's mask that touch an
   * ROI whose region is under review or accepted are refused (409
   * REVIEW_LOCKED); `tiles: null` means a write whose extent is not known
   * tile by tile (label import, rasterize), refused while any region of
   * theirs on the slide is locked.
   */
  maskGuard(slideId: string, annotator: string, tiles: ReadonlyArray<{ tx: number; ty: number }> | null): void {
    const locked = this.d.store.lockedRegions(slideId, annotator);
    for (const r of locked) {
      const roi = this.d.annotations.get(r.targetId);
      if (!roi) continue;
      if (tiles === null) throw new WsiError('REVIEW_LOCKED', `your painted region in ROI ${r.targetId} is ${r.state === 'accepted' ? 'accepted' : 'under review'}: imports and rasterizing into your mask on this slide wait until it is reopened or decided`);
      const [x0, y0, x1, y1] = geometryBounds(roi.geometry);
      for (const t of tiles) {
        const tx0 = t.tx * MASK_TILE;
        const ty0 = t.ty * MASK_TILE;
        if (tx0 < x1 && tx0 + MASK_TILE > x0 && ty0 < y1 && ty0 + MASK_TILE > y0) {
          throw new WsiError('REVIEW_LOCKED', `tile (${t.tx}, ${t.ty}) touches ROI ${r.targetId}, whose painted region is ${r.state === 'accepted' ? 'accepted' : 'under review'} and locked (review item ${r.id})`, { tx: t.tx, ty: t.ty, item: r.id });
        }
      }
    }
  }

  private async projectSlides(project: ProjectScope['project']): Promise<string[]> {
    return (await this.d.access.slidesOf(project, this.d.folderSlides)).map((s) => s.id);
  }

  /** The reviewer's queue: submitted items ('review') or those owing an expert stage ('expert'), filtered and paged. */
  async queue(scope: ProjectScope, q: URLSearchParams): Promise<{ items: Array<ItemView & { bbox: [number, number, number, number] | null }>; next: string | null }> {
    const stage = q.get('stage') ?? 'review';
    if (stage !== 'review' && stage !== 'expert') throw new WsiError('BAD_REQUEST', 'stage must be review or expert');
    const limitRaw = q.get('limit');
    const limit = limitRaw === null ? 100 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new WsiError('BAD_REQUEST', 'limit must be an integer from 1 to 500');
    const after = q.get('after');
    if (after !== null && !UUID.test(after)) throw new WsiError('BAD_REQUEST', 'after must be the id of the last item of the page before');
    const slides = await this.projectSlides(scope.project);
    const slide = q.get('slide');
    if (slide !== null && !slides.includes(slide)) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${slide.slice(0, 64)} in this project`);
    const className = q.get('class');
    const annotator = q.get('annotator');
    const items = this.d.store.queue({ slides, stage, limit: limit + 1, ...(slide !== null ? { slide } : {}), ...(className !== null ? { className } : {}), ...(annotator !== null ? { annotator } : {}), ...(after !== null ? { after } : {}) });
    const page = items.slice(0, limit);
    return {
      items: page.map((i) => {
        const a = this.d.annotations.get(i.targetId);
        return { ...this.view(i), bbox: a ? geometryBounds(a.geometry) : null };
      }),
      next: items.length > limit ? (page[page.length - 1] as ReviewItem).id : null,
    };
  }

  /**
   * Per slide and annotator, the counts in each state; a slide is done when
   * it has reviewed work and every item is accepted with every expert stage
   * it owes. Blind projects: annotators and viewers get their own rows only
   * (and `done` then speaks of their own work).
   */
  async progress(scope: ProjectScope, p: Principal): Promise<{ slides: Array<{ slideId: string; done: boolean; annotators: Array<{ annotator: string; counts: Record<string, number> }> }> }> {
    const slides = await this.projectSlides(scope.project);
    const others = seesOthers(scope.role, scope.project);
    const rows = this.d.store.progress(slides).filter((r) => others || r.annotator === p.user.id);
    const bySlide = new Map<string, Map<string, Record<string, number>>>();
    const done = new Map<string, boolean>();
    for (const r of rows) {
      let a = bySlide.get(r.slideId);
      if (!a) bySlide.set(r.slideId, (a = new Map()));
      let counts = a.get(r.annotator);
      if (!counts) a.set(r.annotator, (counts = Object.fromEntries([...REVIEW_STATES.filter((s) => s !== 'closed'), 'owesExpert'].map((s) => [s, 0]))));
      if (r.owesExpert) counts['owesExpert'] = (counts['owesExpert'] ?? 0) + r.count;
      else counts[r.state] = (counts[r.state] ?? 0) + r.count;
      const fine = r.state === 'accepted' && !r.owesExpert;
      done.set(r.slideId, (done.get(r.slideId) ?? true) && fine);
    }
    return {
      slides: slides.map((slideId) => ({
        slideId,
        done: done.get(slideId) ?? false,
        annotators: [...(bySlide.get(slideId) ?? new Map<string, Record<string, number>>()).entries()].map(([annotator, counts]) => ({ annotator, counts })),
      })),
    };
  }

  settings(projectId: string): ReviewSettings {
    return this.d.store.settings(projectId);
  }

  /** A manager changes self-review, significant classes and ROIs, and experts (project members who review). */
  async putSettings(scope: ProjectScope, p: Principal, raw: unknown): Promise<ReviewSettings> {
    const body = object(raw);
    const known = ['allowSelfReview', 'significantClasses', 'significantRois', 'experts'];
    const extra = Object.keys(body).filter((k) => !known.includes(k));
    if (extra.length > 0) throw new WsiError('BAD_REQUEST', `unknown settings: ${extra.join(', ')}`);
    const patch: Partial<ReviewSettings> = {};
    if (body['allowSelfReview'] !== undefined) {
      if (typeof body['allowSelfReview'] !== 'boolean') throw new WsiError('BAD_REQUEST', 'allowSelfReview must be true or false');
      patch.allowSelfReview = body['allowSelfReview'];
    }
    if (body['significantClasses'] !== undefined) patch.significantClasses = stringList(body['significantClasses'], 'significantClasses');
    if (body['significantRois'] !== undefined) patch.significantRois = stringList(body['significantRois'], 'significantRois');
    if (body['experts'] !== undefined) {
      const experts = stringList(body['experts'], 'experts', 200);
      const members = new Map((await this.d.access.store.membersOf(scope.project.id)).map((m) => [m.userId, m.role]));
      for (const u of experts) {
        const role = members.get(u);
        if (role !== 'reviewer' && role !== 'manager') throw new WsiError('BAD_REQUEST', `expert ${u.slice(0, 64)} is not a reviewer or manager of this project`);
      }
      patch.experts = experts;
    }
    writeTransaction(this.d.db, () => this.d.store.putSettings(scope.project.id, patch));
    this.record(p, scope, scope.project.id, 'review.settings', { fields: Object.keys(patch).join(',') });
    return this.d.store.settings(scope.project.id);
  }

  reasons(projectId: string): ReturnType<ReviewStore['reasons']> {
    return this.d.store.reasons(projectId);
  }

  addReason(scope: ProjectScope, p: Principal, raw: unknown): { status: number; reasons: ReturnType<ReviewStore['reasons']> } {
    const body = object(raw);
    const code = body['code'];
    if (typeof code !== 'string' || !REASON_CODE.test(code)) throw new WsiError('BAD_REQUEST', 'code must be 1–40 characters of a–z, 0–9, _ and -, starting with a letter or digit');
    const label = text(body['label'], 'label', true) as string;
    if (label.length > 200) throw new WsiError('BAD_REQUEST', 'label holds at most 200 characters');
    const added = writeTransaction(this.d.db, () => this.d.store.addReason(scope.project.id, code, label, p.user.id));
    if (!added) throw new WsiError('CONFLICT', `reason ${code} is already in the list`);
    this.record(p, scope, scope.project.id, 'review.reason.add', { code });
    return { status: 201, reasons: this.d.store.reasons(scope.project.id) };
  }

  retireReason(scope: ProjectScope, p: Principal, code: string): void {
    if (!writeTransaction(this.d.db, () => this.d.store.retireReason(scope.project.id, code))) throw new WsiError('NOT_FOUND', `no reason ${code.slice(0, 40)} in this project's list`);
    this.record(p, scope, scope.project.id, 'review.reason.retire', { code });
  }

  comments(scope: SlideScope, me: string, annotationId: string): ReviewComment[] {
    this.annotationOn(scope, me, annotationId);
    return this.d.store.comments(annotationId);
  }

  /** A comment on an object: `{text, at?: [x, y] (level-0 px), replyTo?: commentId}`. */
  addComment(scope: SlideScope, p: Principal, annotationId: string, raw: unknown): ReviewComment {
    const body = object(raw);
    const a = this.annotationOn(scope, p.user.id, annotationId);
    const t = text(body['text'], 'text', true) as string;
    let point: [number, number] | null = null;
    if (body['at'] !== undefined) {
      const at = body['at'];
      if (!Array.isArray(at) || at.length !== 2 || at.some((v) => typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > 1e9)) throw new WsiError('BAD_REQUEST', 'at must be [x, y] in level-0 pixels');
      point = [at[0] as number, at[1] as number];
    }
    let replyTo: string | null = null;
    if (body['replyTo'] !== undefined) {
      if (typeof body['replyTo'] !== 'string' || this.d.store.commentTarget(body['replyTo']) !== a.id) throw new WsiError('BAD_REQUEST', 'replyTo must be a comment on the same object');
      replyTo = body['replyTo'];
    }
    const c = writeTransaction(this.d.db, () => this.d.store.addComment({ projectId: scope.project.id, slideId: scope.projectSlideId, targetId: a.id, replyTo, author: p.user.id, text: t, point }));
    // ids only: a comment's text may hold anything and stays out of the audit log
    this.record(p, scope, scope.projectSlideId, 'review.comment', { object: a.id, comment: c.id });
    return c;
  }
}
