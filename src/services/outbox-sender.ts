/**
 * The path every local edit takes to the server, whatever it edits
 * (annotations, mask tiles): one gesture becomes one outbox entry (written
 * to IndexedDB before the UI counts it as done) holding one atomic batch
 * with its own operation id; entries drain head first. Network failures and
 * 5xx answers are retried with backoff under the same id (the server
 * replays, so nothing doubles); 412/409 stop the queue and surface a
 * conflict that the user resolves; a batch too large for one request (413)
 * is split into parts sent in order under new ids, and a single operation
 * that is still too large is kept and reported (DATA-10). Subclasses say how
 * to send a batch, what an acknowledgement means (rebasing later queued
 * edits of the same objects), and what a conflict looks like.
 */
import type { Outbox, OutboxEntry } from './outbox.js';
import { activeSenders, announceSender, exclusively, TAB_ID } from './tab-lock.js';

export type SyncStatus = 'saved' | 'saving' | 'offline' | 'retrying' | 'conflict' | 'error';

export interface SenderState<C> {
  status: SyncStatus;
  /** Edits not yet acknowledged by the server. */
  queued: number;
  durable: boolean;
  message: string | null;
  conflict: C | null;
}

export interface SendResponse<R> {
  status: number;
  body: {
    results?: R[];
    code?: string;
    message?: string;
    detail?: { index?: number; current?: unknown };
  };
}

export function newOpId(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 15_000];

export abstract class OutboxSender<Op, R, C> {
  protected state: SenderState<C>;
  private draining = false;
  protected stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private readonly listeners = new Set<(s: SenderState<C>) => void>();
  protected pendingWrites: Promise<unknown> = Promise.resolve();
  /** Entries rebased before their first write finished; they are written again once it has. */
  private readonly rebasedUnstored = new WeakSet<OutboxEntry<Op>>();
  private running: Promise<void> = Promise.resolve();
  /** Senders of slides the user left that are still sending their queue. */
  private static readonly leaving = new Map<string, OutboxSender<unknown, unknown, unknown>>();
  /** The outbox in memory, in order; entries get a seq once stored. */
  protected readonly queue: Array<OutboxEntry<Op>> = [];

  /**
   * @param outboxKey the outbox list this sender owns (the slide id, or a
   *   sub-key such as `<slide>#mask`)
   * @param server base URL, to tell apart the same slide on two servers
   */
  constructor(
    protected readonly outbox: Outbox,
    protected readonly outboxKey: string,
    protected readonly server: string,
  ) {
    this.state = { status: 'saved', queued: 0, durable: outbox.durable, message: outbox.durable ? null : 'Offline protection is off: this browser cannot store unsent edits, so keep the page open until they are saved.', conflict: null };
    if (typeof window !== 'undefined') window.addEventListener('online', this.onOnline);
    this.presence = announceSender(`${server}|${outboxKey}`);
  }

  /** Tells other tabs that this one is sending the list (until stop()). */
  private readonly presence: { ready: Promise<void>; release: () => void };

  /** Sends one batch under the entry's operation id. Throws when the network fails. */
  protected abstract send(entry: OutboxEntry<Op>): Promise<SendResponse<R>>;

  /**
   * The server applied `entry.ops` with these results: record the versions
   * and rebase queued ops of the same objects in `later`. Returns the
   * entries whose ops changed.
   */
  protected abstract rebase(entry: OutboxEntry<Op>, results: R[], later: Array<OutboxEntry<Op>>): Set<OutboxEntry<Op>>;

  /** The conflict to show for a 412/409 (or a vanished object) at `index`. */
  protected abstract conflictOf(entry: OutboxEntry<Op>, index: number, res: SendResponse<R>): C;

  /** Re-applies unsent ops locally after a reload (without queueing them again). */
  protected abstract reapply(entries: Array<OutboxEntry<Op>>): void;

  /** Stops observing local edits (subclasses hook their store here). */
  protected abstract unobserve(): void;

  private readonly onOnline = (): void => this.retryNow();

  /** Tries to send now (the browser says it is back online, or the user asked). */
  retryNow(): void {
    this.failures = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.drain();
  }

  get snapshot(): SenderState<C> {
    return this.state;
  }

  onChange(fn: (s: SenderState<C>) => void): () => void {
    this.listeners.add(fn);
    fn(this.state);
    return () => this.listeners.delete(fn);
  }

  protected set(patch: Partial<SenderState<C>>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn(this.state);
  }

