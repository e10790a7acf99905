/**
 * The event-loop monitor behind /api/health's `loop` details (issue 10:
 * health within 50 ms under LOAD-05/06): a loop held busy is counted as a
 * stall of that length, and a forced mark-compact GC is counted as a major
 * pause.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { LoopMonitor } from '../../tiles-server/loop-monitor.js';

let monitor: LoopMonitor | null = null;
afterEach(() => {
  monitor?.close();
  monitor = null;
});

const idle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LoopMonitor', () => {
  it('counts a busy stretch of the loop as a stall of its length', async () => {
    const m = (monitor = new LoopMonitor());
    await idle(50);
    const before = m.reading();
    const until = performance.now() + 130;
    while (performance.now() < until) {
      // the loop's thread held: no timer can fire
    }
    await idle(40);
    const after = m.reading();
    expect(after.ticks).toBeGreaterThan(before.ticks);
    expect(after.stallsOver50 - before.stallsOver50).toBeGreaterThanOrEqual(1);
    expect(after.stallsOver100 - before.stallsOver100).toBeGreaterThanOrEqual(1);
    expect(after.maxStallMs).toBeGreaterThanOrEqual(100);
  });

  it('counts mark-compact pauses by kind', async () => {
    const m = (monitor = new LoopMonitor());
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const before = m.reading().gc.major.count;
    gc();
    // GC entries are delivered to the observer after the pause
    await idle(50);
    const r = m.reading();
    expect(r.gc.major.count).toBeGreaterThan(before);
    expect(r.gc.major.totalMs).toBeGreaterThan(0);
    expect(r.gc.major.maxMs).toBeGreaterThan(0);
  });

  it('attributes a stall to the mark-compact pauses inside it', async () => {
    const m = (monitor = new LoopMonitor());
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    await idle(30);
    const before = m.reading();
    const until = performance.now() + 80;
    gc();
    while (performance.now() < until) {
      // the rest of a long turn
    }
    await idle(50);
    const r = m.reading();
    expect(r.stallsOver50WithMajorGc - before.stallsOver50WithMajorGc).toBe(1);
    expect(r.majorGcMsInStalls).toBeGreaterThan(before.majorGcMsInStalls);
  });
});
