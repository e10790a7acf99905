/** The decode pool under faults: a killed worker (FAULT-01), timeouts, queue bounds, aborts; and its priorities. */
import { deflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { currentPriority, LagGuard, Lane, priorityContextActive } from '../../tiles-server/admission.js';
import { DecodePool } from '../../tiles-server/decode/pool.js';
import type { BlockDecodeRequest } from '../../tiles-server/decode/block-decoder.js';
import { lzwEncode } from '../../tiles-server/tiff/lzw-encode.js';

const req = (w: number, h: number, compression = 8): BlockDecodeRequest => ({
  compression,
  width: w,
  height: h,
  samples: 3,
  bitsPerSample: 8,
  sampleFormat: 1,
  predictor: 1,
  photometric: 2,
  alphaSample: -1,
  output: 'rgb',
  littleEndian: true,
});

let pool: DecodePool | null = null;
afterEach(async () => {
  await pool?.close();
  pool = null;
});

describe('decode pool', () => {
  it('decodes in worker threads', async () => {
    pool = new DecodePool({ workers: 2, maxQueue: 10, timeoutMs: 10_000, maxHeapMb: 128 });
    const raw = Buffer.alloc(64 * 64 * 3, 9);
    const out = await pool.decode(req(64, 64), deflateSync(raw));
    expect(Buffer.from(out.data).equals(raw)).toBe(true);
    expect(out.short).toBeNull();
    // a block whose data ends early comes back zero-filled, and says so
    const short = await pool.decode(req(64, 64), deflateSync(raw.subarray(0, 1000)));
    expect(short.short).toEqual({ decoded: 1000, expected: 64 * 64 * 3 });
    expect(short.data.subarray(1000).every((v) => v === 0)).toBe(true);
  });

  it('a killed worker fails only its job with a 503 code, and is replaced (FAULT-01)', async () => {
    pool = new DecodePool({ workers: 1, maxQueue: 10, timeoutMs: 20_000, maxHeapMb: 256 });
    // a large LZW block keeps the worker busy long enough to kill it
    const big = lzwEncode(new Uint8Array(4096 * 4096 * 3).map((_, i) => (i * 7) & 255));
    const job = pool.decode(req(4096, 4096, 5), big);
    await new Promise((r) => setTimeout(r, 100));
    pool.killOne();
    await expect(job).rejects.toMatchObject({ code: 'DECODER_CRASHED' });
    expect(pool.restarts).toBe(1);
    const raw = Buffer.alloc(32 * 32 * 3, 5);
    expect(Buffer.from((await pool.decode(req(32, 32), deflateSync(raw))).data).equals(raw)).toBe(true);
  });

  it('times out a runaway decode and keeps serving', async () => {
    pool = new DecodePool({ workers: 1, maxQueue: 10, timeoutMs: 50, maxHeapMb: 256 });
    const big = lzwEncode(new Uint8Array(4096 * 4096 * 3).map((_, i) => (i * 13) & 255));
    await expect(pool.decode(req(4096, 4096, 5), big)).rejects.toMatchObject({ code: 'DECODE_TIMEOUT' });
    const raw = Buffer.alloc(16 * 16 * 3, 1);
    expect(Buffer.from((await pool.decode(req(16, 16), deflateSync(raw))).data).equals(raw)).toBe(true);
  });

  it('refuses work beyond its queue bound with OVERLOADED', async () => {
    pool = new DecodePool({ workers: 1, maxQueue: 2, timeoutMs: 10_000, maxHeapMb: 128 });
    const block = deflateSync(Buffer.alloc(512 * 512 * 3));
    const jobs = Array.from({ length: 8 }, () => pool?.decode(req(512, 512), block).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error'));
    const results = await Promise.all(jobs);
    expect(results.filter((r) => r === 'OVERLOADED').length).toBeGreaterThanOrEqual(5);
    expect(results.filter((r) => r === 'ok').length).toBeGreaterThanOrEqual(1);
  });

  it('drops a queued job whose request was aborted', async () => {
    pool = new DecodePool({ workers: 1, maxQueue: 10, timeoutMs: 10_000, maxHeapMb: 128 });
    await pool.whenReady();
    const block = deflateSync(Buffer.alloc(1024 * 1024 * 3));
    const first = pool.decode(req(1024, 1024), block);
    const ctl = new AbortController();
    const second = pool.decode(req(1024, 1024), block, ctl.signal);
    expect(pool.queued).toBe(1);
    ctl.abort(new DOMException('gone', 'AbortError'));
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    expect(pool.queued).toBe(0);
    await first;
  });

  it('runs interactive jobs before queued background ones (large renders never hold up tiles)', async () => {
    pool = new DecodePool({ workers: 1, maxQueue: 64, timeoutMs: 10_000, maxHeapMb: 128 });
    await pool.whenReady();
    const p = pool;
    const block = deflateSync(Buffer.alloc(1024 * 1024 * 3, 7));
    const order: string[] = [];
    const background = new Lane({ name: 'bg', concurrency: 1, maxQueued: 0, priority: 'background', busyMessage: 'busy' });
    const bg = background.run(() =>
      Promise.all(Array.from({ length: 6 }, (_, i) => p.decode(req(1024, 1024), block).then(() => order.push(`bg${i}`)))),
    );
    // the first background job is running; an interactive one arrives (first in first out would run it last)
    await new Promise((r) => setTimeout(r, 0));
    const fg = p.decode(req(1024, 1024), block).then(() => order.push('fg'));
    await Promise.all([bg, fg]);
    expect(order.indexOf('fg')).toBeLessThan(3);
    expect(order).toHaveLength(7);
  });
});

describe('lanes', () => {
  it('carry their priority down to the work they run, and switch the async context off when no background work runs (issue 10)', async () => {
    const fg = new Lane({ name: 'fg', concurrency: 2, maxQueued: 0, priority: 'interactive', busyMessage: 'busy' });
    const bg = new Lane({ name: 'bg', concurrency: 2, maxQueued: 0, priority: 'background', busyMessage: 'busy' });
    const seen: string[] = [];
    const after = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    await fg.run(async () => {
      await after(1);
      seen.push(`fg:${currentPriority()}`);
    });
    // an interactive lane alone never turns the context (and its promise hooks) on
    expect(priorityContextActive()).toBe(false);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const running = bg.run(async () => {
      await after(1);
      seen.push(`bg:${currentPriority()}`);
      // interactive work started from a background job is interactive again
      await fg.run(async () => {
        await after(1);
        seen.push(`bg>fg:${currentPriority()}`);
      });
      seen.push(`bg again:${currentPriority()}`);
      await gate;
    });
    await after(20);
    expect(priorityContextActive()).toBe(true);
    // work outside any lane meanwhile stays interactive
    seen.push(`outside:${currentPriority()}`);
    release();
    await running;
    expect(priorityContextActive()).toBe(false);
    expect(currentPriority()).toBe('interactive');
    expect(seen).toEqual(['fg:interactive', 'bg:background', 'bg>fg:interactive', 'bg again:background', 'outside:interactive']);
  });
  it('bound what runs and waits, refuse the rest with OVERLOADED, and let waiters leave on abort', async () => {
    const lane = new Lane({ name: 'test', concurrency: 1, maxQueued: 1, priority: 'interactive', busyMessage: 'too busy' });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const first = lane.run(() => gate);
    const ctl = new AbortController();
    const waiting = lane.run(() => Promise.resolve('ran'), ctl.signal);
    await expect(lane.run(() => Promise.resolve('x'))).rejects.toMatchObject({ code: 'OVERLOADED', detail: { lane: 'test' } });
    expect(lane.stats).toMatchObject({ active: 1, queued: 1, refused: 1 });
    ctl.abort(new DOMException('gone', 'AbortError'));
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(lane.stats.queued).toBe(0);
    const third = lane.run(() => Promise.resolve('third'));
    release();
    await first;
    await expect(third).resolves.toBe('third');
  });
  it('serve waiters first come, first served, and a new arrival queues behind them even while a slot is handed over', async () => {
    const lane = new Lane({ name: 'fifo', concurrency: 1, maxQueued: 10, priority: 'interactive', busyMessage: 'busy', yieldBetween: true });
    const order: string[] = [];
    let release: () => void = () => undefined;
    const first = lane.run(() => new Promise<void>((r) => (release = r)));
    const a = lane.run(async () => void order.push('a'));
    const b = lane.run(async () => void order.push('b'));
    release();
    await first;
    // the slot is in hand-off to 'a' (next turn of the loop): a newcomer must not take it
    const c = lane.run(async () => void order.push('c'));
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(lane.stats).toMatchObject({ active: 0, queued: 0, admitted: 4 });
  });

  it('with yieldBetween, jobs that finish at once still let other callbacks of the loop run between them (a health check is not held up)', async () => {
    const lane = new Lane({ name: 'yield', concurrency: 1, maxQueued: 1000, priority: 'interactive', busyMessage: 'busy', yieldBetween: true });
    let done = 0;
    const jobs = Array.from({ length: 200 }, () => lane.run(async () => void done++));
    // a timer due now: without the yield the whole queue would run (in microtasks) before it
    const seenAt = await new Promise<number>((r) => setImmediate(() => r(done)));
    await Promise.all(jobs);
    expect(done).toBe(200);
    expect(seenAt).toBeLessThan(10);
  });

  it('refuse a job that has waited maxWaitMs (503 OVERLOADED) even while the place it waits for is still taken, and pass the slot on later', async () => {
    const lane = new Lane({ name: 'stale', concurrency: 1, maxQueued: 10, priority: 'interactive', busyMessage: 'busy', maxWaitMs: 30, yieldBetween: true });
    let release: () => void = () => undefined;
    const first = lane.run(() => new Promise<void>((r) => (release = r)));
    const late = lane.run(async () => 'late');
    // the slot is still held when the wait runs out
    await expect(late).rejects.toMatchObject({ code: 'OVERLOADED', detail: { lane: 'stale' } });
    expect(lane.stats).toMatchObject({ active: 1, queued: 0, stale: 1, refused: 1 });
    // a job handed the slot before its time ran out is not refused by its timer
    const next = lane.run(async () => 'next');
    release();
    await first;
    await new Promise((r) => setTimeout(r, 60));
    await expect(next).resolves.toBe('next');
    expect(lane.stats).toMatchObject({ active: 0, queued: 0, stale: 1 });
    await expect(lane.run(async () => 'fresh')).resolves.toBe('fresh');
  });

  it('pass the slot on when the waiter it was handed to has gone meanwhile', async () => {
    const lane = new Lane({ name: 'gone', concurrency: 1, maxQueued: 10, priority: 'interactive', busyMessage: 'busy', yieldBetween: true });
    let release: () => void = () => undefined;
    const first = lane.run(() => new Promise<void>((r) => (release = r)));
    const ctl = new AbortController();
    const leaving = lane.run(async () => 'never', ctl.signal);
    const next = lane.run(async () => 'next');
    release();
    await first;
    // handed over (in the next turn), then aborted before that turn
    ctl.abort(new DOMException('gone', 'AbortError'));
    await expect(leaving).rejects.toMatchObject({ name: 'AbortError' });
    await expect(next).resolves.toBe('next');
    expect(lane.stats).toMatchObject({ active: 0, queued: 0 });
  });
});

describe('event-loop lag guard', () => {
  it('sheds only after the loop has lagged for the set number of windows, and recovers', async () => {
    const guard = new LagGuard({ maxLagMs: 100, windowMs: 100, windows: 3 });
    try {
      const block = (ms: number): void => {
        const end = performance.now() + ms;
        while (performance.now() < end) {
          // the loop is busy
        }
      };
      const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
      expect(() => guard.admit()).not.toThrow();
      // a single spike: one window over the limit
      block(200);
      await new Promise((r) => setTimeout(r, 120));
      expect(() => guard.admit()).not.toThrow();
      // sustained: the loop stays busy across several windows
      for (let i = 0; i < 8; i++) {
        block(200);
        await tick();
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(() => guard.admit()).toThrow(expect.objectContaining({ code: 'OVERLOADED' }) as Error);
      expect(guard.shed).toBe(1);
      // idle again
      await new Promise((r) => setTimeout(r, 450));
      expect(() => guard.admit()).not.toThrow();
    } finally {
      guard.close();
    }
  });
});
