/**
 * Review items, their transitions, comments and each project's review
 * settings (issue 14), in SQL that PostgreSQL runs as it is. An item is one
 * annotation ('object') or one annotator's mask inside an ROI ('region'),
 * with its state and a state version that every transition names (a stale
 * version loses: REV-03). Every transition is a row of review_events that is
 * never changed, so an item's whole history (closed ones too: REV-04) stays.
 * The project's list of reject reasons, the classes and ROIs marked
 * diagnostically significant, its experts and whether self-review is allowed
 * live here too. Readings are in store/readings.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from './database.js';
import type { ReviewState } from '../reviews/review-states.js';

/** Migration 9: review items and events, comments, reasons, significance, experts, settings; readings (store/readings.ts). */
export const REVIEW_SCHEMA = `
  CREATE TABLE review_items (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    -- the project-slide id (what slide URLs name)
    slide_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('object', 'region')),
    -- the annotation (object), or the ROI annotation whose inside was painted (region)
    target_id TEXT NOT NULL,
    -- whose work it is: the object's creator, or the mask's annotator
    annotator TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'expert_review', 'accepted', 'changes_requested', 'rejected', 'closed')),
    -- the state version: +1 at every transition; a transition names the one it was made on
    version INTEGER NOT NULL,
    round INTEGER NOT NULL,
    -- 1 once an expert accepted this round
    expert_done INTEGER NOT NULL DEFAULT 0,
    -- the object's class when submitted (locked from then on), for queues and significance
    class_name TEXT,
    -- the annotation version submitted (objects), which acceptance keeps
    target_version INTEGER,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, target_id, annotator)
  );
  CREATE INDEX review_items_by_project ON review_items (project_id, state);
  CREATE INDEX review_items_by_slide ON review_items (slide_id);
  -- the write paths' guard looks items up by the object (or ROI) on every change of one
  CREATE INDEX review_items_by_target ON review_items (target_id);
  CREATE TABLE review_events (
    id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES review_items(id),
    -- the item's state version after this event
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    comment TEXT,
    reason TEXT,
    self_review INTEGER NOT NULL DEFAULT 0,
    expert INTEGER NOT NULL DEFAULT 0,
    target_version INTEGER,
    UNIQUE (item_id, version)
  );
  CREATE TABLE review_comments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    slide_id TEXT NOT NULL,
    -- the annotation the thread is on
    target_id TEXT NOT NULL,
    -- the comment this one answers (NULL: starts a thread)
    reply_to TEXT,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL,
    -- where on the slide it is placed (level-0 px), or NULL
    x REAL,
    y REAL
  );
  CREATE INDEX review_comments_by_target ON review_comments (target_id, at);
  CREATE TABLE review_reasons (
    project_id TEXT NOT NULL,
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- a retired reason stays for the events that name it, and is offered no more
    retired_at TEXT,
    PRIMARY KEY (project_id, code)
  );
  CREATE TABLE review_settings (
    project_id TEXT PRIMARY KEY,
    allow_self_review INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE review_significant (
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('class', 'roi')),
    value TEXT NOT NULL,
    PRIMARY KEY (project_id, kind, value)
  );
  CREATE TABLE review_experts (
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
  );
`;

export type ItemKind = 'object' | 'region';

export interface ReviewItem {
  id: string;
  projectId: string;
  slideId: string;
  kind: ItemKind;
  targetId: string;
  annotator: string;
  state: ReviewState;
  version: number;
  round: number;
  expertDone: boolean;
  className: string | null;
  targetVersion: number | null;
  updatedBy: string;
  updatedAt: string;
}

export interface ReviewEvent {
  version: number;
  action: string;
  from: ReviewState;
  to: ReviewState;
  actor: string;
  at: string;
  comment: string | null;
  reason: string | null;
  selfReview: boolean;
  expert: boolean;
  targetVersion: number | null;
}

export interface ReviewComment {
  id: string;
  targetId: string;
  replyTo: string | null;
  author: string;
  at: string;
  text: string;
  point: [number, number] | null;
}

export interface ReviewSettings {
  allowSelfReview: boolean;
  significantClasses: string[];
  significantRois: string[];
  experts: string[];
}

export interface Reason {
  code: string;
  label: string;
  createdBy: string;
  createdAt: string;
}

