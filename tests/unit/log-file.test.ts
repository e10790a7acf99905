/**
 * The rotating log file (LOG_FILE, LOG_MAX_MB, LOG_KEEP; issue 10 finding
 * 9): a file never grows past its size once it holds a line, older files
 * move up to .keep and the oldest is dropped, no line is lost or split
 * between files, and every file is private (0600).
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RotatingFile } from '../../tiles-server/log-file.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('RotatingFile', () => {
  it('rotates by size, keeps `keep` old files, and loses no line of the ones it keeps', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsi-logrot-'));
    dirs.push(dir);
    const path = join(dir, 'req.log');
    await writeFile(path, 'old line from before\n', { mode: 0o644 });
    const said: string[] = [];
    const f = new RotatingFile(path, 1000, 3, (l) => said.push(l));
    expect(said.join()).toMatch(/tightened/);
    const lines = Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ n: i, pad: 'x'.repeat(i % 40) })}\n`);
    for (const l of lines) f.write(l);
    await f.close();
    const names = (await readdir(dir)).sort();
    expect(names).toEqual(['req.log', 'req.log.1', 'req.log.2', 'req.log.3']);
    const texts: string[] = [];
    for (const n of ['req.log.3', 'req.log.2', 'req.log.1', 'req.log']) {
      const p = join(dir, n);
      expect((await stat(p)).size, n).toBeLessThanOrEqual(1000);
      expect((await stat(p)).mode & 0o777, n).toBe(0o600);
      texts.push(await readFile(p, 'utf8'));
    }
    // the kept files hold the newest lines, whole and in order, ending with the last one written
    const kept = texts.join('').split('\n').filter(Boolean);
    expect(kept.length).toBeGreaterThan(40);
    expect(kept).toEqual(lines.slice(lines.length - kept.length).map((l) => l.trimEnd()));
  });

  it('with keep 0 starts the file afresh', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsi-logrot0-'));
    dirs.push(dir);
    const path = join(dir, 'req.log');
    const f = new RotatingFile(path, 100, 0, () => undefined);
    for (let i = 0; i < 20; i++) f.write(`line ${i} ${'y'.repeat(20)}\n`);
    await f.close();
    expect(await readdir(dir)).toEqual(['req.log']);
    expect((await readFile(path, 'utf8')).trimEnd().split('\n').pop()).toBe(`line 19 ${'y'.repeat(20)}`);
  });
});
