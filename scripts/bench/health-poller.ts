/**
 * Polls a URL (the server's /api/health) from a worker thread of its own, so
 * that the load generator's busy event loop (a hundred simulated viewers in
 * LOAD-06) does not add its own delays to the latency measured: a sample is
 * the server's answer time plus the network, not the bench's backlog. The
 * thread is made before the bench lowers its own CPU priority
 * (`lowerPriority`), so it keeps the normal one: on a shared machine the
 * simulated users yield to the server under test, as clients on another
 * machine would, and the poller does not.
 */
import { setPriority } from 'node:os';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { poll, type Sample } from './viewer-trails.js';

interface PollerData {
  healthPoller: true;
  url: string;
  everyMs: number;
}

const data = workerData as PollerData | undefined;
const port = parentPort;
if (port && data?.healthPoller) {
  let polling: { stop(): Promise<Sample[]> } | null = null;
  port.on('message', (m: 'start' | 'stop') => {
    if (m === 'start') polling = poll(data.url, data.everyMs);
    else void (polling?.stop() ?? Promise.resolve([])).then((samples) => port.postMessage(samples));
  });
}

export interface Poller {
  /** Starts polling (the thread exists already). */
  start(): void;
  /** Ends polling and the thread; its samples. */
  stop(): Promise<Sample[]>;
}

/** A polling thread, idle until start(). */
export function pollerThread(url: string, everyMs: number): Poller {
  const worker = new Worker(new URL(import.meta.url), { workerData: { healthPoller: true, url, everyMs } satisfies PollerData });
  worker.unref();
  return {
    start: () => worker.postMessage('start'),
    stop: () =>
      new Promise<Sample[]>((resolve, reject) => {
        worker.once('message', (samples: Sample[]) => {
          void worker.terminate();
          resolve(samples);
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

/**
 * Lowers this thread's CPU priority (nice 10; on Linux a thread's own), so
 * threads it starts later inherit it and threads and processes started
 * before keep theirs. Returns the nice value now in force.
 */
export function lowerPriority(nice = 10): number {
  try {
    setPriority(nice);
    return nice;
  } catch {
    return 0;
  }
}