  /** Queues one gesture's ops; they are stored before they are sent. */
  protected enqueueOps(ops: Op[], label: string): void {
    if (ops.length === 0) return;
    const entry: OutboxEntry<Op> = { opId: newOpId(), slide: this.outboxKey, label, ops, createdAt: Date.now(), attempts: 0, owner: TAB_ID };
    this.queue.push(entry);
    this.set({ queued: this.queue.length, status: this.state.status === 'saved' ? 'saving' : this.state.status });
    this.pendingWrites = this.pendingWrites
      .then(async () => {
        // an entry given up (in a conflict) before it was stored is not stored
        if (!this.queue.includes(entry)) return;
        entry.seq = await this.outbox.add(entry);
        // rebased while it was being written: the stored copy has the old ops
        if (this.rebasedUnstored.delete(entry)) await this.outbox.update(entry);
      })
      .then(() => this.drain());
  }

  /** Edits the user made that the server has not acknowledged yet. */
  get pending(): ReadonlyArray<OutboxEntry<Op>> {
    return this.queue;
  }

  /**
   * After a reload: re-applies unsent edits on top of the server state
   * (without queueing them again) and resumes sending.
   */
  async resume(): Promise<number> {
    await this.presence.ready;
    // entries of another tab that is still sending them stay with it (DATA-19)
    const list = `${this.server}|${this.outboxKey}`;
    const entries = await exclusively(`adopt:${list}`, async () => {
      const others = await activeSenders(list);
      const mine = (await this.outbox.list<Op>(this.outboxKey)).filter((e) => !e.owner || e.owner === TAB_ID || !others?.has(e.owner));
      for (const e of mine) {
        if (e.owner === TAB_ID) continue;
        e.owner = TAB_ID;
        await this.outbox.update(e);
      }
      return mine;
    });
    this.queue.unshift(...entries);
    this.reapply(entries);
    this.set({ queued: this.queue.length, status: this.queue.length ? 'saving' : 'saved' });
    void this.drain();
    return entries.length;
  }

  /** Sends queued entries until the queue is empty or something stops it. */
  drain(): Promise<void> {
    if (this.draining || this.stopped || this.state.conflict) return this.running;
    this.draining = true;
    this.running = this.drainQueue();
    return this.running;
  }

