/**
 * Admission control: who gets to spend the server's two cores. Work runs in
 * named lanes, each with its own concurrency and a bounded queue (past it:
 * 503 OVERLOADED with Retry-After), so a heavy render never holds up the
 * small tiles a viewer is waiting for. Work started from a background lane
 * carries a low priority down to the decode pool (through async context, so
 * every layer in between stays unaware of it). An event-loop guard sheds
 * cheap-to-retry reads early when the process itself is saturated (the loop
 * busy nearly all the time, or lagging), which keeps admitted requests and
 * /api/health fast.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { WsiError } from '../src/core/errors.js';

export type Priority = 'interactive' | 'background';

const priorityContext = new AsyncLocalStorage<Priority>();
/** Background jobs running now: the context is enabled only while there are some. */
let backgroundJobs = 0;

/** Priority of the work running now ('interactive' unless started in a background lane). */
export function currentPriority(): Priority {
  return priorityContext.getStore() ?? 'interactive';
}

/**
 * Runs `fn` at `priority`. Only background work enters the async context:
 * while a store is in use, Node 20 runs promise hooks on every promise of
 * the process (about 2.5% of the loop's time under LOAD-06), so the
 * interactive lanes, which carry the default, enter it only to leave a
 * background context, and the context is switched off again once no
 * background job runs.
 */
export async function withPriority<T>(priority: Priority, fn: () => Promise<T>): Promise<T> {
  if (priority === 'interactive') return currentPriority() === 'background' ? priorityContext.run(priority, fn) : fn();
  backgroundJobs++;
  try {
    return await priorityContext.run(priority, fn);
  } finally {
    // what a finished job left running (a timer, a late callback) then counts as interactive
    if (--backgroundJobs === 0) priorityContext.disable();
  }
}

/** Whether the priority context (and its promise hooks) is on now: only while background work runs. */
export function priorityContextActive(): boolean {
  return backgroundJobs > 0;
}

export interface LaneOptions {
  name: string;
  /** Jobs running at once. */
  concurrency: number;
  /** Jobs allowed to wait; more are refused with 503. */
  maxQueued: number;
  priority: Priority;
  /** What a refused caller is told, e.g. "too many large renders". */
  busyMessage: string;
  /** A job that has waited this long for its turn is refused (503) then (0: never). */
  maxWaitMs?: number;
  /**
   * Hand a freed slot to the next job in a later turn of the event loop
   * (setImmediate), not in the same one: jobs that finish without I/O (a
   * cached tile) then cannot run the whole queue in one turn, and whatever
   * else is ready (a health check, another connection) is served in between.
   */
  yieldBetween?: boolean;
}

export interface LaneStats {
  active: number;
  queued: number;
  admitted: number;
  refused: number;
  /** Refused because they waited longer than maxWaitMs. */
  stale: number;
}

interface Waiter {
  /** Called with the slot already counted as this job's. */
  go(): void;
  /** Refuses the job once it has waited maxWaitMs (cleared when it is handed a slot). */
  timer: NodeJS.Timeout | null;
}

export class Lane {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private admitted = 0;
  private refused = 0;
  private stale = 0;

  constructor(readonly opts: LaneOptions) {}

