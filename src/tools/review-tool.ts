/**
 * Review mode (`R`, issue 14): steps through the objects submitted on this
 * slide (or, for the project's experts, those owing their expert stage),
 * one at a time — each is selected, framed and outlined — and decides them
 * with keys: Enter accept, `E` request changes (with the comment typed in
 * the panel), `X` reject (with the reason chosen in the panel), `>` / `<`
 * next and previous, `Y` accept every waiting object inside the selected
 * ROI (the server's bulk accept: all or nothing). The keys are ones nothing
 * else takes, so the `?` help lists each key for one thing. The panel shows the object's
 * comment thread, placed on the slide (drawn as pins), and takes new
 * comments. While the mode is on, its keys come before the class hotkeys.
 * The server decides everything (roles, self-review, expert stage, stale
 * versions); what it refuses is said in the panel.
 *
 * The author's side: `S` submits the selected objects for review (each
 * with the review state version the server has for it, so a stale submit is
 * refused), and says how many went and why any did not.
 */
import { html, nothing } from 'lit';
import { live } from 'lit/directives/live.js';
import { bulkAccept, addComment, comments as loadComments, decide, itemsOfObject, reasons as loadReasons, slideQueue, submitObject, type Reason, type ReviewComment, type ReviewItem } from '../services/review-api.js';
import { hitTest } from '../state/hit-test.js';
import { registerKey, registerTool } from './registry.js';
import type { ImagePoint, Overlay, Tool, ToolContext } from './tool.js';

const STATE_LABEL: Record<string, string> = {
  submitted: 'submitted',
  expert_review: 'waiting for an expert',
  accepted: 'accepted (expert stage owed)',
};

export class ReviewTool implements Tool {
  items: ReviewItem[] = [];
  index = 0;
  stage: 'review' | 'expert' = 'review';
  reasons: Reason[] = [];
  reason = '';
  comment = '';
  thread: ReviewComment[] = [];
  loading = false;
  /** What the last decision did (or why the server refused it). */
  said: string | null = null;
  private loadedFor = '';

  constructor(private readonly ctx: ToolContext) {}

  /** Asked whenever the tool is picked or its panel drawn: the first time, it loads the queue. */
  unavailable(): string | null {
    const r = this.ctx.review;
    if (!r) return 'Review mode needs the slide’s project (open the slide from the app).';
    if (!r.canReview) return 'Review mode is for reviewers and managers of this project.';
    if (this.loadedFor !== `${r.slideId}|${this.stage}` && !this.loading) void this.reload();
    return null;
  }

  /** A click selects the object under it (the ROI for "accept all in ROI"); a click on nothing clears the selection. */
  click(p: ImagePoint): void {
    const hit = hitTest(this.ctx.store, this.ctx.index, p.x, p.y, 6 * this.ctx.imagePxPerScreenPx(), this.ctx.layers.shownIn(this.ctx.store));
    if (hit) this.ctx.selection.set([this.ctx.store.idOf(hit.handle)]);
    else this.ctx.selection.clear();
    this.ctx.redraw();
  }

  get current(): ReviewItem | null {
    return this.items[this.index] ?? null;
  }

  private say(message: string | null): void {
    this.said = message;
    this.ctx.panelChanged();
  }

  async reload(): Promise<void> {
    const r = this.ctx.review;
    if (!r || !r.canReview) return;
    this.loading = true;
    this.loadedFor = `${r.slideId}|${this.stage}`;
    try {
      const [items, reasons] = await Promise.all([slideQueue(r.server, r.projectId, r.slideId, this.stage), this.reasons.length ? Promise.resolve(this.reasons) : loadReasons(r.server, r.projectId)]);
      this.items = items.filter((i) => i.kind === 'object');
      this.reasons = reasons;
      if (!this.reasons.some((x) => x.code === this.reason)) this.reason = this.reasons[0]?.code ?? '';
      this.index = Math.min(this.index, Math.max(0, this.items.length - 1));
      this.said = this.items.length === 0 ? (this.stage === 'review' ? 'Nothing is waiting for review on this slide.' : 'Nothing is waiting for an expert on this slide.') : null;
      await this.focus();
    } catch (err) {
      this.said = (err as Error).message;
    } finally {
      this.loading = false;
      this.ctx.panelChanged();
    }
  }

