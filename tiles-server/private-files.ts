/**
 * The server's own state is readable by its user only: the data folder is
 * 0700, the database (and its WAL and shared-memory files, which SQLite
 * creates with the database file's mode), the server secret and the request
 * log are 0600. Files and folders an older version created more openly are
 * tightened at start, with a line saying so.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export type LogLine = (line: string) => void;

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** Takes away every permission `mode` does not give (never adds any); says so when it did. */
export function tighten(path: string, mode: number, log: LogLine): void {
  let was: number;
  try {
    was = statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const now = was & mode;
  if (now === was) return;
  chmodSync(path, now);
  log(`tightened the permissions of ${path} from ${octal(was)} to ${octal(now)} (only the server's user may read it)`);
}

/** Creates the folder (and its parents) if needed, private; tightens an existing one. */
export function privateDir(path: string, log: LogLine): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(path, PRIVATE_DIR_MODE, log);
}

/** Creates the file empty if it does not exist (never truncates), private; tightens an existing one. */
export function privateFile(path: string, log: LogLine): void {
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  tighten(path, PRIVATE_FILE_MODE, log);
}
