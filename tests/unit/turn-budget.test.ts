/**
 * TurnBudget (tiles-server/http/turn-budget.ts): requests past the budget
 * of one turn start in later turns, in arrival order, a budget's worth per
 * turn, and the loop passes its I/O (here: a timer and setImmediate of the
 * test) between those batches (issue 10, LOAD-06).
 */
import { describe, expect, it } from 'vitest';
import { TurnBudget } from '../../tiles-server/http/turn-budget.js';

/** A clock the test moves: each request's start "costs" `cost` ms. */
function clock(): { now: () => number; spend: (ms: number) => void } {
  let t = 0;
  return { now: () => t, spend: (ms) => void (t += ms) };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TurnBudget', () => {
  it('starts everything at once when off (0)', () => {
    const b = new TurnBudget(0);
    for (let i = 0; i < 100; i++) expect(b.admit()).toBeNull();
    expect(b.deferred).toBe(0);
  });

  it('defers starts past the budget to later turns, in arrival order, a budget\'s worth per turn', async () => {
    const c = clock();
    const b = new TurnBudget(10, c.now);
    const started: Array<{ id: number; turn: number }> = [];
    let turnNo = 0;
    const start = async (id: number): Promise<void> => {
      const later = b.admit();
      if (later) await later;
      started.push({ id, turn: turnNo });
      c.spend(4); // the start's synchronous part
    };
    // 12 requests arrive in one turn: the first three fit 10 ms (0, 4, 8 < 10)
    const all = Array.from({ length: 12 }, (_, i) => start(i));
    expect(started.map((s) => s.id)).toEqual([0, 1, 2]);
    expect(b.queued).toBe(9);
    // each later turn starts a budget's worth (3 of 4 ms each), in order
    while (started.length < 12) {
      turnNo++;
      await turn();
    }
    await Promise.all(all);
    expect(started.map((s) => s.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const perTurn = new Map<number, number>();
    for (const s of started) perTurn.set(s.turn, (perTurn.get(s.turn) ?? 0) + 1);
    expect([...perTurn.values()].every((n) => n <= 3)).toBe(true);
    expect(perTurn.size).toBeGreaterThanOrEqual(4);
    expect(b.deferred).toBe(9);
  });

  it('lets a newcomer wait behind those already waiting (no overtaking), and starts at once again once the line is empty', async () => {
    const c = clock();
    const b = new TurnBudget(5, c.now);
    const order: string[] = [];
    const start = async (id: string): Promise<void> => {
      const later = b.admit();
      if (later) await later;
      order.push(id);
      c.spend(5);
    };
    const first = [start('a'), start('b'), start('c')];
    // a request arriving in a later turn, while b and c still wait
    await new Promise((r) => setTimeout(r, 0));
    const d = start('d');
    await Promise.all([...first, d]);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    await turn();
    await turn();
    expect(b.queued).toBe(0);
    // a new turn with an empty line: no wait
    expect(b.admit()).toBeNull();
  });

  it('never starts a waiting request whose client went away: it leaves the line at once and the next one takes its place', async () => {
    const c = clock();
    const b = new TurnBudget(5, c.now);
    const order: string[] = [];
    const outcome = new Map<string, string>();
    const start = async (id: string, signal?: AbortSignal): Promise<void> => {
      try {
        const later = b.admit(signal);
        if (later) await later;
      } catch (err) {
        outcome.set(id, (err as Error).name);
        return;
      }
      order.push(id);
      c.spend(5);
    };
    const gone = new AbortController();
    // one whose client is gone before it would queue does not queue at all
    const early = new AbortController();
    early.abort(new DOMException('client went away', 'AbortError'));
    const all = [start('a'), start('b', gone.signal), start('x', early.signal), start('c')];
    expect(b.queued).toBe(2);
    gone.abort(new DOMException('client went away', 'AbortError'));
    expect(b.queued).toBe(1);
    await Promise.all(all);
    expect(order).toEqual(['a', 'c']);
    expect(outcome.get('b')).toBe('AbortError');
    expect(outcome.get('x')).toBe('AbortError');
    expect(b.queued).toBe(0);
  });
});