  /** Selects and frames the current object, and loads its comment thread. */
  private async focus(): Promise<void> {
    const item = this.current;
    const r = this.ctx.review;
    this.thread = [];
    if (!item || !r) {
      this.ctx.redraw();
      this.ctx.panelChanged();
      return;
    }
    if (this.ctx.store.has(item.targetId)) this.ctx.selection.set([item.targetId]);
    if (item.bbox) {
      const [x0, y0, x1, y1] = item.bbox;
      const padX = Math.max(64, (x1 - x0) * 0.75);
      const padY = Math.max(64, (y1 - y0) * 0.75);
      r.show({ x0: x0 - padX, y0: y0 - padY, x1: x1 + padX, y1: y1 + padY });
    }
    this.ctx.redraw();
    try {
      this.thread = await loadComments(r.server, r.slideId, item.targetId);
    } catch (err) {
      this.said = (err as Error).message;
    }
    // the thread's pins
    this.ctx.redraw();
    this.ctx.panelChanged();
  }

  step(by: number): void {
    if (this.items.length === 0) return;
    this.index = (this.index + by + this.items.length) % this.items.length;
    this.said = null;
    void this.focus();
  }

  /** Sends a decision on the current object; on success it leaves the list and the next one comes up. */
  async decide(action: 'accept' | 'request-changes' | 'reject'): Promise<void> {
    const r = this.ctx.review;
    const item = this.current;
    if (!r || !item) return;
    if (action === 'request-changes' && this.comment.trim() === '') return this.say('Type the change you ask for in the comment box first, then press E (or the button).');
    if (action === 'reject' && !this.reason) return this.say('This project has no reject reasons yet: a manager adds them.');
    try {
      const after = await decide(r.server, r.slideId, item, action, action === 'request-changes' ? { comment: this.comment } : action === 'reject' ? { reason: this.reason, ...(this.comment.trim() ? { comment: this.comment } : {}) } : {});
      this.comment = '';
      this.items.splice(this.index, 1);
      if (this.index >= this.items.length) this.index = 0;
      const what = action === 'accept' ? (after.state === 'expert_review' ? 'Accepted; an expert reviews it next.' : 'Accepted.') : action === 'reject' ? 'Rejected.' : 'Changes requested.';
      this.said = `${what} ${this.items.length} left.`;
      await this.focus();
    } catch (err) {
      this.say((err as Error).message);
      // a stale version: the list is read again
      if ((err as { status?: number }).status === 412) void this.reload();
    }
  }

  /** Accepts every waiting object whose box centre lies inside the selected object's box (the server checks the outline). */
  async bulkInSelected(): Promise<void> {
    const r = this.ctx.review;
    if (!r) return;
    const [roiId] = this.ctx.selection.list();
    const h = roiId === undefined ? undefined : this.ctx.store.handleOf(roiId);
    if (roiId === undefined || h === undefined) return this.say('Select the ROI first (it is the region whose waiting objects are accepted).');
    const [x0, y0, x1, y1] = this.ctx.store.bounds(h);
    const inside = this.items.filter((i) => {
      if (!i.bbox || i.targetId === roiId) return false;
      const cx = (i.bbox[0] + i.bbox[2]) / 2;
      const cy = (i.bbox[1] + i.bbox[3]) / 2;
      return cx >= x0 && cx <= x1 && cy >= y0 && cy <= y1;
    });
    if (inside.length === 0) return this.say('No waiting object lies inside the selected region.');
    try {
      await bulkAccept(r.server, r.slideId, roiId, inside);
      this.say(`Accepted ${inside.length} object${inside.length === 1 ? '' : 's'} inside the region.`);
    } catch (err) {
      this.say((err as Error).message);
    }
    await this.reload();
  }

