// The slide details panels keep only their latest load (src/ui/latest-load.ts):
// a superseded or cancelled load is aborted and its late answer dropped.
import { describe, expect, it } from 'vitest';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { LatestLoad } from '../../src/ui/latest-load.js';

function host(): ReactiveControllerHost & { controllers: ReactiveController[] } {
  const controllers: ReactiveController[] = [];
  return {
    controllers,
    addController: (c) => void controllers.push(c),
    removeController: () => undefined,
    requestUpdate: () => undefined,
    updateComplete: Promise.resolve(true),
  };
}

/** A load that settles when told to, and records whether it was aborted. */
function deferred<T>(): { load: (s: AbortSignal) => Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void; signal: () => AbortSignal | null } {
  let res!: (v: T) => void;
  let rej!: (e: Error) => void;
  let seen: AbortSignal | null = null;
  const p = new Promise<T>((a, b) => ((res = a), (rej = b)));
  return { load: (s) => ((seen = s), p), resolve: (v) => res(v), reject: (e) => rej(e), signal: () => seen };
}

describe('LatestLoad', () => {
  it('hands back the value or the error of the load that is still the latest', async () => {
    const loads = new LatestLoad(host());
    await expect(loads.run(async () => 7)).resolves.toEqual({ ok: true, value: 7 });
    const got = await loads.run(async () => {
      throw new Error('404 SLIDE_NOT_FOUND');
    });
    expect(got).toEqual({ ok: false, error: new Error('404 SLIDE_NOT_FOUND') });
  });

  it('aborts a superseded load and drops its late answer', async () => {
    const loads = new LatestLoad(host());
    const first = deferred<string>();
    const second = deferred<string>();
    const a = loads.run(first.load);
    const b = loads.run(second.load);
    expect(first.signal()?.aborted).toBe(true);
    expect(second.signal()?.aborted).toBe(false);
    second.resolve('slide B');
    first.resolve('slide A');
    await expect(a).resolves.toBeNull();
    await expect(b).resolves.toEqual({ ok: true, value: 'slide B' });
  });

  it('drops an error that arrives after the host left the page', async () => {
    const h = host();
    const loads = new LatestLoad(h);
    expect(h.controllers).toContain(loads);
    const d = deferred<string>();
    const run = loads.run(d.load);
    h.controllers.forEach((c) => c.hostDisconnected?.());
    expect(d.signal()?.aborted).toBe(true);
    d.reject(new Error('network'));
    await expect(run).resolves.toBeNull();
  });
});
