/**
 * Slide views for the audit log without a record per tile: the first read
 * of a slide by a session (or token) is recorded at once as `slide.open`;
 * after that only a count is kept in memory. A flush (every `flushMs`, and
 * at shutdown) writes the counts of every session as `slide.views` records,
 * each count keyed by the seq of its `slide.open` record, which names the
 * user, session's slide and project: about ten bytes per slide and session
 * instead of a record each (the audit log grows by under 200 bytes per
 * slide view: docs/benchmarks.md).
 */
import type { AuditEvent } from '../audit/audit-log.js';
import type { AuditRecord } from '../store/audit-store.js';
import type { SlideScope } from './access-service.js';
import type { Principal } from './auth-service.js';

/** How long after a refused slide.open record the next read of that slide tries again (not a write per tile). */
const RETRY_MS = 5000;

/** Counts per `slide.views` record, so that no record grows without bound. */
const PER_RECORD = 1000;

export class ViewCounter {
  /** credential|project slide → the seq of its slide.open record */
  private readonly opened = new Map<string, number>();
  /** credential|project slide → when writing its slide.open record last failed (tried again after RETRY_MS) */
  private readonly failedAt = new Map<string, number>();
  /** seq of a slide.open record → reads since the last flush */
  private readonly counts = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    /** Appends records; returns those written ([] when the store refused them). */
    private readonly audit: (events: AuditEvent[]) => AuditRecord[],
    flushMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  /** Notes one read of a slide's pixels (a tile, a region, a thumbnail). */
  note(p: Principal, scope: SlideScope, ip: () => string): void {
    const credential = p.sessionHash ?? p.tokenId ?? p.user.id;
    const key = `${credential}|${scope.projectSlideId}`;
    const open = this.opened.get(key);
    if (open === undefined) {
      // a store that refused the record (full, busy) is asked again after RETRY_MS, not at every tile
      const failed = this.failedAt.get(key);
      if (failed !== undefined && this.now() - failed < RETRY_MS) return;
      const [written] = this.audit([{ actor: p.user.id, action: 'slide.open', projectId: scope.project.id, target: scope.projectSlideId, ip: ip() }]);
      if (written) {
        this.opened.set(key, written.seq);
        this.failedAt.delete(key);
      } else this.failedAt.set(key, this.now());
      return;
    }
    this.counts.set(open, (this.counts.get(open) ?? 0) + 1);
  }

  /** Writes the counts since the last flush as `slide.views` records, and starts over. */
  flush(): void {
    const events: AuditEvent[] = [];
    let detail: Record<string, number> = {};
    let n = 0;
    for (const [open, reads] of this.counts) {
      detail[open] = reads;
      if (++n % PER_RECORD === 0) {
        events.push({ actor: null, action: 'slide.views', detail });
        detail = {};
      }
    }
    if (n % PER_RECORD !== 0) events.push({ actor: null, action: 'slide.views', detail });
    this.counts.clear();
    if (this.opened.size > 100_000) this.opened.clear();
    if (this.failedAt.size > 10_000) this.failedAt.clear();
    if (events.length > 0) this.audit(events);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
