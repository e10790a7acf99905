/**
 * The review state table (tiles-server/reviews/review-states.ts) and the
 * review store on both engines (a migrated SQLite file and a PostgreSQL database): legal and illegal moves,
 * who takes each, the done rule with its expert stage (REV-05), and the
 * store's compare-and-set on the state version (REV-03: of two moves made
 * on one version, exactly one lands, and its event is the only one).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isDone, nextState, REVIEW_STATES, TRANSITIONS, type ReviewAction } from '../../tiles-server/reviews/review-states.js';
import { MIGRATIONS, type Db } from '../../tiles-server/store/database.js';
import { ReviewStore } from '../../tiles-server/store/reviews.js';
import { ReadingStore } from '../../tiles-server/store/readings.js';
import { describeEachEngine, type StoreUnderTest } from '../helpers/store-engines.js';

const plain = { needsExpert: false, expertDone: false };
const owed = { needsExpert: true, expertDone: false };

describe('the review state table', () => {
  it('moves draft → submitted → accepted, or through the expert stage when one is owed', () => {
    expect(nextState('submit', 'draft', plain)).toEqual({ to: 'submitted', by: 'author' });
    expect(nextState('accept', 'submitted', plain)).toEqual({ to: 'accepted', by: 'reviewer' });
    expect(nextState('accept', 'submitted', owed)).toEqual({ to: 'expert_review', by: 'reviewer' });
    expect(nextState('accept', 'expert_review', owed)).toEqual({ to: 'accepted', by: 'expert' });
    // an expert stage owed after acceptance is decided from 'accepted', and only then
    expect(nextState('accept', 'accepted', owed)).toEqual({ to: 'accepted', by: 'expert' });
    expect(nextState('accept', 'accepted', plain)).toBeNull();
    expect(nextState('accept', 'accepted', { needsExpert: true, expertDone: true })).toBeNull();
  });

  it('refuses illegal moves: accept a draft, decide a closed or rejected item, submit what is under review', () => {
    const illegal: Array<[ReviewAction, (typeof REVIEW_STATES)[number]]> = [
      ['accept', 'draft'],
      ['accept', 'changes_requested'],
      ['accept', 'rejected'],
      ['accept', 'closed'],
      ['reject', 'draft'],
      ['request-changes', 'accepted'],
      ['submit', 'submitted'],
      ['submit', 'accepted'],
      ['submit', 'expert_review'],
      ['reopen', 'submitted'],
      ['close', 'accepted'],
      ['close', 'closed'],
    ];
    for (const [action, state] of illegal) expect(nextState(action, state, owed), `${action} from ${state}`).toBeNull();
  });

  it('names what each decision needs, and who takes every move', () => {
    expect(TRANSITIONS['request-changes'].needs).toBe('comment');
    expect(TRANSITIONS.reject.needs).toBe('reason');
    for (const [action, rule] of Object.entries(TRANSITIONS)) {
      expect(Object.keys(rule.from).sort(), action).toEqual(Object.keys(rule.by).sort());
    }
  });

  it('counts an item done only when accepted with every expert stage it owes (REV-05)', () => {
    expect(isDone('accepted', false, false)).toBe(true);
    expect(isDone('accepted', true, false)).toBe(false);
    expect(isDone('accepted', true, true)).toBe(true);
    for (const s of REVIEW_STATES.filter((x) => x !== 'accepted')) expect(isDone(s, false, false), s).toBe(false);
  });
});

describeEachEngine('the review store', ({ make }) => {
  const opened: Array<{ store: StoreUnderTest; db: Db }> = [];
  const fresh = (): { reviews: ReviewStore; readings: ReadingStore } => {
    const store = make();
    const db = store.open();
    opened.push({ store, db });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS[MIGRATIONS.length - 1]?.version);
    return { reviews: new ReviewStore(db), readings: new ReadingStore(db) };
  };
  afterEach(() => {
    for (const { store, db } of opened.splice(0)) {
      db.close();
      store.dispose();
    }
  });
  const move = { comment: null, reason: null, selfReview: false, expert: false, round: 1, expertDone: false, className: 'Tumour', targetVersion: 1 };

  it('lets exactly one of two moves made on one state version land (REV-03)', () => {
    const { reviews } = fresh();
    const item = reviews.create({ projectId: 'p', slideId: 's', kind: 'object', targetId: 'a1', annotator: 'u1', className: 'Tumour', targetVersion: 1, by: 'u1' });
    expect(reviews.move(item, 0, { ...move, action: 'submit', to: 'submitted', actor: 'u1' })).toBe(true);
    const submitted = reviews.get(item.id);
    expect(submitted).toMatchObject({ state: 'submitted', version: 1 });
    const a = reviews.move(submitted!, 1, { ...move, action: 'accept', to: 'accepted', actor: 'r1' });
    const b = reviews.move(submitted!, 1, { ...move, action: 'reject', to: 'rejected', actor: 'r2', reason: 'x' });
    expect([a, b]).toEqual([true, false]);
    expect(reviews.events(item.id).map((e) => [e.version, e.action, e.actor])).toEqual([
      [1, 'submit', 'u1'],
      [2, 'accept', 'r1'],
    ]);
    // one item per target and annotator
    expect(() => reviews.create({ projectId: 'p', slideId: 's', kind: 'object', targetId: 'a1', annotator: 'u1', className: null, targetVersion: null, by: 'u1' })).toThrow();
  });

  it('says which items owe an expert stage from the project’s significant classes and ROIs', () => {
    const { reviews } = fresh();
    const obj = reviews.create({ projectId: 'p', slideId: 's', kind: 'object', targetId: 'a1', annotator: 'u1', className: 'Mitosis', targetVersion: 1, by: 'u1' });
    const region = reviews.create({ projectId: 'p', slideId: 's', kind: 'region', targetId: 'roi1', annotator: 'u1', className: 'Tumour', targetVersion: null, by: 'u1' });
    expect([reviews.needsExpert(obj.id), reviews.needsExpert(region.id)]).toEqual([false, false]);
    reviews.putSettings('p', { significantClasses: ['Mitosis'], significantRois: ['roi1'], experts: ['e1'] });
    expect([reviews.needsExpert(obj.id), reviews.needsExpert(region.id)]).toEqual([true, true]);
    // another project's settings change nothing here
    reviews.putSettings('q', { significantClasses: [] });
    expect(reviews.needsExpert(obj.id)).toBe(true);
    expect(reviews.settings('p')).toEqual({ allowSelfReview: false, significantClasses: ['Mitosis'], significantRois: ['roi1'], experts: ['e1'] });
    expect([reviews.isExpert('p', 'e1'), reviews.isExpert('q', 'e1')]).toEqual([true, false]);
  });

  it('keeps retired reasons out of the list, and offers them again when re-added', () => {
    const { reviews } = fresh();
    expect(reviews.addReason('p', 'blurry', 'Blurry', 'm')).toBe(true);
    expect(reviews.addReason('p', 'blurry', 'Blurry', 'm')).toBe(false);
    expect(reviews.retireReason('p', 'blurry')).toBe(true);
    expect([reviews.hasReason('p', 'blurry'), reviews.reasons('p')]).toEqual([false, []]);
    expect(reviews.addReason('p', 'blurry', 'Out of focus', 'm')).toBe(true);
    expect(reviews.reasons('p').map((r) => r.label)).toEqual(['Out of focus']);
  });

  it('records readings and who submitted them, slide by slide', () => {
    const { readings } = fresh();
    const r = readings.create({ projectId: 'p', name: 'R1', createdBy: 'm', slides: [{ slideId: 's1', roiId: null }, { slideId: 's2', roiId: 'roi' }], readers: ['u1', 'u2'] });
    expect(r.slides).toEqual([{ slideId: 's1', roiId: null }, { slideId: 's2', roiId: 'roi' }]);
    expect(readings.submittedOn('u1', 's1')).toBe(false);
    expect(readings.submit(r.id, 'u1')).toBe(true);
    expect(readings.submit(r.id, 'u1')).toBe(false);
    expect([readings.submittedOn('u1', 's1'), readings.submittedOn('u1', 's2'), readings.submittedOn('u2', 's1'), readings.submittedOn('u1', 's3')]).toEqual([true, true, false, false]);
    expect(readings.ofReader('p', 'u2').map((x) => x.id)).toEqual([r.id]);
    expect(readings.ofReader('p', 'u3')).toEqual([]);
  });
});
