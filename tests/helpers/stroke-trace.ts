/**
 * The files a brush stroke crosses, measured from real stacks (issue 9:
 * "a brush stroke crosses at most 20 files from pointer to stored tile").
 *
 * The measure: the project files (src/, workers/, tiles-server/) on the CALL
 * PATH that carries one stroke from the pointer to the stored tile, read at
 * the points where the stroke changes hands, in the order they first appear:
 * - in the page, at the two messages to the mask worker that carry it (the
 *   `paint` job, then the `compress` of a changed tile for upload), at the
 *   outbox's IndexedDB `add` and at the `fetch` that POSTs the tiles;
 * - in the mask worker, where the rasterizer hands a span to the tile set,
 *   where a changed tile is run-length encoded, and where it is compressed;
 * - on the server, at the SQLite write of the tile's head row.
 * Each stack is the synchronous stack plus its async parents as the
 * debugger records them (Chrome DevTools Protocol with async call stacks:
 * an `await`, a promise callback or a timer keeps the frames of the code
 * that scheduled it), so the async hops lose no caller. The server's stack
 * is `new Error().stack` with no depth limit, which keeps `await` parents;
 * the route's chain is awaits from the request handler to the store.
 * Helpers that return before a hand-over (the view transform, the tile
 * grid, validation) are not on the path and do not count: they are the
 * "code that also runs" the README lists after the walk.
 *
 * Nothing here ships: the page's hooks are an init script, the worker's are
 * debugger breakpoints placed through the bundle's source map, and the
 * server's is tests/helpers/stroke-trace-preload.mjs, loaded with
 * NODE_OPTIONS=--import only in the test's server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { DIST, ROOT } from './paths.js';

/** Where the server hook lives, and the env that loads it into the test's server. */
export const STROKE_TRACE_PRELOAD = join(ROOT, 'tests', 'helpers', 'stroke-trace-preload.mjs');
export function strokeTraceEnv(file: string): Record<string, string> {
  return { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import ${pathToFileURL(STROKE_TRACE_PRELOAD).href}`.trim(), STROKE_TRACE_FILE: file };
}

const PROJECT = /^(src|workers|tiles-server)\//;

/** One captured stack, outermost caller first, as repo-relative project files. */
export interface Capture {
  where: string;
  files: string[];
}

// ---- source maps (v3, decoded here: the repo has no source-map dependency) ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

interface Mapping {
  genLine: number;
  genCol: number;
  src: number;
  line: number;
}

interface DecodedMap {
  sources: string[];
  /** Per generated line, its segments sorted by column. */
  lines: Mapping[][];
}

function decodeMap(mapFile: string): DecodedMap {
  const raw = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[]; sourceRoot?: string; mappings: string };
  const base = dirname(mapFile);
  const sources = raw.sources.map((s) => relative(ROOT, resolve(base, raw.sourceRoot ?? '', s)).split('\\').join('/'));
  const lines: Mapping[][] = [];
  let src = 0;
  let line = 0;
  raw.mappings.split(';').forEach((text, genLine) => {
    const segs: Mapping[] = [];
    let genCol = 0;
    for (const seg of text.split(',')) {
      if (!seg) continue;
      const v: number[] = [];
      let shift = 0;
      let acc = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        acc += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          v.push(acc & 1 ? -(acc >>> 1) : acc >>> 1);
          acc = 0;
          shift = 0;
        }
      }
      genCol += v[0] as number;
      if (v.length < 4) continue;
      src += v[1] as number;
      line += v[2] as number; // v[3], the source column, is not needed
      segs.push({ genLine, genCol, src, line });
    }
    lines.push(segs);
  });
  return { sources, lines };
}

const maps = new Map<string, DecodedMap | null>();

/** The decoded map of a script the app serves from dist/ (null: not ours, or no map). */
function mapOf(url: string): DecodedMap | null {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return null;
  }
  if (!maps.has(path)) {
    const file = join(DIST, `${path}.map`);
    maps.set(path, existsSync(file) ? decodeMap(file) : null);
  }
  return maps.get(path) ?? null;
}

/** The project file a generated position comes from (null: a dependency, or not ours). */
function originalFile(url: string, line: number, column: number): string | null {
  const m = mapOf(url);
  const segs = m?.lines[line];
  if (!m || !segs?.length) return null;
  let hit: Mapping | undefined;
  for (const s of segs) {
    if (s.genCol > column) break;
    hit = s;
  }
  const file = m.sources[(hit ?? segs[0])?.src as number];
  return file && PROJECT.test(file) ? file : null;
}

/** The first generated position of a source line (0-based) in a script, for a breakpoint. */
function generatedOf(url: string, file: string, line: number): { lineNumber: number; columnNumber: number } | null {
  const m = mapOf(url);
  const src = m?.sources.indexOf(file) ?? -1;
  if (!m || src < 0) return null;
  for (const segs of m.lines) for (const s of segs) if (s.src === src && s.line === line) return { lineNumber: s.genLine, columnNumber: s.genCol };
  return null;
}

/** The 0-based line of a source file that matches `marker` (one match, or the test is out of date). */
export function lineOf(file: string, marker: RegExp): number {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const at = lines.flatMap((l, i) => (marker.test(l) ? [i] : []));
  if (at.length !== 1) throw new Error(`stroke trace: ${file} has ${at.length} lines matching ${marker}; update the trace's markers`);
  return at[0] as number;
}

// ---- stacks ----

/** A frame of an async parent (Runtime.CallFrame). */
interface CdpFrame {
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface CdpStack {
  callFrames: CdpFrame[];
  parent?: CdpStack;
}
/** A frame of the paused stack (Debugger.CallFrame: its script by id). */
interface PausedFrame {
  callFrameId: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}
interface Paused {
  callFrames: PausedFrame[];
  asyncStackTrace?: CdpStack;
  hitBreakpoints?: string[];
}

/** Project files of a paused stack, outermost first (async parents before their children). */
function filesOfPause(p: Paused, scripts: Map<string, string>): string[] {
  const chain: CdpFrame[][] = [p.callFrames.map((f) => ({ url: scripts.get(f.location.scriptId) ?? '', lineNumber: f.location.lineNumber, columnNumber: f.location.columnNumber }))];
  for (let s = p.asyncStackTrace; s; s = s.parent) chain.push(s.callFrames);
  const files: string[] = [];
  for (const frames of chain.reverse()) {
    for (const f of [...frames].reverse()) {
      const file = originalFile(f.url, f.lineNumber, f.columnNumber);
      if (file) files.push(file);
    }
  }
  return files;
}

/** Project files of a Node `Error().stack` of the built server, outermost first. */
export function filesOfNodeStack(stack: string): string[] {
  const files: string[] = [];
  for (const m of stack.matchAll(/\(?(?:file:\/\/)?(\/[^\s():]+\.js):\d+:\d+\)?$/gm)) {
    const rel = relative(join(ROOT, 'build'), m[1] as string).split('\\').join('/');
    const ts = rel.replace(/\.js$/, '.ts');
    if (PROJECT.test(ts) && existsSync(join(ROOT, ts))) files.push(ts);
  }
  return files.reverse();
}

/** In order of first appearance. */
export function unionInOrder(captures: Capture[]): string[] {
  const out: string[] = [];
  for (const c of captures) for (const f of c.files) if (!out.includes(f)) out.push(f);
  return out;
}

/** The page's hand-over hooks: each pauses in the debugger once, while `__strokeTrace` is armed. */
const PAGE_HOOKS = `(() => {
  const hop = (what) => {
    const armed = globalThis.__strokeTrace;
    if (!armed || armed.has(what)) return;
    armed.add(what);
    debugger;
  };
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (m, t) {
    if (m && m.type === 'APPLY' && Array.isArray(m.path) && (m.path[0] === 'paint' || m.path[0] === 'compress')) hop('page → worker: ' + m.path[0]);
    return post.call(this, m, t);
  };
  const add = IDBObjectStore.prototype.add;
  IDBObjectStore.prototype.add = function (...a) {
    if (this.name === 'outbox') hop('page: outbox add');
    return add.apply(this, a);
  };
  const f = globalThis.fetch;
  globalThis.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init && init.method) || (input instanceof Request ? input.method : 'GET');
    if (method === 'POST' && /\\/masks\\/[^/]+\\/tiles$/.test(new URL(url, location.href).pathname)) hop('page → server: POST tiles');
    return f.call(this, input, init);
  };
})();`;

/** The worker's hand-over points: the rasterizer's span sink, the tile encoder, the upload's compression. */
const WORKER_POINTS: Array<{ where: string; file: string; marker: RegExp; below: number }> = [
  { where: 'worker: rasterizer → tile set', file: 'workers/mask-ops.ts', marker: /this\.rows\[y - this\.y0\]\?\.push\(x0, x1\)/, below: 0 },
  // the first statement of these functions
  { where: 'worker: tile encoded', file: 'src/core/mask/rle.ts', marker: /^export function encodeTile\(/, below: 1 },
  { where: 'worker: tile compressed', file: 'workers/mask-ops.ts', marker: /^export function compressEncoded\(/, below: 1 },
];

/**
 * Hooks a page before it loads the app (the page's hooks are an init
 * script); `arm`, just before the stroke, attaches the debugger to the page
 * and the mask worker (so the async stacks are recorded only from then on:
 * loading the slide stays at full speed), and the stroke's hand-overs are
 * then recorded; `captures` returns them in order.
 */
export interface StrokeTrace {
  arm(): Promise<void>;
  captures(): Capture[];
  close(): Promise<void>;
}

export async function traceStroke(page: Page): Promise<StrokeTrace> {
  const captures: Capture[] = [];
  await page.addInitScript(PAGE_HOOKS);
  let cdp: CDPSession | null = null;

  async function attach(): Promise<CDPSession> {
    const session = await page.context().newCDPSession(page);
    const pageScripts = new Map<string, string>();
    session.on('Debugger.scriptParsed', (e) => pageScripts.set(e.scriptId, e.url));
    session.on('Debugger.paused', (e) => {
      const p = e as unknown as Paused;
      const top = p.callFrames[0];
      void (async () => {
        let where = 'page';
        if (top) {
          const r = (await session.send('Debugger.evaluateOnCallFrame', { callFrameId: top.callFrameId, expression: 'what' }).catch(() => null)) as { result?: { value?: unknown } } | null;
          if (typeof r?.result?.value === 'string') where = r.result.value;
        }
        captures.push({ where, files: filesOfPause(p, pageScripts) });
        await session.send('Debugger.resume');
      })();
    });
    await session.send('Debugger.enable');
    await session.send('Debugger.setAsyncCallStackDepth', { maxDepth: 64 });

    // the mask worker, through its target (the page's CDP session, not flattened)
    let nextId = 1;
    const replies = new Map<number, (m: { result?: unknown; error?: { message: string } }) => void>();
    const maskWorker = new Map<string, string>(); // session id → mask worker script URL
    const scriptsInWorkers = new Map<string, Map<string, string>>(); // session id → script id → URL (ids are per worker)
    const workerBreakpoints = new Map<string, string>(); // breakpoint id → where
    const sendTo = <T>(sessionId: string, method: string, params: object = {}): Promise<T> =>
      new Promise<T>((ok, fail) => {
        const id = nextId++;
        replies.set(id, (m) => (m.error ? fail(new Error(`${method}: ${m.error.message}`)) : ok(m.result as T)));
        void session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(fail);
      });
    const enabling: Array<Promise<unknown>> = [];
    session.on('Target.attachedToTarget', (e) => {
      if (e.targetInfo.type !== 'worker') return;
      enabling.push(sendTo(e.sessionId, 'Debugger.enable').then(() => sendTo(e.sessionId, 'Debugger.setAsyncCallStackDepth', { maxDepth: 64 })));
    });
    session.on('Target.receivedMessageFromTarget', (e) => {
      const m = JSON.parse(e.message) as { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string } };
      if (m.id !== undefined) {
        replies.get(m.id)?.(m);
        replies.delete(m.id);
      } else if (m.method === 'Debugger.scriptParsed') {
        const url = String(m.params?.['url']);
        const scripts = scriptsInWorkers.get(e.sessionId) ?? new Map<string, string>();
        scriptsInWorkers.set(e.sessionId, scripts.set(String(m.params?.['scriptId']), url));
        if (/\/mask\.worker-[^/]*\.js$/.test(url)) maskWorker.set(e.sessionId, url);
      } else if (m.method === 'Debugger.paused') {
        const p = m.params as unknown as Paused;
        for (const id of p.hitBreakpoints ?? []) {
          const where = workerBreakpoints.get(id);
          if (!where) continue;
          workerBreakpoints.delete(id);
          captures.push({ where, files: filesOfPause(p, scriptsInWorkers.get(e.sessionId) ?? new Map()) });
          void sendTo(e.sessionId, 'Debugger.removeBreakpoint', { breakpointId: id });
        }
        void sendTo(e.sessionId, 'Debugger.resume');
      }
    });
    await session.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    await Promise.all(enabling);
    if (maskWorker.size !== 1) throw new Error(`stroke trace: expected one mask worker, found ${maskWorker.size}`);
    const [sessionId, url] = [...maskWorker][0] as [string, string];
    for (const p of WORKER_POINTS) {
      const at = generatedOf(url, p.file, lineOf(p.file, p.marker) + p.below);
      if (!at) throw new Error(`stroke trace: ${p.file} is not in the mask worker's source map`);
      const r = await sendTo<{ breakpointId: string }>(sessionId, 'Debugger.setBreakpointByUrl', { url, ...at });
      workerBreakpoints.set(r.breakpointId, p.where);
    }
    return session;
  }

  return {
    async arm() {
      cdp = await attach();
      await page.evaluate('globalThis.__strokeTrace = new Set()');
    },
    captures: () => captures,
    async close() {
      await cdp?.detach().catch(() => undefined);
    },
  };
}

/** The files the README's "A brush stroke" walk names, in order (its numbered list). */
export function readmeStrokeWalk(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('**A brush stroke.**');
  if (start < 0) throw new Error('README.md has no "**A brush stroke.**" walk');
  const files: string[] = [];
  for (const line of readme.slice(start).split('\n').slice(1)) {
    const m = /^\d+\. `([^`]+)`/.exec(line);
    if (m) files.push(m[1] as string);
    else if (files.length && /^\S/.test(line) && !/^\d+\./.test(line)) break;
  }
  return files;
}
