/**
 * What a check of the audit chain answers (GET /api/audit/verify, `npm run
 * admin -- audit verify`): shared by the server that works it out and the
 * audit browser that shows it.
 */
export interface VerifyResult {
  ok: boolean;
  records: number;
  checkpoints: number;
  /** The first record (seq) where the chain breaks, and why. */
  brokenAt: number | null;
  reason: string | null;
  /** The signed checkpoint (or signed head) the log contradicts, if any. */
  contradicts: number | null;
}