  private async drainQueue(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const entry = this.queue[0];
        if (!entry) {
          this.failures = 0;
          this.set({ status: 'saved', queued: 0, message: this.outbox.durable ? null : this.state.message });
          return;
        }
        if (entry.seq === undefined) return; // still being stored; its write will call drain
        let res: SendResponse<R>;
        try {
          res = await this.send(entry);
        } catch {
          this.scheduleRetry('offline', 'The server cannot be reached; edits are kept and will be sent when it can.');
          return;
        }
        if (res.status === 200 && res.body.results) {
          await this.acknowledge(entry, res.body.results);
          continue;
        }
        if (res.status === 412 || res.status === 409 || (res.status === 404 && /_NOT_FOUND$/.test(res.body.code ?? '') && res.body.code !== 'SLIDE_NOT_FOUND')) {
          this.set({ status: 'conflict', conflict: this.conflictOf(entry, res.body.detail?.index ?? 0, res) });
          return;
        }
        if (res.status === 413 && entry.ops.length > 1) {
          // too large for one request: nothing of it was applied, so send it in parts
          const half = Math.ceil(entry.ops.length / 2);
          entry.later = [entry.ops.slice(half), ...(entry.later ?? [])];
          entry.ops = entry.ops.slice(0, half);
          entry.opId = newOpId();
          await this.outbox.update(entry);
          this.set({ message: `A large edit (${entry.label}) is being saved in parts.` });
          continue;
        }
        if (res.status === 413) {
          this.set({ status: 'error', message: `An edit (${entry.label}) is larger than the server accepts: ${res.body.message ?? ''} It is kept in this browser; simplify the shape (fewer vertices) or ask the administrator to raise the limit.` });
          return;
        }
        if (res.status === 507) {
          this.scheduleRetry('retrying', "The server's storage is full: your edits are kept in this browser and will be saved when space is freed.");
          return;
        }
        if (res.status === 401) {
          // the session ended (idle, expired, signed out elsewhere): nothing was applied; once the user
          // signs in again (the sign-in page in another tab shares the cookie) the same edit is sent
          this.scheduleRetry('retrying', 'Your session has ended. Sign in again (open /signin.html in another tab): your edits are kept in this browser and are sent as soon as you have.');
          return;
        }
                if (res.status >= 500 || res.status === 429 || res.status === 408) {
          this.scheduleRetry('retrying', `The server answered ${res.status}; retrying.`);
          return;
        }
        // a request the server will never accept: keep it, say so, stop
        this.set({ status: 'error', message: `An edit (${entry.label}) was refused: ${res.body.message ?? res.status}. It is kept; reload or contact support.` });
        return;
      }
    } finally {
      this.draining = false;
    }
  }

  private scheduleRetry(status: 'offline' | 'retrying', message: string): void {
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] as number;
    this.failures++;
    this.set({ status, message, queued: this.queue.length });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.drain();
    }, delay);
  }

  private async acknowledge(entry: OutboxEntry<Op>, results: R[]): Promise<void> {
    // later parts of this entry count as later edits too
    const parts: Array<OutboxEntry<Op>> = (entry.later ?? []).map((ops) => ({ ...entry, ops }));
    const touched = this.rebase(entry, results, [...parts, ...this.queue.slice(1)]);
    // entries not stored yet are written with the rebased ops when their turn comes
    for (const e of touched) {
      if (parts.includes(e)) continue;
      if (e.seq !== undefined) await this.outbox.update(e);
      else this.rebasedUnstored.add(e);
    }
    const next = entry.later?.shift();
    if (next) {
      // the next part of a split gesture (its ops were rebased in place above)
      entry.ops = next;
      entry.opId = newOpId();
      await this.outbox.update(entry);
      this.failures = 0;
      return;
    }
    await this.outbox.remove(entry.seq as number);
    this.queue.shift();
    this.failures = 0;
    this.set({ queued: this.queue.length, status: this.queue.length ? 'saving' : 'saved' });
  }

  /** Removes a queued entry whose ops were all given up (in a conflict); a stored one leaves the outbox too. */
  /**
   * Stores the new state of queued entries a subclass rewrote (in memory,
   * all at once) and removes those it gave up (already out of the queue).
   * Waits first for entries still being stored, so none is left behind in
   * the outbox with its old ops.
   */
  protected async persistRewrite(updated: Iterable<OutboxEntry<Op>>, removed: Iterable<OutboxEntry<Op>>): Promise<void> {
    await this.pendingWrites;
    for (const e of updated) if (e.seq !== undefined && this.queue.includes(e)) await this.outbox.update(e);
    for (const e of removed) if (e.seq !== undefined) await this.outbox.remove(e.seq);
    this.set({ queued: this.queue.length });
  }

  /** Clears the conflict after a subclass rewrote the head entry, and sends on. */
  protected async resumeAfterConflict(): Promise<void> {
    this.set({ conflict: null, status: 'saving' });
    await this.drain();
  }

  private leavingKey(): string {
    return `${this.server}|${this.outboxKey}`;
  }

  /**
   * Leaving the slide: take no more edits, but keep sending what is queued
   * (retrying as usual) so that switching slides never strands an edit.
   */
  detach(): void {
    this.unobserve();
    const key = this.leavingKey();
    OutboxSender.leaving.get(key)?.stop();
    OutboxSender.leaving.set(key, this as OutboxSender<unknown, unknown, unknown>);
    const off = this.onChange((s) => {
      // done; or stuck on something only a visit to the slide can settle (a conflict, a refusal):
      // then stop, so whichever tab opens the slide next takes the queue over
      const done = s.status === 'saved' && s.queued === 0;
      if (!done && s.status !== 'conflict' && s.status !== 'error') return;
      queueMicrotask(() => off());
      if (OutboxSender.leaving.get(key) === (this as unknown)) OutboxSender.leaving.delete(key);
      this.stop();
    });
    void this.pendingWrites.then(() => this.drain());
  }

  /**
   * Before a slide is opened again: lets the sender that left it finish
   * sending (up to `waitMs`), then stops it, so two senders never send the
   * same queue at once. Whatever it did not send is still in the outbox.
   */
  async handOver(waitMs = 5000): Promise<void> {
    const key = this.leavingKey();
    const prev = OutboxSender.leaving.get(key);
    if (!prev || prev === (this as unknown)) return;
    if (!prev.stopped) await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      const off = prev.onChange((s) => {
        if ((s.status === 'saved' && s.queued === 0) || prev.stopped) {
          clearTimeout(timer);
          queueMicrotask(() => off());
          resolve();
        }
      });
    });
    prev.stop();
    await prev.running;
    await prev.pendingWrites;
    if (OutboxSender.leaving.get(key) === prev) OutboxSender.leaving.delete(key);
  }

  stop(): void {
    this.stopped = true;
    this.presence.release();
    this.unobserve();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onOnline);
  }
}
