/**
 * How an accepted consensus picks each pixel's class
 * (src/core/agreement/reference.ts): the majority vote with its two tie
 * rules, checked against a vote written here over every tuple of three
 * readers and four classes, and STAPLE, whose decision follows the
 * readers who agree when one reader is always wrong (AGR-05).
 */
import { describe, expect, it } from 'vitest';
import { consensusDecision, isConsensusMethod, REFERENCE_ANNOTATOR } from '../../src/core/agreement/reference.js';
import { tupleKey } from '../../src/core/agreement/tuples.js';

/** The majority of the labels, written here: null at a tie. */
function vote(labels: number[]): number | null {
  const n = new Map<number, number>();
  for (const l of labels) n.set(l, (n.get(l) ?? 0) + 1);
  const most = Math.max(...n.values());
  const top = [...n].filter(([, v]) => v === most);
  return top.length === 1 ? (top[0] as [number, number])[0] : null;
}

describe('the consensus decision', () => {
  const tuples: number[][] = [];
  for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) for (let c = 0; c < 4; c++) tuples.push([a, b, c]);

  it('majority vote: a tie stays unlabelled, or takes the chosen reader\'s class', () => {
    const counts = new Map(tuples.map((t) => [tupleKey(t), 1]));
    const unlabelled = consensusDecision({ method: 'majority', ties: 'unlabelled', tieReader: null }, counts, 3);
    const second = consensusDecision({ method: 'majority', ties: 'reader', tieReader: 1 }, counts, 3);
    let ties = 0;
    for (const t of tuples) {
      const v = vote(t);
      if (v === null) ties++;
      expect(unlabelled.classOf(tupleKey(t)), t.join(',')).toBe(v ?? 0);
      expect(second.classOf(tupleKey(t)), t.join(',')).toBe(v ?? t[1]);
      expect(unlabelled.tie(tupleKey(t))).toBe(v === null);
    }
    expect(ties).toBe(24);
    expect(unlabelled.staple).toBeNull();
  });

  it('STAPLE follows the two readers who agree when the third is always wrong (AGR-05)', () => {
    // readers 0 and 1 agree on classes 1 and 2 (half each); reader 2 always says the other one
    const counts = new Map([
      [tupleKey([1, 1, 2]), 5000],
      [tupleKey([2, 2, 1]), 5000],
    ]);
    const d = consensusDecision({ method: 'staple', ties: 'unlabelled', tieReader: null }, counts, 3);
    expect(d.classOf(tupleKey([1, 1, 2]))).toBe(1);
    expect(d.classOf(tupleKey([2, 2, 1]))).toBe(2);
    const s = d.staple as NonNullable<typeof d.staple>;
    expect(s.sensitivity[2]?.every((v) => v < 0.01)).toBe(true);
    expect(s.sensitivity[0]?.every((v) => v > 0.99)).toBe(true);
  });

  it('knows its methods, and the reference is no account id', () => {
    expect(['majority', 'staple'].every(isConsensusMethod)).toBe(true);
    expect(['average', '', '__proto__', null].some(isConsensusMethod)).toBe(false);
    expect(REFERENCE_ANNOTATOR).not.toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(REFERENCE_ANNOTATOR.startsWith('legacy:')).toBe(false);
  });
});
