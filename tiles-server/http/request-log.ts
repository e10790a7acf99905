/**
 * The request log (LOG_REQUESTS, LOG_FILE): one JSON line per request,
 * written once the request is really over — its handler has finished AND
 * its response has closed. Writing it when the response closed (as before)
 * logged a request whose client went away with the default status 200 and
 * with the time until the hang-up, while its handler went on working.
 *
 * A line holds `t` (arrival), `method`, `path`, `status` (the status sent,
 * null if none was), `ms` (arrival to the later of handler end and
 * response close), `stalledMs` when the event loop had just been stalled
 * as the request was read (no code runs while it is, so a request that
 * came meanwhile waited unseen for up to that long: its client saw up to
 * `ms` + `stalledMs`), and, for a request whose client went away before the
 * response was complete (the client hung up, or the connection was cut),
 * `aborted: true` and `abortedAtMs`. `path` keeps
 * only opaque ids (slide ids, UUIDs) and integers of the matched route;
 * every other part taken from the URL is `*`, and the query is never
 * logged, so no file name or other text a user typed reaches the log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LogSink {
  write(line: string): void;
}

export const stdoutSink: LogSink = { write: (line) => void process.stdout.write(line) };

const TICK_MS = 20;
const STALL_MS = 50;

/**
 * How long the event loop had just been stalled: a timer that should tick
 * every 20 ms notes how late it was; a request read right after a stall
 * (or while the timer is still overdue) gets that stall.
 */
export class StallClock {
  private last = performance.now();
  private stall = 0;
  private stallEnded = -Infinity;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.last - TICK_MS;
      if (late >= STALL_MS) {
        this.stall = late;
        this.stallEnded = now;
      }
      this.last = now;
    }, TICK_MS);
    this.timer.unref();
  }

  /** The stall (ms) the loop has just come out of, or is still in when the timer is overdue; 0 if none. */
  recent(): number {
    const now = performance.now();
    const overdue = now - this.last - TICK_MS;
    const ended = now - this.stallEnded <= 5 * TICK_MS ? this.stall : 0;
    const ms = Math.max(overdue, ended);
    return ms >= STALL_MS ? Math.round(ms) : 0;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

const OPAQUE = /^(?:[0-9a-f]{16,64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{1,9})$/i;

/** The path as logged: the matched route with each parameter kept only when it is an opaque id or a number. */
export function loggedPath(pathname: string, pattern: RegExp | null): string {
  if (!pattern) return '(no route)';
  const m = new RegExp(pattern.source, `${pattern.flags.replace('d', '')}d`).exec(pathname);
  if (!m?.indices) return '(no route)';
  let out = '';
  let at = 0;
  for (let i = 1; i < m.length; i++) {
    const span = m.indices[i];
    if (!span) continue;
    out += pathname.slice(at, span[0]) + (OPAQUE.test(m[i] as string) ? (m[i] as string) : '*');
    at = span[1];
  }
  return out + pathname.slice(at);
}

/**
 * Follows one request: `onAborted` runs when the response closes before it
 * was complete; call `handlerDone` when the handler has finished (resolved
 * or thrown). With a log, the line is written once both happened;
 * `describe` gives the logged path then.
 */
export function trackRequest(
  req: IncomingMessage,
  res: ServerResponse,
  log: { sink: LogSink; stalls: StallClock } | null,
  describe: () => string,
  onAborted: () => void,
): { handlerDone(): void } {
  const arrived = new Date();
  const started = performance.now();
  const stalled = log?.stalls.recent() ?? 0;
  let aborted: number | null = null;
  let closed = false;
  let handled = false;
  const finish = (): void => {
    if (!closed || !handled || !log) return;
    const line: Record<string, unknown> = {
      t: arrived.toISOString(),
      method: req.method,
      path: describe(),
      status: res.headersSent ? res.statusCode : null,
      ms: +(performance.now() - started).toFixed(1),
    };
    if (stalled > 0) line['stalledMs'] = stalled;
    if (aborted !== null) {
      line['aborted'] = true;
      line['abortedAtMs'] = +(aborted - started).toFixed(1);
    }
    log.sink.write(`${JSON.stringify(line)}\n`);
  };
  res.on('close', () => {
    if (!res.writableFinished) {
      aborted = performance.now();
      onAborted();
    }
    closed = true;
    finish();
  });
  return {
    handlerDone() {
      handled = true;
      finish();
    },
  };
}
