/**
 * A change is acknowledged only once it is durable: the answer to a request
 * that may write (any method but GET, HEAD and OPTIONS) is held at its end
 * until the request is done (its audit record written too) and the store's
 * `flush()` (store/wal-sync.ts) has then put the commits made so far on
 * disk. A failed sync ends the connection without an answer.
 *
 * Only `end` is held: a route that answers a change must send its whole
 * answer with `end` (none streams with `write`), and until then
 * `headersSent` and `writableEnded` read false.
 */
import type { ServerResponse } from 'node:http';
import type { Durability } from '../store/wal-sync.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface HeldAnswer {
  /** The request is done: sync, then send the answer it ended with (or let a later end through, after a sync). */
  release(): Promise<void>;
}

const NOT_HELD: HeldAnswer = { release: () => Promise.resolve() };

export function holdUntilDurable(method: string | undefined, res: ServerResponse, durability: Durability, log: (line: string) => void): HeldAnswer {
  if (READS.has(method ?? 'GET')) return NOT_HELD;
  const end = res.end as (...a: unknown[]) => ServerResponse;
  let ended: unknown[] | null = null;
  let released = false;
  const send = (args: unknown[]): Promise<void> =>
    durability.flush().then(
      () => void end.apply(res, args),
      (err: unknown) => {
        log(`the database's journal could not be synced to disk (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): a change was not acknowledged`);
        res.destroy();
      },
    );
  res.end = function held(this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (released) void send(args);
    else ended ??= args;
    return res;
  } as ServerResponse['end'];
  return {
    release(): Promise<void> {
      if (released) return Promise.resolve();
      released = true;
      return ended ? send(ended) : Promise.resolve();
    },
  };
}