  get stats(): LaneStats {
    return { active: this.active, queued: this.waiting.length, admitted: this.admitted, refused: this.refused, stale: this.stale };
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    // first come, first served: a job arriving while others wait queues behind them even if a slot is in hand-off
    if (this.active >= this.opts.concurrency || this.waiting.length > 0) {
      if (this.waiting.length >= this.opts.maxQueued) {
        this.refused++;
        throw new WsiError('OVERLOADED', `${this.opts.busyMessage}; retry shortly`, { lane: this.opts.name });
      }
      const maxWait = this.opts.maxWaitMs ?? 0;
      await new Promise<void>((resolve, reject) => {
        const leave = (): void => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
        };
        const onAbort = (): void => {
          if (waiter.timer) clearTimeout(waiter.timer);
          leave();
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          // refused when it has waited too long, whether or not a place frees meanwhile
          timer:
            maxWait > 0
              ? setTimeout(() => {
                  signal?.removeEventListener('abort', onAbort);
                  leave();
                  this.stale++;
                  this.refused++;
                  reject(new WsiError('OVERLOADED', `${this.opts.busyMessage}; retry shortly`, { lane: this.opts.name, waitedMs: maxWait }));
                }, maxWait)
              : null,
          go: () => {
            signal?.removeEventListener('abort', onAbort);
            if (signal?.aborted) {
              // the caller left between the hand-off and its turn: the slot goes on
              this.release();
              reject(signal.reason);
            } else resolve();
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(waiter);
      });
    } else this.active++;
    this.admitted++;
    try {
      return await withPriority(this.opts.priority, fn);
    } finally {
      this.release();
    }
  }

  /** Frees a slot: it passes straight to the next waiter, if any. */
  private release(): void {
    const next = this.waiting.shift();
    if (!next) {
      this.active--;
      return;
    }
    if (next.timer) clearTimeout(next.timer);
    if (this.opts.yieldBetween) setImmediate(() => next.go());
    else next.go();
  }
}

const SAMPLE_MS = 20;

export interface LagGuardOptions {
  /** Shed when the event loop's longest delay in each of the last `windows` windows exceeds this (0: never). */
  maxLagMs: number;
  /**
   * Shed when the event loop was busy at least this share of each of the
   * last `windows` windows (its utilisation, 0..1; 0: never): saturation
   * seen before a backlog has built into lag.
   */
  maxBusy?: number;
  /** Window over which the delay is measured. */
  windowMs: number;
  /** Consecutive windows over the limit before shedding starts (a single spike never sheds). */
  windows: number;
}

/**
 * Watches the event loop's delay and how busy it is. While either is over
 * its limit the process is saturated: queueing more work only makes every
 * answer later, so cheap, retryable reads are refused at once instead.
 */
export class LagGuard {
  private readonly timer: NodeJS.Timeout;
  private lagMs = 0;
  private worst = 0;
  private over = 0;
  private busyShare = 0;
  private overBusy = 0;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private last = performance.now();
  private windowStart = this.last;
  shed = 0;
  /** Of `shed`, refused because the loop was busy (the rest: lag). */
  shedBusy = 0;

  constructor(private readonly opts: LagGuardOptions) {
    // a sampler that should tick every SAMPLE_MS: how late it ticks is how long the loop was busy
    this.timer = setInterval(() => {
      const now = performance.now();
      this.worst = Math.max(this.worst, now - this.last - SAMPLE_MS);
      this.last = now;
      if (now - this.windowStart >= opts.windowMs) {
        this.lagMs = this.worst;
        this.over = this.worst > opts.maxLagMs ? this.over + 1 : 0;
        const elu = performance.eventLoopUtilization();
        this.busyShare = performance.eventLoopUtilization(elu, this.elu).utilization;
        this.elu = elu;
        this.overBusy = (opts.maxBusy ?? 0) > 0 && this.busyShare >= (opts.maxBusy ?? 0) ? this.overBusy + 1 : 0;
        this.worst = 0;
        this.windowStart = now;
      }
    }, SAMPLE_MS);
    this.timer.unref();
  }

  /** Longest event-loop delay (ms) in the last window. */
  get lag(): number {
    return this.lagMs;
  }

  /** Share of the last window (0..1) the event loop was busy. */
  get busy(): number {
    return this.busyShare;
  }

  /** Throws OVERLOADED when the process is saturated. */
  admit(): void {
    const lagging = this.opts.maxLagMs > 0 && this.over >= this.opts.windows;
    if (lagging || this.overBusy >= this.opts.windows) {
      this.shed++;
      if (!lagging) this.shedBusy++;
      throw new WsiError('OVERLOADED', 'the server is saturated; retry shortly', { lagMs: Math.round(this.lagMs), busy: Math.round(this.busyShare * 100) / 100 });
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
