/**
 * The review state machine (issue 14) as one table: which action moves an
 * item from which state to which, who may take it, and what it needs (a
 * comment, a reason). The review service looks actions up here; nothing
 * else decides what a transition may do. An item is an annotation
 * ('object') or one annotator's painted mask inside an ROI ('region').
 *
 *   draft | changes_requested | closed ─submit→ submitted ─accept→ accepted            (no expert stage needed)
 *                            ─accept→ expert_review ─accept (expert)→ accepted
 *   submitted | expert_review ─request-changes (comment)→ changes_requested
 *   submitted | expert_review ─reject (reason from the project's list)→ rejected
 *   accepted | rejected ─reopen (author or manager)→ draft (a new round)
 *   any open state ─close (the object was deleted)→ closed
 *
 * The expert is never the reviewer who accepted the first stage of the same
 * round (review-service.ts checks who that was).
 *
 * An accepted item whose class (or ROI) was marked significant after it was
 * accepted still owes its expert stage: an expert may 'accept' it from
 * 'accepted' (expert_done becomes true); until then its slide is not done.
 */

export const REVIEW_STATES = ['draft', 'submitted', 'expert_review', 'accepted', 'changes_requested', 'rejected', 'closed'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

export type ReviewAction = 'submit' | 'accept' | 'request-changes' | 'reject' | 'reopen' | 'close';

/** Who may take an action: the item's author, a reviewer (the project's `review` action), an expert of the project, or the server. */
export type Actor = 'author' | 'reviewer' | 'expert' | 'author-or-manager' | 'server';

export interface TransitionRule {
  /** The states it may start from, each with where it leads (a function of whether an expert stage is owed). */
  from: Partial<Record<ReviewState, (ctx: { needsExpert: boolean; expertDone: boolean }) => ReviewState>>;
  by: Partial<Record<ReviewState, Actor>>;
  needs?: 'comment' | 'reason';
}

const stay = (s: ReviewState) => (): ReviewState => s;

/** The one table of transitions. */
export const TRANSITIONS: Record<ReviewAction, TransitionRule> = {
  submit: {
    // closed: the object was deleted under review and has been restored since (a new round)
    from: { draft: stay('submitted'), changes_requested: stay('submitted'), closed: stay('submitted') },
    by: { draft: 'author', changes_requested: 'author', closed: 'author' },
  },
  accept: {
    from: {
      submitted: ({ needsExpert }) => (needsExpert ? 'expert_review' : 'accepted'),
      expert_review: stay('accepted'),
      // an expert stage owed after the fact (the class was marked significant later)
      accepted: stay('accepted'),
    },
    by: { submitted: 'reviewer', expert_review: 'expert', accepted: 'expert' },
  },
  'request-changes': {
    from: { submitted: stay('changes_requested'), expert_review: stay('changes_requested') },
    by: { submitted: 'reviewer', expert_review: 'expert' },
    needs: 'comment',
  },
  reject: {
    from: { submitted: stay('rejected'), expert_review: stay('rejected') },
    by: { submitted: 'reviewer', expert_review: 'expert' },
    needs: 'reason',
  },
  reopen: {
    from: { accepted: stay('draft'), rejected: stay('draft') },
    by: { accepted: 'author-or-manager', rejected: 'author-or-manager' },
  },
  close: {
    from: { draft: stay('closed'), submitted: stay('closed'), expert_review: stay('closed'), changes_requested: stay('closed'), rejected: stay('closed') },
    by: { draft: 'server', submitted: 'server', expert_review: 'server', changes_requested: 'server', rejected: 'server' },
  },
};

/** The actions a reviewer takes through the transition route. */
export const REVIEWER_ACTIONS: readonly ReviewAction[] = ['accept', 'request-changes', 'reject'];

/** States in which the reviewed content must not change (REV-01): what was submitted or accepted stays as it was. */
export const LOCKED_STATES: ReadonlySet<ReviewState> = new Set(['submitted', 'expert_review', 'accepted']);

/** States in which a delete is refused (accepted work: reopen it first); in the other open states a delete closes the review (REV-04). */
export const UNDELETABLE_STATES: ReadonlySet<ReviewState> = new Set(['accepted']);

/**
 * Where `action` leads from `state`, and who must take it; null when the
 * action is not allowed from that state (an illegal transition).
 */
export function nextState(action: ReviewAction, state: ReviewState, ctx: { needsExpert: boolean; expertDone: boolean }): { to: ReviewState; by: Actor } | null {
  const rule = TRANSITIONS[action];
  const to = rule.from[state];
  const by = rule.by[state];
  if (!to || !by) return null;
  // 'accept' from 'accepted' exists only for an expert stage still owed
  if (action === 'accept' && state === 'accepted' && !(ctx.needsExpert && !ctx.expertDone)) return null;
  return { to: to(ctx), by };
}

/** Whether an item in this state, with these facts, counts as done for its slide (REV-05). */
export function isDone(state: ReviewState, needsExpert: boolean, expertDone: boolean): boolean {
  return state === 'accepted' && (!needsExpert || expertDone);
}
