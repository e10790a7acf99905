/**
 * Sends painted mask tiles to the server through the same outbox path as
 * annotation edits (OutboxSender): each stroke, fill or undo is one entry
 * holding the new content of the tiles it changed, each with the version it
 * was painted on (If-Match per tile). Tiles travel zlib-compressed; the
 * outbox keeps them in their compact resident form.
 */
import { parseTileKey, tileKey } from '../core/mask/mask-grid.js';
import type { EncodedTile } from '../core/mask/rle.js';
import type { MaskStore } from '../state/mask-store.js';
import type { MaskApi, MaskTileResult } from './mask-api.js';
import { toBase64 } from './mask-api.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { OutboxSender, newOpId, type SendResponse, type SenderState } from './outbox-sender.js';

export interface MaskTileOp {
  tx: number;
  ty: number;
  /** Server version the tile was painted on (0: new tile). */
  ifMatch: number;
  tile: EncodedTile;
}

export interface MaskConflict {
  entry: OutboxEntry<MaskTileOp>;
  index: number;
  tx: number;
  ty: number;
  /** The server's version of the tile now. */
  current: number;
  code: string;
  message: string;
}

export type MaskSyncState = SenderState<MaskConflict>;

export interface MaskSyncDeps {
  compress(tile: EncodedTile): Promise<Uint8Array>;
  /** The server's copy of one tile, or null when it has none. */
  fetchTile(tx: number, ty: number): Promise<{ tile: EncodedTile; version: number } | null>;
}

export class MaskSync extends OutboxSender<MaskTileOp, MaskTileResult, MaskConflict> {
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: MaskStore,
    outbox: Outbox,
    private readonly api: MaskApi,
    private readonly deps: MaskSyncDeps,
  ) {
    super(outbox, `${api.slide}#mask:${api.annotator}`, api.server);
    this.unsubscribe = store.observe((c) => {
      if (c.origin !== 'local') return;
      const ops = c.tiles.map((t) => {
        const [tx, ty] = parseTileKey(t.key);
        return { tx, ty, ifMatch: t.baseVersion, tile: t.after };
      });
      this.enqueueOps(ops, c.label);
    });
  }

  protected unobserve(): void {
    this.unsubscribe();
  }

  protected async send(entry: OutboxEntry<MaskTileOp>): Promise<SendResponse<MaskTileResult>> {
    const wire = [];
    for (const op of entry.ops) wire.push({ tx: op.tx, ty: op.ty, ifMatch: op.ifMatch, data: toBase64(await this.deps.compress(op.tile)) });
    return this.api.batch(entry.opId, wire);
  }

  protected rebase(entry: OutboxEntry<MaskTileOp>, results: MaskTileResult[], later: Array<OutboxEntry<MaskTileOp>>): Set<OutboxEntry<MaskTileOp>> {
    const touched = new Set<OutboxEntry<MaskTileOp>>();
    results.forEach((r, i) => {
      const op = entry.ops[i] as MaskTileOp;
      this.store.setVersion(tileKey(op.tx, op.ty), r.version);
      for (const e of later) {
        for (const o of e.ops) {
          if (o.tx === op.tx && o.ty === op.ty && o.ifMatch === op.ifMatch) {
            o.ifMatch = r.version;
            touched.add(e);
          }
        }
      }
    });
    return touched;
  }

  protected conflictOf(entry: OutboxEntry<MaskTileOp>, index: number, res: SendResponse<MaskTileResult>): MaskConflict {
    const op = entry.ops[index] as MaskTileOp;
    const cur = res.body.detail?.current as { version?: number } | undefined;
    return { entry, index, tx: op.tx, ty: op.ty, current: cur?.version ?? 0, code: res.body.code ?? String(res.status), message: res.body.message ?? 'the tile changed on the server' };
  }

  protected reapply(entries: Array<OutboxEntry<MaskTileOp>>): void {
    for (const e of entries) {
      const writes = [...e.ops, ...(e.later ?? []).flat()].map((op) => ({ key: tileKey(op.tx, op.ty), tile: op.tile }));
      this.store.apply(writes, 'silent', e.label);
    }
  }

  /**
   * Resolves a tile conflict: "mine" writes this browser's tile over the
   * server's newer one (which stays in the history), and this browser's
   * later queued edits of the tile build on it; "theirs" takes the server's
   * tile and gives up every unsent edit of that tile in this browser (the
   * later ones were painted on top of the one given up). The rewritten
   * entry gets a new operation id: the server remembers the refused one
   * with its old body.
   */
  async resolve(choice: 'mine' | 'theirs'): Promise<void> {
    const c = this.state.conflict;
    if (!c) return;
    const entry = c.entry;
    const head = entry.ops[c.index] as MaskTileOp;
    const sameTile = (o: MaskTileOp): boolean => o.tx === c.tx && o.ty === c.ty;
    const key = tileKey(c.tx, c.ty);
    const updated = new Set<OutboxEntry<MaskTileOp>>([entry]);
    const removed: Array<OutboxEntry<MaskTileOp>> = [];
    // the queue and the store are rewritten without a pause, so no edit slips in between
    if (choice === 'mine') {
      const assumed = head.ifMatch;
      const rebaseOps = (ops: MaskTileOp[]): boolean => {
        let touched = false;
        for (const o of ops) {
          if (sameTile(o) && o.ifMatch === assumed) {
            o.ifMatch = c.current;
            touched = true;
          }
        }
        return touched;
      };
      for (const e of this.queue) if ([e.ops, ...(e.later ?? [])].map(rebaseOps).some(Boolean)) updated.add(e);
      // edits made from now on build on the server's version too
      this.store.setVersion(key, c.current);
    } else {
      const server = await this.deps.fetchTile(c.tx, c.ty);
      if (this.state.conflict !== c) return;
      const count = (e: OutboxEntry<MaskTileOp>): number => e.ops.length + (e.later ?? []).reduce((n, p) => n + p.length, 0);
      const keep = (ops: MaskTileOp[]): MaskTileOp[] => ops.filter((o) => !sameTile(o));
      for (const e of [...this.queue]) {
        const before = count(e);
        e.ops = keep(e.ops);
        if (e.later) e.later = e.later.map(keep).filter((p) => p.length > 0);
        if (count(e) === before) continue;
        if (e.ops.length === 0 && e.later?.length) e.ops = e.later.shift() as MaskTileOp[];
        e.opId = newOpId();
        if (e.ops.length > 0) updated.add(e);
        else {
          this.queue.splice(this.queue.indexOf(e), 1);
          removed.push(e);
        }
      }
      this.store.apply([{ key, tile: server?.tile ?? { uniform: 0 }, version: server?.version ?? 0 }], 'remote', 'Server version');
    }
    entry.opId = newOpId();
    await this.persistRewrite(updated, removed);
    await this.resumeAfterConflict();
  }
}
