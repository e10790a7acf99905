/**
 * The tamper-evident audit log. Each record carries a SHA-256 over the hash
 * of the record before and a fixed encoding of its own fields, so deleting,
 * editing, reordering or inserting records breaks the chain at that point. The chain
 * head is signed with an HMAC key kept outside the database file
 * (DATA_DIR/audit.key): as checkpoints in the database every
 * `checkpointEvery` records, and as the latest committed head in
 * DATA_DIR/audit.head (written within a second of each append, and at
 * shutdown), so a log cut short after its last checkpoint is found too.
 * Verification names the first broken link.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VerifyResult } from '../../src/core/audit-verify.js';
import type { AuditOutcome, AuditRecord, AuditStore, Checkpoint } from '../store/audit-store.js';

export const GENESIS: Buffer = Buffer.alloc(32);

/** What a caller records; the log adds seq, time and the chain. */
export interface AuditEvent {
  actor: string | null;
  action: string;
  outcome?: AuditOutcome;
  projectId?: string | null;
  target?: string | null;
  /** Ids and counts only. */
  detail?: Record<string, string | number | boolean | null>;
  ip?: string | null;
}

/** The bytes hashed for a record: the hash of the record before, then every field, length-prefixed. */
export function recordHash(prevHash: Buffer, r: Omit<AuditRecord, 'hash'>): Buffer {
  const h = createHash('sha256');
  h.update(prevHash);
  const field = (v: string | number | null): void => {
    const s = v === null ? '\u0000null' : String(v);
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  };
  for (const v of [r.seq, r.at, r.actor, r.action, r.outcome, r.projectId, r.target, r.detail, r.ip]) field(v);
  return h.digest();
}

export type { VerifyResult } from '../../src/core/audit-verify.js';

interface SignedHead {
  seq: number;
  hash: string;
  mac: string;
}