  async postComment(): Promise<void> {
    const r = this.ctx.review;
    const item = this.current;
    if (!r || !item || this.comment.trim() === '') return;
    const at: [number, number] | null = item.bbox ? [(item.bbox[0] + item.bbox[2]) / 2, (item.bbox[1] + item.bbox[3]) / 2] : null;
    try {
      this.thread = [...this.thread, await addComment(r.server, r.slideId, item.targetId, this.comment, at)];
      this.comment = '';
      this.ctx.redraw();
      this.say(null);
    } catch (err) {
      this.say((err as Error).message);
    }
  }

  key(e: KeyboardEvent): boolean {
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    const run: Record<string, () => void> = {
      Enter: () => void this.decide('accept'),
      E: () => void this.decide('request-changes'),
      X: () => void this.decide('reject'),
      '>': () => this.step(1),
      '<': () => this.step(-1),
      Y: () => void this.bulkInSelected(),
    };
    const f = run[e.key];
    if (!f) return false;
    f();
    return true;
  }

  /** The current object's box and its comments' pins. */
  drawOverlay: Overlay = (g, toScreen) => {
    const item = this.current;
    if (!item?.bbox) return;
    const [ax, ay] = toScreen(item.bbox[0], item.bbox[1]);
    const [bx, by] = toScreen(item.bbox[2], item.bbox[3]);
    g.save();
    g.setLineDash([6, 4]);
    g.lineWidth = 2;
    g.strokeStyle = '#ffd400';
    g.strokeRect(ax - 6, ay - 6, bx - ax + 12, by - ay + 12);
    g.setLineDash([]);
    for (const c of this.thread) {
      if (!c.point) continue;
      const [px, py] = toScreen(c.point[0], c.point[1]);
      g.fillStyle = '#1f6feb';
      g.beginPath();
      g.arc(px, py - 10, 6, 0, Math.PI * 2);
      g.fill();
      g.beginPath();
      g.moveTo(px - 3, py - 6);
      g.lineTo(px, py);
      g.lineTo(px + 3, py - 6);
      g.fill();
    }
    g.restore();
  };
}

