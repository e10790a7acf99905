/**
 * Slide views for the audit log without a record per tile: the first read
 * of a slide by a session (or token) is recorded at once as `slide.open`;
 * after that only a count is kept in memory, and each session's counts are
 * written as one `slide.views` record when they are flushed (every
 * `flushMs`, and at shutdown).
 */
import type { AuditEvent } from '../audit/audit-log.js';
import type { SlideScope } from './access-service.js';
import type { Principal } from './auth-service.js';

interface Counts {
  actor: string;
  /** project-slide id → reads since the last flush */
  slides: Map<string, number>;
}

export class ViewCounter {
  private readonly opened = new Set<string>();
  private readonly counts = new Map<string, Counts>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly audit: (events: AuditEvent[]) => void,
    flushMs = 10 * 60_000,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  /** Notes one read of a slide's pixels (a tile, a region, a thumbnail). */
  note(p: Principal, scope: SlideScope, ip: string): void {
    const credential = p.sessionHash ?? p.tokenId ?? p.user.id;
    const key = `${credential}|${scope.projectSlideId}`;
    if (!this.opened.has(key)) {
      this.opened.add(key);
      this.audit([{ actor: p.user.id, action: 'slide.open', projectId: scope.project.id, target: scope.projectSlideId, ip }]);
      return;
    }
    const c = this.counts.get(credential) ?? { actor: p.user.id, slides: new Map<string, number>() };
    c.slides.set(scope.projectSlideId, (c.slides.get(scope.projectSlideId) ?? 0) + 1);
    this.counts.set(credential, c);
  }

  /** Writes one `slide.views` record per session with counts, and starts over. */
  flush(): void {
    const events: AuditEvent[] = [];
    for (const c of this.counts.values()) {
      const detail: Record<string, number> = {};
      for (const [slide, n] of c.slides) detail[slide] = n;
      events.push({ actor: c.actor, action: 'slide.views', detail });
    }
    this.counts.clear();
    if (this.opened.size > 100_000) this.opened.clear();
    this.audit(events);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
