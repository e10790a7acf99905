/**
 * The event loop answers first. On Linux a thread's niceness is its own, so
 * the threads that decode and encode images (libvips's workers, the block
 * decoding pool) can run at a lower CPU priority than the thread that
 * accepts connections and answers `/api/health`, sign-in and annotation
 * writes. When image work fills every core, the scheduler then still gives
 * the event loop the CPU within a few milliseconds, instead of an equal
 * share among a dozen busy threads (issue 10: health within 50 ms under
 * overload). Where `/proc/thread-self` does not exist (not Linux) this does
 * nothing and `supported()` says so.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The libvips thread name (libvips names its worker threads so). */
const LIBVIPS_THREAD = 'libvips worker';

export function supported(): boolean {
  try {
    readlinkSync('/proc/thread-self');
    return true;
  } catch {
    return false;
  }
}

/** The calling thread's kernel id, or null off Linux. */
export function threadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/** A thread's niceness from /proc (field 19 of its stat line), or null. */
export function niceOf(tid: number): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: fields count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const nice = Number(fields[16]);
    return Number.isInteger(nice) ? nice : null;
  } catch {
    return null;
  }
}

/** Lowers the calling thread's priority (a worker thread calls this first). False when it could not. */
export function lowerThisThread(nice: number): boolean {
  const tid = threadId();
  if (tid === null || nice <= 0) return false;
  try {
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}

/**
 * Lowers libvips's worker threads as they appear: libvips starts them when
 * an image operation first needs them and may start more later, so the
 * process's thread list is looked at again every `everyMs` (a directory of a
 * few dozen entries). A thread's name is read until it is settled: a new
 * thread carries its parent's name until it names itself, so a thread is
 * passed over for good once two looks found the same other name; threads
 * already lowered are remembered too. A steady process then costs one
 * directory listing a look, not a file read per thread.
 */
export class LibvipsThreadPriority {
  private readonly done = new Set<number>();
  /** Threads seen once with another name, and that name (a second look with the same name settles them). */
  private readonly named = new Map<number, string>();
  /** Threads that are not libvips workers, settled. */
  private readonly others = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  lowered = 0;
  /** Thread names read from /proc, over the object's life (what a look costs). */
  namesRead = 0;

  constructor(private readonly nice: number) {}

  /** Looks once; returns how many threads it lowered this time. */
  scan(): number {
    if (this.nice <= 0) return 0;
    let tids: string[];
    try {
      tids = readdirSync('/proc/self/task');
    } catch {
      return 0;
    }
    const alive = new Set<number>();
    let n = 0;
    for (const name of tids) {
      const tid = Number(name);
      alive.add(tid);
      if (this.done.has(tid) || this.others.has(tid)) continue;
      let comm: string;
      try {
        comm = readFileSync(`/proc/self/task/${name}/comm`, 'utf8').trim();
        this.namesRead++;
      } catch {
        continue; // the thread ended meanwhile
      }
      if (comm !== LIBVIPS_THREAD) {
        if (this.named.get(tid) === comm) {
          this.named.delete(tid);
          this.others.add(tid);
        } else this.named.set(tid, comm);
        continue;
      }
      this.named.delete(tid);
      try {
        setPriority(tid, this.nice);
        this.done.add(tid);
        n++;
      } catch {
        // it ended between the read and the call
      }
    }
    // a thread id can be reused once its thread ended: forget the ended ones
    for (const set of [this.done, this.others]) for (const tid of set) if (!alive.has(tid)) set.delete(tid);
    for (const tid of this.named.keys()) if (!alive.has(tid)) this.named.delete(tid);
    this.lowered += n;
    return n;
  }

  start(everyMs = 1000): void {
    if (this.nice <= 0 || this.timer) return;
    this.scan();
    this.timer = setInterval(() => this.scan(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
