/**
 * Image threads yield to the event loop (issue 10: /api/health within 50 ms
 * through LOAD-05 and LOAD-06): libvips's workers and the decode pool's
 * threads get the configured niceness, the event loop's thread keeps its
 * own. Linux only: elsewhere the test says it is skipped and why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

const linux = existsSync('/proc/thread-self');
if (!linux) console.warn('[thread-priority] skipped: /proc/thread-self is missing, so thread priorities are not set on this system');

interface Thread {
  tid: number;
  name: string;
  nice: number | null;
}

describe.skipIf(!linux)('image thread priority', () => {
  it('lowers libvips workers and decode workers, and leaves the event loop at its priority', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'tests/helpers/thread-priority-child.ts', '9'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { main: number; lowered: number; again: number; namesReadThird: number; before: Thread[]; after: Thread[] };
    const vipsBefore = out.before.filter((t) => t.name === 'libvips worker');
    expect(vipsBefore.length).toBeGreaterThan(0);
    expect(out.lowered).toBe(vipsBefore.length);
    // threads already lowered are not touched again
    expect(out.again).toBe(0);
    // and the other threads' names are not read again once settled (two looks agreed)
    expect(out.namesReadThird).toBe(0);
    const start = out.before.find((t) => t.tid === out.main)?.nice ?? 0;
    const after = new Map(out.after.map((t) => [t.tid, t]));
    for (const t of vipsBefore) expect(after.get(t.tid)?.nice, `libvips thread ${t.tid}`).toBe(9);
    expect(after.get(out.main)?.nice).toBe(start);
    // the two decode workers are the new threads at niceness 9 (Node's own helper threads stay as they were)
    const known = new Set(out.before.map((t) => t.tid));
    const fresh = out.after.filter((t) => !known.has(t.tid) && t.nice === 9);
    expect(fresh.length).toBeGreaterThanOrEqual(2);
    expect(out.after.filter((t) => t.nice === 9).length).toBe(vipsBefore.length + fresh.length);
  });
});
