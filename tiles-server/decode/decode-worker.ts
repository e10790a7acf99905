/** worker_threads entry: decodes TIFF blocks off the main event loop. */
import './worker-shim.js';
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThisThread } from '../thread-priority.js';
import { decodeBlock, type BlockDecodeRequest } from './block-decoder.js';
import { owned } from './bytes.js';

// decoding yields to the event loop (thread-priority.ts)
const nice = Number((workerData as { nice?: number } | null)?.nice ?? 0);
if (nice > 0) lowerThisThread(nice);

interface Job {
  id: number;
  req: BlockDecodeRequest;
  data: Uint8Array;
}

const port = parentPort;
if (!port) throw new Error('decode-worker must run in a worker thread');

port.on('message', (job: Job) => {
  decodeBlock(job.req, job.data).then(
    (out) => {
      const copy = owned(out.data);
      port.postMessage({ id: job.id, ok: true, data: copy, short: out.short }, [copy.buffer]);
    },
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ id: job.id, ok: false, name: e.name, message: e.message });
    },
  );
});

port.postMessage({ ready: true });
