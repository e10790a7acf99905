/**
 * The event-loop guard sheds on how busy the loop is, before lag builds
 * (issue 10, LOAD-06: 503 + Retry-After past the bounds, /api/health within
 * 50 ms): a loop busy at least `maxBusy` of two windows in a row refuses
 * with 503 OVERLOADED (Retry-After is added by respond.ts for every 503),
 * a single busy window does not, and admission resumes once the loop idles.
 * `maxBusy` 0 (SHED_BUSY_PCT=0) never sheds on business.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LagGuard } from '../../tiles-server/admission.js';
import { loadConfig } from '../../tiles-server/config.js';
import { WsiError } from '../../src/core/errors.js';

const guards: LagGuard[] = [];
afterEach(() => {
  for (const g of guards.splice(0)) g.close();
});

const idle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Keeps the event loop busy for `ms` (5 ms slices of work, so timers still fire in between, as under load). */
async function busyFor(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const slice = performance.now() + 5;
    while (performance.now() < slice);
    await new Promise((r) => setImmediate(r));
  }
}

function refusal(g: LagGuard): WsiError | null {
  try {
    g.admit();
    return null;
  } catch (err) {
    return err as WsiError;
  }
}

describe('LagGuard: shedding on a busy event loop (LOAD-06)', () => {
  it('refuses with 503 OVERLOADED after two busy windows, and admits again once the loop idles', async () => {
    const g = new LagGuard({ maxLagMs: 0, maxBusy: 0.8, windowMs: 100, windows: 2 });
    guards.push(g);
    await idle(250);
    expect(refusal(g)).toBeNull();
    await busyFor(450);
    const err = refusal(g);
    expect(err).toBeInstanceOf(WsiError);
    expect(err?.code).toBe('OVERLOADED');
    expect(err?.status).toBe(503);
    expect((err?.detail as { busy: number }).busy).toBeGreaterThanOrEqual(0.8);
    expect(g.busy).toBeGreaterThanOrEqual(0.8);
    expect(g.shed).toBe(1);
    expect(g.shedBusy).toBe(1);
    await idle(250);
    expect(refusal(g)).toBeNull();
    expect(g.busy).toBeLessThan(0.8);
  });

  it('one busy window alone does not shed', async () => {
    const g = new LagGuard({ maxLagMs: 0, maxBusy: 0.8, windowMs: 200, windows: 2 });
    guards.push(g);
    await idle(220);
    // busy for part of one window only, then idle for the rest of the next
    await busyFor(120);
    await idle(300);
    expect(refusal(g)).toBeNull();
    expect(g.shed).toBe(0);
  });

  it('maxBusy 0 (SHED_BUSY_PCT=0) never sheds however busy the loop is', async () => {
    const g = new LagGuard({ maxLagMs: 0, maxBusy: 0, windowMs: 100, windows: 2 });
    guards.push(g);
    await busyFor(450);
    expect(refusal(g)).toBeNull();
    expect(g.busy).toBeGreaterThan(0.5);
  });
});

describe('SHED_BUSY_PCT', () => {
  it('is off by default, a percentage when set, and a mistake is a message naming it', () => {
    expect(loadConfig({}, []).shedBusyPct).toBe(0);
    expect(loadConfig({ SHED_BUSY_PCT: '97' }, []).shedBusyPct).toBe(97);
    expect(() => loadConfig({ SHED_BUSY_PCT: '0.97' }, [])).toThrow(/SHED_BUSY_PCT must be an integer in 0\.\.100/);
    expect(() => loadConfig({ SHED_BUSY_PCT: '150' }, [])).toThrow(/SHED_BUSY_PCT/);
  });
});
