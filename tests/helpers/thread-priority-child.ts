/**
 * Run as a child process by tests/unit/thread-priority.test.ts, so that the
 * threads it lowers are its own and not the test runner's: makes libvips
 * start its workers, lowers them, starts a decode pool with a niceness, and
 * prints every thread's name and niceness as JSON.
 */
import { readFileSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import { DecodePool } from '../../tiles-server/decode/pool.js';
import { LibvipsThreadPriority, niceOf, threadId } from '../../tiles-server/thread-priority.js';

const nice = Number(process.argv[2] ?? 9);
const threads = (): Array<{ tid: number; name: string; nice: number | null }> =>
  readdirSync('/proc/self/task').map((t) => ({ tid: Number(t), name: readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim(), nice: niceOf(Number(t)) }));

sharp.concurrency(2);
await sharp({ create: { width: 2048, height: 2048, channels: 3, background: '#a04060' } }).resize(700).jpeg().toBuffer();
const before = threads();
const vips = new LibvipsThreadPriority(nice);
const lowered = vips.scan();
const again = vips.scan();
// by the third look every thread's name is settled: none is read again
const namesRead = vips.namesRead;
vips.scan();
const namesReadThird = vips.namesRead - namesRead;
const pool = new DecodePool({ workers: 2, maxQueue: 4, timeoutMs: 5000, maxHeapMb: 64, nice });
await pool.whenReady();
const after = threads();
await pool.close();
process.stdout.write(JSON.stringify({ main: threadId(), lowered, again, namesReadThird, before, after }));
