/**
 * A change is acknowledged only once it is durable: the answer to a request
 * that may write (any method but GET, HEAD and OPTIONS) is held at its end
 * until the store's `flush()` (store/wal-sync.ts) has put the commits made so
 * far on disk. A failed sync ends the connection without an answer: the
 * client, unanswered, retries under its Idempotency-Key.
 */
import type { ServerResponse } from 'node:http';
import type { Durability } from '../store/wal-sync.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function holdUntilDurable(method: string | undefined, res: ServerResponse, durability: Durability, log: (line: string) => void): void {
  if (READS.has(method ?? 'GET')) return;
  const end = res.end;
  res.end = function held(this: ServerResponse, ...args: unknown[]): ServerResponse {
    durability.flush().then(
      () => (end as (...a: unknown[]) => ServerResponse).apply(res, args),
      (err: unknown) => {
        log(`the database's journal could not be synced to disk (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): a change was not acknowledged`);
        res.destroy();
      },
    );
    return res;
  } as ServerResponse['end'];
}
