/**
 * The reference mask of a slide (issue 14: "a consensus is a proposal; a
 * reviewer accepts it into the reference mask") and how a consensus picks
 * each pixel's class from the readers' labels. One home for these rules,
 * shared by the server (which writes the reference) and the viewer (which
 * must not count the reference among the readers).
 *
 * The reference is kept as a mask layer of its own, under the reserved
 * annotator id REFERENCE_ANNOTATOR: no account has it (account ids are
 * UUIDs or `legacy:…`), so it is never any reader's own work, and it has
 * the history (undo/restore) every mask has.
 *
 * Decisions, per pixel of the ROI, from the readers' labels there:
 * - `majority`: the class most readers gave. A tie (two or more classes with
 *   the most votes) is resolved by the tie rule: `unlabelled` (default) leaves
 *   the pixel unlabelled (class 0: undecided, as the issue asks), or
 *   `reader` gives it the class the chosen reader gave there;
 * - `staple`: the class of highest STAPLE posterior (multi-class EM over the
 *   ROI's joint counts: consensus.ts), ties to the smaller id; no tie rule.
 * Unpainted pixels count as class 0 (unlabelled), as in the metrics (AGR-03).
 */
import { majorityOf, stapleFromCounts, UNDECIDED } from './consensus.js';
import { labelsOf, type TupleCounts } from './tuples.js';

export const REFERENCE_ANNOTATOR = '@reference';

export const CONSENSUS_METHODS = ['majority', 'staple'] as const;
export type ConsensusMethod = (typeof CONSENSUS_METHODS)[number];

export const TIE_RULES = ['unlabelled', 'reader'] as const;
export type TieRule = (typeof TIE_RULES)[number];

export interface ConsensusRule {
  method: ConsensusMethod;
  ties: TieRule;
  /** With ties = reader: the index (in the readers' order) of the reader whose class breaks a tie. */
  tieReader: number | null;
}

export function isConsensusMethod(v: unknown): v is ConsensusMethod {
  return typeof v === 'string' && (CONSENSUS_METHODS as readonly string[]).includes(v);
}

export function isTieRule(v: unknown): v is TieRule {
  return typeof v === 'string' && (TIE_RULES as readonly string[]).includes(v);
}

export interface ConsensusDecision {
  /** The class of a pixel whose readers' labels have this tuple key (tuples.ts). */
  classOf(key: number): number;
  /** Whether a key is a majority tie (counted as undecided in the provenance). */
  tie(key: number): boolean;
  /** STAPLE's estimates (null for the majority vote). */
  staple: { iterations: number; converged: boolean; sensitivity: number[][]; classes: number[] } | null;
}

/** The per-pixel decision of `rule` for `readers` readers whose joint counts over the ROI are `counts`. */
export function consensusDecision(rule: ConsensusRule, counts: TupleCounts, readers: number): ConsensusDecision {
  const memo = new Map<number, number>();
  if (rule.method === 'majority') {
    const decide = (key: number): number => {
      const labels = labelsOf(key, readers);
      const m = majorityOf(labels);
      if (m !== UNDECIDED) return m;
      return rule.ties === 'reader' && rule.tieReader !== null ? (labels[rule.tieReader] as number) : 0;
    };
    return {
      classOf: (key) => {
        let c = memo.get(key);
        if (c === undefined) memo.set(key, (c = decide(key)));
        return c;
      },
      tie: (key) => majorityOf(labelsOf(key, readers)) === UNDECIDED,
      staple: null,
    };
  }
  const st = stapleFromCounts(counts, readers);
  const decide = (key: number): number => {
    const p = st.posterior(labelsOf(key, readers));
    let best = 0;
    for (let t = 1; t < p.length; t++) if ((p[t] as number) > (p[best] as number)) best = t;
    return st.classes[best] ?? 0;
  };
  return {
    classOf: (key) => {
      let c = memo.get(key);
      if (c === undefined) memo.set(key, (c = decide(key)));
      return c;
    },
    tie: () => false,
    staple: { iterations: st.iterations, converged: st.converged, sensitivity: st.sensitivity, classes: st.classes },
  };
}
