/**
 * Slide views in the audit log (issue 12): the first read of a slide by a
 * session is one `slide.open` record; later reads are only counted, and a
 * flush writes the counts of every session in `slide.views` records, keyed
 * by the seq of each `slide.open` record. A store that refuses the open
 * record is not asked again for every tile.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../tiles-server/audit/audit-log.js';
import type { SlideScope } from '../../tiles-server/identity/access-service.js';
import type { Principal } from '../../tiles-server/identity/auth-service.js';
import { ViewCounter } from '../../tiles-server/identity/view-counter.js';
import type { AuditRecord } from '../../tiles-server/store/audit-store.js';

function principal(userId: string, sessionHash: string): Principal {
  return {
    user: { id: userId } as Principal['user'],
    via: 'session',
    scope: 'write',
    sessionHash,
    csrfHash: null,
    tokenId: null,
  };
}

function scope(projectSlideId: string): SlideScope {
  return { projectSlideId, project: { id: 'p1' } } as SlideScope;
}

/** An audit log in memory that numbers what it is given, or refuses everything. */
function memoryLog(refuse = false): { written: Array<AuditEvent & { seq: number }>; calls: number; append: (events: AuditEvent[]) => AuditRecord[] } {
  const log = {
    written: [] as Array<AuditEvent & { seq: number }>,
    calls: 0,
    append: (events: AuditEvent[]): AuditRecord[] => {
      log.calls++;
      if (refuse) return [];
      return events.map((e) => {
        const seq = log.written.length + 1;
        log.written.push({ ...e, seq });
        return { seq } as AuditRecord;
      });
    },
  };
  return log;
}

describe('slide views in the audit log', () => {
  it('records the first read of each slide per session, then the counts keyed by those records', () => {
    const log = memoryLog();
    const views = new ViewCounter(log.append, 60_000);
    const a = principal('u-a', 's-a');
    const b = principal('u-b', 's-b');
    for (let i = 0; i < 40; i++) views.note(a, scope('slide-1'), () => '10.0.0.1');
    for (let i = 0; i < 5; i++) views.note(a, scope('slide-2'), () => '10.0.0.1');
    views.note(b, scope('slide-1'), () => '10.0.0.2');
    views.note(b, scope('slide-1'), () => '10.0.0.2');
    expect(log.written.map((r) => [r.seq, r.action, r.actor, r.target, r.ip])).toEqual([
      [1, 'slide.open', 'u-a', 'slide-1', '10.0.0.1'],
      [2, 'slide.open', 'u-a', 'slide-2', '10.0.0.1'],
      [3, 'slide.open', 'u-b', 'slide-1', '10.0.0.2'],
    ]);
    views.close();
    expect(log.written.slice(3)).toEqual([{ seq: 4, actor: null, action: 'slide.views', detail: { '1': 39, '2': 4, '3': 1 } }]);
    // counted again from zero after a flush, under the same open records
    views.note(a, scope('slide-2'), () => '10.0.0.1');
    views.flush();
    expect(log.written.slice(4)).toEqual([{ seq: 5, actor: null, action: 'slide.views', detail: { '2': 1 } }]);
    // nothing read since: no record
    views.flush();
    expect(log.written).toHaveLength(5);
  });

  it('splits the counts of many sessions over records of at most 1000 counts', () => {
    const log = memoryLog();
    const views = new ViewCounter(log.append, 60_000);
    for (let s = 0; s < 2500; s++) {
      views.note(principal(`u-${s}`, `s-${s}`), scope('slide-1'), () => '10.0.0.1');
      views.note(principal(`u-${s}`, `s-${s}`), scope('slide-1'), () => '10.0.0.1');
    }
    views.close();
    const counts = log.written.filter((r) => r.action === 'slide.views').map((r) => Object.keys(r.detail ?? {}).length);
    expect(counts).toEqual([1000, 1000, 500]);
  });

  it('asks a store that refused the open record again only every 5 s, and records the view once it takes it', () => {
    const log = memoryLog();
    let refusing = true;
    let attempts = 0;
    let clock = 1_000_000;
    const views = new ViewCounter(
      (e) => {
        attempts++;
        return refusing ? [] : log.append(e);
      },
      60_000,
      () => clock,
    );
    const a = principal('u-a', 's-a');
    for (let i = 0; i < 100; i++) views.note(a, scope('slide-1'), () => '10.0.0.1');
    expect(attempts, 'one attempt, not one per tile').toBe(1);
    clock += 4000;
    views.note(a, scope('slide-1'), () => '10.0.0.1');
    expect(attempts).toBe(1);
    // the store has recovered: the next read after 5 s records the view, and reads after it are counted
    refusing = false;
    clock += 1000;
    views.note(a, scope('slide-1'), () => '10.0.0.1');
    views.note(a, scope('slide-1'), () => '10.0.0.1');
    views.close();
    expect(log.written.map((r) => [r.action, r.detail ?? null])).toEqual([
      ['slide.open', null],
      ['slide.views', { '1': 1 }],
    ]);
  });
});
