/**
 * A bounded pool of worker threads for block decoding. Jobs queue up to a
 * limit (beyond it: OVERLOADED, 503 with Retry-After); a job that runs past
 * its deadline kills its worker (DECODE_TIMEOUT) and a fresh worker takes its
 * place; a worker that dies (out of memory, crash) fails only its own job.
 * Jobs of background work (large renders, see admission.ts) wait behind
 * interactive ones, so a viewer's tiles never queue behind them.
 */
import type { ResourceLimits, Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../workers.js';
import { WsiError, reviveError } from '../../src/core/errors.js';
import { currentPriority } from '../admission.js';
import type { BlockDecodeRequest, DecodedBlock, ShortBlock } from './block-decoder.js';
import { owned } from './bytes.js';

export interface DecodePoolOptions {
  workers: number;
  maxQueue: number;
  timeoutMs: number;
  /** Heap cap per worker; a decoder that allocates past it dies alone. */
  maxHeapMb: number;
  /** Niceness each worker gives its own thread (thread-priority.ts); 0 or absent: unchanged. */
  nice?: number;
}

interface Pending {
  id: number;
  req: BlockDecodeRequest;
  data: Uint8Array;
  resolve: (out: DecodedBlock) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Slot {
  worker: Worker;
  /** Set once the worker has loaded its code; jobs (and their deadlines) wait for it. */
  ready: boolean;
  job: Pending | null;
  timer: NodeJS.Timeout | null;
}

function spawnWorker(resourceLimits: ResourceLimits, nice: number): Worker {
  return spawnModuleWorker(new URL('./decode-worker.js', import.meta.url), { resourceLimits, workerData: { nice } });
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  /** Interactive jobs first, then background ones. */
  private readonly queue: Pending[] = [];
  private readonly background: Pending[] = [];
  private nextId = 1;
  private closed = false;
  restarts = 0;

  constructor(private readonly opts: DecodePoolOptions) {
    for (let i = 0; i < opts.workers; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = spawnWorker({ maxOldGenerationSizeMb: this.opts.maxHeapMb, maxYoungGenerationSizeMb: 64 }, this.opts.nice ?? 0);
    worker.unref();
    const slot: Slot = { worker, ready: false, job: null, timer: null };
    worker.on('message', (msg: { ready?: boolean; id: number; ok: boolean; data?: Uint8Array; short?: ShortBlock | null; name?: string; message?: string }) => {
      if (msg.ready) {
        slot.ready = true;
        this.pump();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== msg.id) return;
      this.finish(slot);
      if (msg.ok && msg.data) job.resolve({ data: msg.data, short: msg.short ?? null });
      else {
        const err = new Error(msg.message ?? 'decode failed');
        err.name = msg.name ?? 'Error';
        job.reject(reviveError(err));
      }
      this.pump();
    });
    const onDeath = (err: unknown): void => {
      const job = slot.job;
      this.finish(slot);
      this.replace(slot);
      if (job) {
        const oom = err instanceof Error && /memory|ERR_WORKER_OUT_OF_MEMORY/i.test(`${err.message} ${(err as NodeJS.ErrnoException).code ?? ''}`);
        job.reject(
          oom
            ? new WsiError('TILE_DECODE_OVERFLOW', 'decoding the block exhausted the decoder memory budget')
            : new WsiError('DECODER_CRASHED', `the decode worker died while decoding this block (${err instanceof Error ? err.message : String(err)}); it has been restarted`),
        );
      }
      this.pump();
    };
    worker.on('error', onDeath);
    worker.on('exit', (code) => {
      if (!this.closed && this.slots.includes(slot)) onDeath(new Error(`worker exited with code ${code}`));
    });
    return slot;
  }

  private replace(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0 || this.closed) return;
    this.restarts++;
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    this.slots[i] = this.spawn();
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const job = slot.job;
    slot.job = null;
    if (job?.signal && job.onAbort) job.signal.removeEventListener('abort', job.onAbort);
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job || !slot.ready) continue;
      const job = this.queue.shift() ?? this.background.shift();
      if (!job) return;
      slot.job = job;
      slot.timer = setTimeout(() => {
        if (slot.job !== job) return;
        this.finish(slot);
        this.replace(slot);
        job.reject(new WsiError('DECODE_TIMEOUT', `decoding a block took longer than ${this.opts.timeoutMs} ms`));
        this.pump();
      }, this.opts.timeoutMs);
      // transfer a buffer that holds exactly this block (never a shared Buffer pool)
      const data = owned(job.data);
      slot.worker.postMessage({ id: job.id, req: job.req, data }, [data.buffer]);
    }
  }

  /** Resolves once every worker has loaded its code. */
  async whenReady(): Promise<void> {
    while (!this.closed && this.slots.some((s) => !s.ready)) await new Promise((r) => setTimeout(r, 10));
  }

  get queued(): number {
    return this.queue.length + this.background.length;
  }

  get busy(): number {
    return this.slots.filter((s) => s.job).length;
  }

  decode(req: BlockDecodeRequest, data: Uint8Array, signal?: AbortSignal): Promise<DecodedBlock> {
    if (this.closed) return Promise.reject(new WsiError('OVERLOADED', 'decode pool is shut down'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queued >= this.opts.maxQueue) {
      return Promise.reject(new WsiError('OVERLOADED', `decode queue is full (${this.opts.maxQueue} blocks waiting)`));
    }
    const queue = currentPriority() === 'background' ? this.background : this.queue;
    return new Promise<DecodedBlock>((resolve, reject) => {
      const job: Pending = { id: this.nextId++, req, data, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        job.onAbort = () => {
          const qi = queue.indexOf(job);
          if (qi >= 0) queue.splice(qi, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      queue.push(job);
      this.pump();
    });
  }

  /** Test hook (FAULT-01): kill the worker running a job, or the first one. */
  killOne(): void {
    const slot = this.slots.find((s) => s.job) ?? this.slots[0];
    if (slot) void slot.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of [...this.queue.splice(0), ...this.background.splice(0)]) job.reject(new WsiError('OVERLOADED', 'decode pool is shut down'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