export interface QueueFilter {
  slides: readonly string[];
  slide?: string;
  className?: string;
  annotator?: string;
  /** 'review': submitted items; 'expert': items owing their expert stage. */
  stage: 'review' | 'expert';
  after?: string;
  limit: number;
}

/** Counts per slide, annotator and state (progress). */
export interface ProgressRow {
  slideId: string;
  annotator: string;
  state: ReviewState;
  /** Accepted items still owing their expert stage are counted here, not as accepted. */
  owesExpert: boolean;
  count: number;
}

interface ItemRow {
  id: string;
  project_id: string;
  slide_id: string;
  kind: ItemKind;
  target_id: string;
  annotator: string;
  state: ReviewState;
  version: number;
  round: number;
  expert_done: number;
  class_name: string | null;
  target_version: number | null;
  updated_by: string;
  updated_at: string;
}

const toItem = (r: ItemRow): ReviewItem => ({
  id: r.id,
  projectId: r.project_id,
  slideId: r.slide_id,
  kind: r.kind,
  targetId: r.target_id,
  annotator: r.annotator,
  state: r.state,
  version: r.version,
  round: r.round,
  expertDone: r.expert_done === 1,
  className: r.class_name,
  targetVersion: r.target_version,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
});

const ITEM = `SELECT i.id, i.project_id, i.slide_id, i.kind, i.target_id, i.annotator, i.state, i.version, i.round, i.expert_done, i.class_name, i.target_version, i.updated_by, i.updated_at FROM review_items i`;

/** An SQL condition: the item `i` needs an expert stage in its project (its class, or its ROI, is significant). */
const NEEDS_EXPERT = `(EXISTS (SELECT 1 FROM review_significant s WHERE s.project_id = i.project_id AND s.kind = 'class' AND s.value = i.class_name)
   OR (i.kind = 'region' AND EXISTS (SELECT 1 FROM review_significant s WHERE s.project_id = i.project_id AND s.kind = 'roi' AND s.value = i.target_id)))`;

/** `?, ?, …` for a list (never empty: an empty list is answered without SQL). */
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

