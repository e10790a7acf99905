/**
 * `npm run bench -- triage` (issue 13): the triage tool's step at
 * BENCH_TRIAGE_CELLS predictions. The measurement is tests/bench/triage-steps.ts,
 * run here with tsx because it loads the browser code of the tool (lit, the
 * client store), which the server build does not compile; its JSON lines
 * are passed on.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Emit } from './tiles-suite.js';

export async function triageSuite(root: string, emit: Emit): Promise<void> {
  const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'tests', 'bench', 'triage-steps.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line.startsWith('{')) emit(JSON.parse(line) as Record<string, unknown>);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the triage bench exited with ${code}`);
}
