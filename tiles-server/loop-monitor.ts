/**
 * What holds the event loop (issue 10: `/api/health` within 50 ms under
 * LOAD-05 and LOAD-06). No request is answered while the loop's thread is
 * busy, so a health check waits for whatever turn is running: a batch of
 * requests, or a garbage-collection pause. This counts both, cumulatively,
 * so a bench can take the difference between two readings of
 * `/api/health` (admins' details) and attribute a case's long stalls:
 * - stalls: a timer that should fire every 10 ms notes how late it fires;
 *   a lateness over 20/50/100 ms is a turn that long (or a GC inside one);
 * - GC: every pause of this thread by kind (scavenge, mark-compact,
 *   incremental marking step, weak callbacks), its count, total and
 *   longest duration, and how many of the stalls over 50 ms had a
 *   mark-compact pause inside them (and for how long).
 * Both are timings of this thread, so on a machine whose cores are
 * contended they include the time the thread waited for a core.
 */
import { constants, PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';

const TICK_MS = 10;
const STALL_THRESHOLDS = [20, 50, 100] as const;

type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb';

const KIND_OF: Record<number, GcKind> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export interface GcCounts {
  count: number;
  totalMs: number;
  maxMs: number;
  /** Pauses longer than 50 ms. */
  over50: number;
}

export interface LoopReading {
  /** Timer ticks seen (one per 10 ms of an idle loop). */
  ticks: number;
  /** Ticks that came at least this late (ms): stalls of the loop. */
  stallsOver20: number;
  stallsOver50: number;
  stallsOver100: number;
  /** The longest stall seen (ms). */
  maxStallMs: number;
  /** Stalls over 50 ms with a mark-compact pause (kind `major`) inside, and those pauses' total (ms). */
  stallsOver50WithMajorGc: number;
  majorGcMsInStalls: number;
  gc: Record<GcKind, GcCounts>;
}

interface Stall {
  start: number;
  end: number;
  withMajor: boolean;
}

function zeroGc(): Record<GcKind, GcCounts> {
  const z = (): GcCounts => ({ count: 0, totalMs: 0, maxMs: 0, over50: 0 });
  return { minor: z(), major: z(), incremental: z(), weakcb: z() };
}

/** Whether a pause lies within a stall (1 ms of slack for the clocks' rounding). */
function inside(p: { start: number; end: number }, s: { start: number; end: number }): boolean {
  return p.start >= s.start - 1 && p.end <= s.end + 1;
}

export class LoopMonitor {
  private readonly timer: NodeJS.Timeout;
  private readonly observer: PerformanceObserver;
  private last = performance.now();
  private readonly r: LoopReading = { ticks: 0, stallsOver20: 0, stallsOver50: 0, stallsOver100: 0, maxStallMs: 0, stallsOver50WithMajorGc: 0, majorGcMsInStalls: 0, gc: zeroGc() };
  /** The last stalls over 50 ms, to match against GC pauses reported after them. */
  private readonly recent: Stall[] = [];
  /** The last mark-compact pauses, to match against stalls noticed after them. */
  private readonly majors: Array<{ start: number; end: number; matched: boolean }> = [];

  constructor() {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.noteGc(e);
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  private tick(): void {
    const now = performance.now();
    const late = now - this.last - TICK_MS;
    this.last = now;
    this.r.ticks++;
    if (late < STALL_THRESHOLDS[0]) return;
    this.r.stallsOver20++;
    if (late >= 50) {
      this.r.stallsOver50++;
      const stall: Stall = { start: now - late - TICK_MS, end: now, withMajor: false };
      // a pause reported before the stall was noticed (GC entries come in the same turn, timers in the next)
      for (const g of this.majors) if (!g.matched && inside(g, stall)) this.attribute(stall, g);
      this.recent.push(stall);
      if (this.recent.length > 32) this.recent.shift();
    }
    if (late >= 100) this.r.stallsOver100++;
    this.r.maxStallMs = Math.max(this.r.maxStallMs, Math.round(late * 10) / 10);
  }

  private noteGc(e: PerformanceEntry): void {
    const kindNo = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
    const kind = KIND_OF[kindNo];
    if (!kind) return;
    const g = this.r.gc[kind];
    g.count++;
    g.totalMs += e.duration;
    g.maxMs = Math.max(g.maxMs, e.duration);
    if (e.duration > 50) g.over50++;
    if (kind !== 'major') return;
    const pause = { start: e.startTime, end: e.startTime + e.duration, matched: false };
    const s = this.recent.find((x) => inside(pause, x));
    if (s) this.attribute(s, pause);
    else {
      this.majors.push(pause);
      if (this.majors.length > 16) this.majors.shift();
    }
  }

  private attribute(stall: Stall, pause: { start: number; end: number; matched: boolean }): void {
    pause.matched = true;
    if (!stall.withMajor) {
      stall.withMajor = true;
      this.r.stallsOver50WithMajorGc++;
    }
    this.r.majorGcMsInStalls += pause.end - pause.start;
  }

  /** The counts since the server started (rounded for JSON). */
  reading(): LoopReading {
    const round = (g: GcCounts): GcCounts => ({ count: g.count, totalMs: Math.round(g.totalMs * 10) / 10, maxMs: Math.round(g.maxMs * 10) / 10, over50: g.over50 });
    const gc = this.r.gc;
    return {
      ...this.r,
      majorGcMsInStalls: Math.round(this.r.majorGcMsInStalls * 10) / 10,
      gc: { minor: round(gc.minor), major: round(gc.major), incremental: round(gc.incremental), weakcb: round(gc.weakcb) },
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.observer.disconnect();
  }
}