function reviewPanel(tool: Tool, ctx: ToolContext): unknown {
  const t = tool as ReviewTool;
  if (!ctx.review?.canReview) return nothing;
  const item = t.current;
  // accounts are named by id here (the first 8 characters): a blind project shows no names
  const who = (id: string): string => id.slice(0, 8);
  return html`<div data-testid="review-panel" class="review">
    <div>
      <label
        >Queue
        <select
          data-testid="review-stage"
          @change=${(e: Event) => {
            t.stage = (e.target as HTMLSelectElement).value as 'review' | 'expert';
            t.index = 0;
            void t.reload();
          }}
        >
          <option value="review" ?selected=${t.stage === 'review'}>Submitted</option>
          <option value="expert" ?selected=${t.stage === 'expert'}>Expert stage</option>
        </select></label
      >
      <span data-testid="review-position">${t.loading ? 'loading…' : item ? `${t.index + 1} of ${t.items.length}` : '0 waiting'}</span>
    </div>
    ${item
      ? html`<div class="status" data-testid="review-current">
          <strong>${item.className ?? 'no class'}</strong> by ${who(item.annotator)} · ${STATE_LABEL[item.state] ?? item.state}${item.needsExpert ? ' · expert stage required' : ''}
        </div>`
      : nothing}
    ${t.said ? html`<div class="status warn" data-testid="review-said" role="status">${t.said}</div>` : nothing}
    <div class="review-actions">
      <button data-testid="review-prev" ?disabled=${!item} @click=${() => t.step(-1)} title="previous (<)">◀<kbd>&lt;</kbd></button>
      <button data-testid="review-next" ?disabled=${!item} @click=${() => t.step(1)} title="next (>)">▶<kbd>&gt;</kbd></button>
      <button data-testid="review-accept" ?disabled=${!item} @click=${() => void t.decide('accept')}>Accept<kbd>Enter</kbd></button>
      <button data-testid="review-changes" ?disabled=${!item} @click=${() => void t.decide('request-changes')}>Request changes<kbd>E</kbd></button>
      <button data-testid="review-reject" ?disabled=${!item} @click=${() => void t.decide('reject')}>Reject<kbd>X</kbd></button>
      <button data-testid="review-bulk" @click=${() => void t.bulkInSelected()} title="accept every waiting object inside the selected ROI">Accept all in ROI<kbd>A</kbd></button>
    </div>
    <label
      >Reject reason
      <select data-testid="review-reason" @change=${(e: Event) => (t.reason = (e.target as HTMLSelectElement).value)}>
        ${t.reasons.map((r) => html`<option value=${r.code} ?selected=${r.code === t.reason}>${r.label}</option>`)}
      </select></label
    >
    <div data-testid="review-thread">
      ${t.thread.length === 0 && item ? html`<div class="status">No comments on this object.</div>` : nothing}
      ${t.thread.map((c) => html`<div class="comment" data-testid="review-comment">${c.replyTo ? '↳ ' : ''}<strong>${who(c.author)}</strong>: ${c.text}${c.point ? html` <span title="placed on the slide" aria-label="placed on the slide">◉</span>` : nothing}</div>`)}
    </div>
    <textarea
      data-testid="review-comment-text"
      rows="2"
      placeholder="Comment (also the text of a change request)"
      .value=${live(t.comment)}
      @input=${(e: Event) => (t.comment = (e.target as HTMLTextAreaElement).value)}
      @keydown=${(e: KeyboardEvent) => e.stopPropagation()}
    ></textarea>
    <button data-testid="review-post" ?disabled=${!item} @click=${() => void t.postComment()}>Comment</button>
  </div>`;
}

registerTool({
  id: 'review',
  label: 'Review',
  icon: '✓',
  key: 'W',
  cursor: 'default',
  section: 'annotate',
  help: [
    ['Enter', 'review: accept'],
    ['E', 'review: request changes (with the comment)'],
    ['X', 'review: reject (with the reason)'],
    ['> / <', 'review: next / previous'],
    ['Y', 'review: accept all inside the selected ROI'],
  ],
  create: (ctx) => new ReviewTool(ctx),
  panel: reviewPanel,
});

/** At most this many selected objects are submitted at once (one request each). */
const MAX_SUBMIT = 200;

/** Submits the selection for review; returns what happened, for the panel. */
export async function submitSelection(ctx: ToolContext): Promise<string> {
  const r = ctx.review;
  if (!r) return 'Submitting needs the slide’s project (open the slide from the app).';
  const ids = ctx.selection.list();
  if (ids.length === 0) return 'Select your objects first, then S submits them for review.';
  if (ids.length > MAX_SUBMIT) return `Select at most ${MAX_SUBMIT} objects to submit at once.`;
  let sent = 0;
  const refused: string[] = [];
  for (const id of ids) {
    try {
      const mine = (await itemsOfObject(r.server, r.slideId, id)).find((i) => i.kind === 'object');
      await submitObject(r.server, r.slideId, id, mine?.version ?? 0);
      sent++;
    } catch (err) {
      refused.push((err as Error).message);
    }
  }
  const first = refused[0];
  return `Submitted ${sent} object${sent === 1 ? '' : 's'} for review.${first ? ` ${refused.length} not: ${first}` : ''}`;
}

registerKey({
  keys: 'S',
  label: 'submit the selection for review',
  group: 'edit',
  match: (e) => e.key === 'S' && !e.ctrlKey && !e.metaKey && !e.altKey,
  run: (k) => {
    const tools = k.tools;
    if (!tools?.review) return false;
    k.finishGesture();
    tools.notify('Submitting…', 'annotate');
    void submitSelection(tools).then((m) => tools.notify(m, 'annotate'));
    return true;
  },
});