export class ReviewStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      get: db.prepare<[string], ItemRow>(`${ITEM} WHERE i.id = ?`),
      byTarget: db.prepare<[string, string, string], ItemRow>(`${ITEM} WHERE i.kind = ? AND i.target_id = ? AND i.annotator = ?`),
      openOfTarget: db.prepare<[string], ItemRow>(`${ITEM} WHERE i.target_id = ? AND i.state <> 'closed'`),
      ofSlide: db.prepare<[string], ItemRow>(`${ITEM} WHERE i.slide_id = ? ORDER BY i.updated_at, i.id`),
      lockedRegions: db.prepare<[string, string], ItemRow>(`${ITEM} WHERE i.slide_id = ? AND i.kind = 'region' AND i.annotator = ? AND i.state IN ('submitted', 'expert_review', 'accepted')`),
      needsExpert: db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM review_items i WHERE i.id = ? AND ${NEEDS_EXPERT}`),
      insert: db.prepare(
        `INSERT INTO review_items (id, project_id, slide_id, kind, target_id, annotator, state, version, round, expert_done, class_name, target_version, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
      ),
      // the version check is in the WHERE: of two writers on one version, one changes a row and the other none (REV-03)
      move: db.prepare(
        `UPDATE review_items SET state = ?, version = version + 1, round = ?, expert_done = ?, class_name = ?, target_version = ?, updated_by = ?, updated_at = ? WHERE id = ? AND version = ?`,
      ),
      event: db.prepare(
        `INSERT INTO review_events (id, item_id, version, action, from_state, to_state, actor, at, comment, reason, self_review, expert, target_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      events: db.prepare<[string], { version: number; action: string; from_state: ReviewState; to_state: ReviewState; actor: string; at: string; comment: string | null; reason: string | null; self_review: number; expert: number; target_version: number | null }>(
        `SELECT version, action, from_state, to_state, actor, at, comment, reason, self_review, expert, target_version FROM review_events WHERE item_id = ? ORDER BY version`,
      ),
      settings: db.prepare<[string], { allow_self_review: number }>(`SELECT allow_self_review FROM review_settings WHERE project_id = ?`),
      putSettings: db.prepare(`INSERT INTO review_settings (project_id, allow_self_review) VALUES (?, ?) ON CONFLICT (project_id) DO UPDATE SET allow_self_review = excluded.allow_self_review`),
      significant: db.prepare<[string], { kind: 'class' | 'roi'; value: string }>(`SELECT kind, value FROM review_significant WHERE project_id = ? ORDER BY kind, value`),
      clearSignificant: db.prepare(`DELETE FROM review_significant WHERE project_id = ?`),
      addSignificant: db.prepare(`INSERT INTO review_significant (project_id, kind, value) VALUES (?, ?, ?)`),
      experts: db.prepare<[string], { user_id: string }>(`SELECT user_id FROM review_experts WHERE project_id = ? ORDER BY user_id`),
      clearExperts: db.prepare(`DELETE FROM review_experts WHERE project_id = ?`),
      addExpert: db.prepare(`INSERT INTO review_experts (project_id, user_id) VALUES (?, ?)`),
      isExpert: db.prepare<[string, string], { n: number }>(`SELECT COUNT(*) AS n FROM review_experts WHERE project_id = ? AND user_id = ?`),
      reasons: db.prepare<[string], { code: string; label: string; created_by: string; created_at: string }>(
        `SELECT code, label, created_by, created_at FROM review_reasons WHERE project_id = ? AND retired_at IS NULL ORDER BY created_at, code`,
      ),
      reason: db.prepare<[string, string], { code: string; retired_at: string | null }>(`SELECT code, retired_at FROM review_reasons WHERE project_id = ? AND code = ?`),
      addReason: db.prepare(`INSERT INTO review_reasons (project_id, code, label, created_by, created_at) VALUES (?, ?, ?, ?, ?)`),
      reviveReason: db.prepare(`UPDATE review_reasons SET label = ?, retired_at = NULL WHERE project_id = ? AND code = ?`),
      retireReason: db.prepare(`UPDATE review_reasons SET retired_at = ? WHERE project_id = ? AND code = ? AND retired_at IS NULL`),
      addComment: db.prepare(`INSERT INTO review_comments (id, project_id, slide_id, target_id, reply_to, author, at, body, x, y) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      comments: db.prepare<[string], { id: string; target_id: string; reply_to: string | null; author: string; at: string; body: string; x: number | null; y: number | null }>(
        `SELECT id, target_id, reply_to, author, at, body, x, y FROM review_comments WHERE target_id = ? ORDER BY at, id`,
      ),
      comment: db.prepare<[string], { target_id: string }>(`SELECT target_id FROM review_comments WHERE id = ?`),
    };
  }

  get(id: string): ReviewItem | null {
    const r = this.stmts.get.get(id);
    return r ? toItem(r) : null;
  }

  byTarget(kind: ItemKind, targetId: string, annotator: string): ReviewItem | null {
    const r = this.stmts.byTarget.get(kind, targetId, annotator);
    return r ? toItem(r) : null;
  }

  /** The open (not closed) items on an annotation: its object item, and regions painted inside it if it is an ROI. */
  openOfTarget(targetId: string): ReviewItem[] {
    return this.stmts.openOfTarget.all(targetId).map(toItem);
  }

  ofSlide(slideId: string): ReviewItem[] {
    return this.stmts.ofSlide.all(slideId).map(toItem);
  }

  /** An annotator's regions on a slide that are under review or accepted (their mask there is locked). */
  lockedRegions(slideId: string, annotator: string): ReviewItem[] {
    return this.stmts.lockedRegions.all(slideId, annotator).map(toItem);
  }

  needsExpert(itemId: string): boolean {
    return (this.stmts.needsExpert.get(itemId)?.n ?? 0) > 0;
  }

  /** A new item in state draft, version 0 (its first transition, a submit, makes it version 1). */
  create(i: { projectId: string; slideId: string; kind: ItemKind; targetId: string; annotator: string; className: string | null; targetVersion: number | null; by: string }): ReviewItem {
    const id = randomUUID();
    this.stmts.insert.run(id, i.projectId, i.slideId, i.kind, i.targetId, i.annotator, 'draft', 0, 1, i.className, i.targetVersion, i.by, new Date().toISOString());
    return this.get(id) as ReviewItem;
  }

  /**
   * Moves an item made on state version `onVersion` and records the event;
   * false when the item is at another version by now (someone acted first).
   * Call inside a write transaction.
   */
  move(
    item: ReviewItem,
    onVersion: number,
    t: { action: string; to: ReviewState; actor: string; comment: string | null; reason: string | null; selfReview: boolean; expert: boolean; round: number; expertDone: boolean; className: string | null; targetVersion: number | null },
  ): boolean {
    const at = new Date().toISOString();
    const changed = this.stmts.move.run(t.to, t.round, t.expertDone ? 1 : 0, t.className, t.targetVersion, t.actor, at, item.id, onVersion).changes;
    if (changed !== 1) return false;
    this.stmts.event.run(randomUUID(), item.id, onVersion + 1, t.action, item.state, t.to, t.actor, at, t.comment, t.reason, t.selfReview ? 1 : 0, t.expert ? 1 : 0, t.targetVersion);
    return true;
  }

  events(itemId: string): ReviewEvent[] {
    return this.stmts.events.all(itemId).map((e) => ({
      version: e.version,
      action: e.action,
      from: e.from_state,
      to: e.to_state,
      actor: e.actor,
      at: e.at,
      comment: e.comment,
      reason: e.reason,
      selfReview: e.self_review === 1,
      expert: e.expert === 1,
      targetVersion: e.target_version,
    }));
  }

  /** Items waiting for a reviewer ('review') or an expert ('expert'), in id pages. */
  queue(f: QueueFilter): ReviewItem[] {
    if (f.slides.length === 0) return [];
    const where: string[] = [`i.slide_id IN (${marks(f.slides.length)})`];
    const args: Array<string | number> = [...f.slides];
    if (f.stage === 'review') where.push(`i.state = 'submitted'`);
    else where.push(`(i.state = 'expert_review' OR (i.state = 'accepted' AND i.expert_done = 0 AND ${NEEDS_EXPERT}))`);
    const filters: Array<[string, string | undefined]> = [
      ['i.slide_id = ?', f.slide],
      ['i.class_name = ?', f.className],
      ['i.annotator = ?', f.annotator],
      ['i.id > ?', f.after],
    ];
    for (const [sql, value] of filters) {
      if (value === undefined) continue;
      where.push(sql);
      args.push(value);
    }
    args.push(f.limit);
    return this.db.prepare<Array<string | number>, ItemRow>(`${ITEM} WHERE ${where.join(' AND ')} ORDER BY i.id LIMIT ?`).all(...args).map(toItem);
  }

  /**
   * Counts per slide, annotator and state over the given slides: every live
   * object made by hand (or corrected from a prediction) counts, as 'draft'
   * until it is submitted; predictions of model runs are not reviewed here.
   * Regions count once submitted.
   */
  progress(slides: readonly string[]): ProgressRow[] {
    if (slides.length === 0) return [];
    const m = marks(slides.length);
    const objects = this.db
      .prepare<string[], { slide_id: string; annotator: string; state: ReviewState | null; owes: number; n: number }>(
        `SELECT a.slide_id AS slide_id, a.created_by AS annotator, i.state AS state,
                CASE WHEN i.state = 'accepted' AND i.expert_done = 0 AND ${NEEDS_EXPERT} THEN 1 ELSE 0 END AS owes, COUNT(*) AS n
           FROM annotations a LEFT JOIN review_items i ON i.kind = 'object' AND i.target_id = a.id AND i.annotator = a.created_by
          WHERE a.slide_id IN (${m}) AND a.deleted = 0 AND NOT (a.source IS NOT NULL AND a.parent IS NULL)
            AND a.import_job NOT IN (SELECT id FROM import_jobs WHERE state <> 'committed')
          GROUP BY a.slide_id, a.created_by, i.state, owes`,
      )
      .all(...slides);
    const regions = this.db
      .prepare<string[], { slide_id: string; annotator: string; state: ReviewState; owes: number; n: number }>(
        `SELECT i.slide_id AS slide_id, i.annotator AS annotator, i.state AS state,
                CASE WHEN i.state = 'accepted' AND i.expert_done = 0 AND ${NEEDS_EXPERT} THEN 1 ELSE 0 END AS owes, COUNT(*) AS n
           FROM review_items i WHERE i.kind = 'region' AND i.slide_id IN (${m}) AND i.state <> 'closed'
          GROUP BY i.slide_id, i.annotator, i.state, owes`,
      )
      .all(...slides);
    const out = new Map<string, ProgressRow>();
    for (const r of [...objects, ...regions]) {
      const state = r.state ?? 'draft';
      const key = `${r.slide_id}|${r.annotator}|${state}|${r.owes}`;
      const row = out.get(key);
      if (row) row.count += r.n;
      else out.set(key, { slideId: r.slide_id, annotator: r.annotator, state, owesExpert: r.owes === 1, count: r.n });
    }
    return [...out.values()];
  }

  settings(projectId: string): ReviewSettings {
    const sig = this.stmts.significant.all(projectId);
    return {
      allowSelfReview: this.stmts.settings.get(projectId)?.allow_self_review === 1,
      significantClasses: sig.filter((s) => s.kind === 'class').map((s) => s.value),
      significantRois: sig.filter((s) => s.kind === 'roi').map((s) => s.value),
      experts: this.stmts.experts.all(projectId).map((e) => e.user_id),
    };
  }

  /** Replaces the fields given. Call inside a write transaction. */
  putSettings(projectId: string, s: Partial<ReviewSettings>): void {
    if (s.allowSelfReview !== undefined) this.stmts.putSettings.run(projectId, s.allowSelfReview ? 1 : 0);
    if (s.significantClasses !== undefined || s.significantRois !== undefined) {
      const now = this.settings(projectId);
      this.stmts.clearSignificant.run(projectId);
      for (const c of new Set(s.significantClasses ?? now.significantClasses)) this.stmts.addSignificant.run(projectId, 'class', c);
      for (const r of new Set(s.significantRois ?? now.significantRois)) this.stmts.addSignificant.run(projectId, 'roi', r);
    }
    if (s.experts !== undefined) {
      this.stmts.clearExperts.run(projectId);
      for (const u of new Set(s.experts)) this.stmts.addExpert.run(projectId, u);
    }
  }

  isExpert(projectId: string, userId: string): boolean {
    return (this.stmts.isExpert.get(projectId, userId)?.n ?? 0) > 0;
  }

  reasons(projectId: string): Reason[] {
    return this.stmts.reasons.all(projectId).map((r) => ({ code: r.code, label: r.label, createdBy: r.created_by, createdAt: r.created_at }));
  }

  /** Whether `code` is a reason the project offers now. */
  hasReason(projectId: string, code: string): boolean {
    const r = this.stmts.reason.get(projectId, code);
    return r !== undefined && r.retired_at === null;
  }

  /** Adds a reason (or offers a retired one again, with this label); false when it is already offered. */
  addReason(projectId: string, code: string, label: string, by: string): boolean {
    const r = this.stmts.reason.get(projectId, code);
    if (r && r.retired_at === null) return false;
    if (r) this.stmts.reviveReason.run(label, projectId, code);
    else this.stmts.addReason.run(projectId, code, label, by, new Date().toISOString());
    return true;
  }

  retireReason(projectId: string, code: string): boolean {
    return this.stmts.retireReason.run(new Date().toISOString(), projectId, code).changes === 1;
  }

  addComment(c: { projectId: string; slideId: string; targetId: string; replyTo: string | null; author: string; text: string; point: [number, number] | null }): ReviewComment {
    const id = randomUUID();
    const at = new Date().toISOString();
    this.stmts.addComment.run(id, c.projectId, c.slideId, c.targetId, c.replyTo, c.author, at, c.text, c.point?.[0] ?? null, c.point?.[1] ?? null);
    return { id, targetId: c.targetId, replyTo: c.replyTo, author: c.author, at, text: c.text, point: c.point };
  }

  comments(targetId: string): ReviewComment[] {
    return this.stmts.comments.all(targetId).map((c) => ({
      id: c.id,
      targetId: c.target_id,
      replyTo: c.reply_to,
      author: c.author,
      at: c.at,
      text: c.body,
      point: c.x === null || c.y === null ? null : [c.x, c.y],
    }));
  }

  /** The annotation a comment is on, or null. */
  commentTarget(commentId: string): string | null {
    return this.stmts.comment.get(commentId)?.target_id ?? null;
  }
}