export class AuditLog {
  private readonly key: Buffer;
  private readonly headFile: string;
  private sinceCheckpoint = 0;
  private headDirty = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: AuditStore,
    dataDir: string,
    private readonly opts: { checkpointEvery: number } = { checkpointEvery: 1000 },
  ) {
    const keyFile = join(dataDir, 'audit.key');
    if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    this.key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex');
    if (this.key.length !== 32) throw new Error(`${keyFile} does not hold a 256-bit key`);
    this.headFile = join(dataDir, 'audit.head');
    // appends may sit in a caller's transaction: the head file only ever names committed records
    this.timer = setInterval(() => this.syncHead(), 1000);
    this.timer.unref();
  }

  /** Writes the committed head to audit.head if it moved. */
  syncHead(): void {
    if (!this.headDirty) return;
    this.headDirty = false;
    const last = this.store.last();
    if (last) this.writeHead(last);
  }

  /** Signs the head as a checkpoint and writes the head file (at shutdown). */
  close(): void {
    clearInterval(this.timer);
    this.checkpointNow();
    this.headDirty = true;
    this.syncHead();
  }

  private mac(seq: number, hash: Buffer): Buffer {
    return createHmac('sha256', this.key).update(`${seq}:`).update(hash).digest();
  }

  /**
   * Appends events (in the caller's transaction, if any) and signs the new
   * head. Returns the records written.
   */
  append(events: AuditEvent[], now = Date.now()): AuditRecord[] {
    if (events.length === 0) return [];
    const records = this.store.append((last) => {
      let prev: Buffer = last?.hash ?? GENESIS;
      let seq = last?.seq ?? 0;
      return events.map((e) => {
        seq++;
        const base = {
          seq,
          at: now,
          actor: e.actor,
          action: e.action,
          outcome: e.outcome ?? 'ok',
          projectId: e.projectId ?? null,
          target: e.target ?? null,
          detail: JSON.stringify(e.detail ?? {}),
          ip: e.ip ?? null,
        };
        const hash = recordHash(prev, base);
        prev = hash;
        return { ...base, hash };
      });
    });
    this.sinceCheckpoint += records.length;
    const head = records[records.length - 1] as AuditRecord;
    if (this.sinceCheckpoint >= this.opts.checkpointEvery) this.checkpoint(head, now);
    this.headDirty = true;
    return records;
  }

  private checkpoint(head: AuditRecord, now: number): void {
    this.store.addCheckpoint({ seq: head.seq, hash: head.hash, mac: this.mac(head.seq, head.hash), at: now });
    this.sinceCheckpoint = 0;
  }

  /** Signs the current head as a checkpoint now (at shutdown, or on demand). */
  checkpointNow(): void {
    const last = this.store.last();
    if (last && this.store.lastCheckpoint()?.seq !== last.seq) this.checkpoint(last, Date.now());
  }

  private writeHead(head: AuditRecord): void {
    const signed: SignedHead = { seq: head.seq, hash: head.hash.toString('hex'), mac: this.mac(head.seq, head.hash).toString('hex') };
    const tmp = `${this.headFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(signed), { mode: 0o600 });
    renameSync(tmp, this.headFile);
  }

  private readHead(): SignedHead | null {
    try {
      return JSON.parse(readFileSync(this.headFile, 'utf8')) as SignedHead;
    } catch {
      return null;
    }
  }

  private signedOk(seq: number, hash: Buffer, mac: Buffer): boolean {
    const want = this.mac(seq, hash);
    return mac.length === want.length && timingSafeEqual(mac, want);
  }

  /** Walks the whole chain and every checkpoint; names the first broken link. */
  verify(): VerifyResult {
    const checkpoints = this.store.checkpoints();
    const bySeq = new Map<number, Checkpoint>(checkpoints.map((c) => [c.seq, c]));
    const result = (brokenAt: number | null, reason: string | null, contradicts: number | null, records: number): VerifyResult => ({
      ok: brokenAt === null,
      records,
      checkpoints: checkpoints.length,
      brokenAt,
      reason,
      contradicts,
    });
    for (const c of checkpoints) {
      if (!this.signedOk(c.seq, c.hash, c.mac)) return result(c.seq, `the checkpoint at ${c.seq} has an invalid signature`, c.seq, 0);
    }
    let prev: Buffer = GENESIS;
    let expected = 1;
    let count = 0;
    const nextCheckpointAfter = (seq: number): number | null => checkpoints.find((c) => c.seq >= seq)?.seq ?? null;
    // the signed head is a checkpoint too: the record it names must hash to it, even when records follow it
    const head = this.readHead();
    const headHash = head ? Buffer.from(head.hash, 'hex') : null;
    if (head && headHash && !this.signedOk(head.seq, headHash, Buffer.from(head.mac, 'hex'))) return result(head.seq, 'the signed head (audit.head) has an invalid signature', null, 0);
    for (let from = 1; ; ) {
      const page = this.store.scan(from, 5000);
      if (page.length === 0) break;
      for (const r of page) {
        if (r.seq !== expected) return result(expected, `record ${expected} is missing (the next record is ${r.seq})`, nextCheckpointAfter(expected), count);
        // an edited record, or one that was moved here, no longer hashes to what it carries
        if (!recordHash(prev, r).equals(r.hash)) return result(r.seq, `record ${r.seq} was altered, or does not follow the record before it`, nextCheckpointAfter(r.seq), count);
        const c = bySeq.get(r.seq);
        if (c && !c.hash.equals(r.hash)) return result(r.seq, `record ${r.seq} differs from the signed checkpoint`, c.seq, count);
        if (head && headHash && r.seq === head.seq && !headHash.equals(r.hash)) return result(r.seq, `record ${r.seq} differs from the signed head`, head.seq, count);
        prev = r.hash;
        expected++;
        count++;
      }
      from = (page[page.length - 1] as AuditRecord).seq + 1;
    }
    const lastSeq = expected - 1;
    const beyond = checkpoints.find((c) => c.seq > lastSeq);
    if (beyond) return result(lastSeq + 1, `the log ends at ${lastSeq} but a signed checkpoint covers ${beyond.seq}: records were removed from its end`, beyond.seq, count);
    if (head && head.seq > lastSeq) return result(lastSeq + 1, `the log ends at ${lastSeq} but the signed head is at ${head.seq}: records were removed from its end`, head.seq, count);
    return result(null, null, null, count);
  }
}
