/**
 * An append-only log file rotated by size: before a line would take the
 * file past `maxBytes`, it becomes `<file>.1` (the older ones move up to
 * `<file>.<keep>`, the oldest is dropped) and a new file is started; a line
 * is never split between files. The files are private (0600). Lines are
 * gathered and written together every 50 ms (or at 64 kB), so a busy
 * server makes few system calls; `close` writes what is left. A failing
 * disk never stops the server: the first error is reported on stderr and
 * lines are dropped until writing works again.
 */
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { privateFile, PRIVATE_FILE_MODE, type LogLine } from './private-files.js';

const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

export class RotatingFile {
  private fd: number;
  private size: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
    log: LogLine,
  ) {
    privateFile(path, log);
    this.fd = openSync(path, 'a', PRIVATE_FILE_MODE);
    this.size = fstatSync(this.fd).size;
  }

  write(line: string): void {
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line);
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Writes the gathered lines, rotating before any line that would not fit. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let chunk = '';
    let chunkBytes = 0;
    for (const line of lines) {
      const n = Buffer.byteLength(line);
      if (this.size + chunkBytes > 0 && this.size + chunkBytes + n > this.maxBytes) {
        this.append(chunk);
        chunk = '';
        chunkBytes = 0;
        this.rotate();
      }
      chunk += line;
      chunkBytes += n;
    }
    if (chunk) this.append(chunk);
  }

  private append(text: string): void {
    if (!text) return;
    try {
      // a descriptor closed by a failed rotation is never reused: it may name another file by now
      if (this.fd < 0) this.reopen();
      const buf = Buffer.from(text);
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
      this.size += buf.length;
      this.failing = false;
    } catch (err) {
      this.complain('written', err);
    }
  }

  /** The current file becomes .1, .1 becomes .2 … up to .keep; writing goes on in a new file. */
  private rotate(): void {
    try {
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = -1;
      if (this.keep === 0) rmSync(this.path, { force: true });
      else {
        rmSync(`${this.path}.${this.keep}`, { force: true });
        for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        renameSync(this.path, `${this.path}.1`);
      }
    } catch (err) {
      this.complain('rotated', err);
    }
    this.fd = -1;
    try {
      this.reopen();
    } catch (err) {
      this.complain('opened', err);
    }
  }

  private reopen(): void {
    this.fd = openSync(this.path, 'a', PRIVATE_FILE_MODE);
    this.size = fstatSync(this.fd).size;
  }

  private complain(what: string, err: unknown): void {
    if (!this.failing) process.stderr.write(`the log file ${this.path} could not be ${what} (${(err as Error).message}); log lines may be lost until it can\n`);
    this.failing = true;
  }

  async close(): Promise<void> {
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
