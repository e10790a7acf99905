/**
 * Simulated pathologists for the load suite: each replays an OpenSeadragon-
 * like viewing trail (start at fit-to-screen, then zoom in on something,
 * pan, zoom out, pan again) on one slide, requesting the DZI tiles each new
 * view shows that it has not fetched before (as a browser cache would), at
 * its own pace of 30–60 tiles/s, over at most 6 connections (a browser's
 * limit per host). The load is open: a slow answer does not slow the user's
 * next views, so latencies include every wait the user would see. A tile
 * refused with 503 is asked again after its Retry-After, at most 3 times, as
 * the app's viewer does (OpenSeadragon's tileRetryMax 3, tileRetryDelay
 * 1 s, src/viewer/osd-controller.ts): its latency runs from the first ask to
 * the answer the user finally gets.
 */
import { Agent, request } from 'node:http';
import { dziLevelSize, dziMaxLevel } from '../../src/core/tile-grid.js';
import { rng } from './workloads.js';
import { bearer } from '../credentials.js';

const TILE = 256;
const VIEW_W = 1600;
const VIEW_H = 900;

/** As the app's viewer: OpenSeadragon's tileRetryMax and tileRetryDelay. */
const TILE_RETRIES = 3;
const TILE_RETRY_MS = 1000;

export interface Sample {
  /** When the request was issued (ms since the run started). */
  at: number;
  /** From issue to last byte: what the user waits, queueing for a connection included. */
  ms: number;
  /** From the request leaving on a connection to its last byte: what the server took. */
  serverMs: number;
  status: number;
  retryAfter: boolean;
  /** Times the tile was asked again after a 503 (viewers only). */
  retries?: number;
}

export interface TrailSlide {
  /** `${base}/dzi/${id}_files` */
  filesUrl: string;
  width: number;
  height: number;
}

/** One view: a DZI level and the top-left corner of the viewport in that level's pixels. */
interface View {
  level: number;
  x: number;
  y: number;
}

function clampView(v: View, slide: TrailSlide): View {
  const size = dziLevelSize(slide.width, slide.height, v.level);
  return { level: v.level, x: Math.max(0, Math.min(v.x, size.width - VIEW_W)), y: Math.max(0, Math.min(v.y, size.height - VIEW_H)) };
}

/** The next view of a trail: zoom in (35%), zoom out (15%) or pan (50%). */
function nextView(v: View, slide: TrailSlide, r: () => number, minLevel: number, maxLevel: number): View {
  const p = r();
  if (p < 0.35 && v.level < maxLevel) {
    // zoom in on a point in the view
    const fx = v.x + r() * VIEW_W;
    const fy = v.y + r() * VIEW_H;
    return clampView({ level: v.level + 1, x: fx * 2 - VIEW_W / 2, y: fy * 2 - VIEW_H / 2 }, slide);
  }
  if (p < 0.5 && v.level > minLevel) {
    return clampView({ level: v.level - 1, x: (v.x + VIEW_W / 2) / 2 - VIEW_W / 2, y: (v.y + VIEW_H / 2) / 2 - VIEW_H / 2 }, slide);
  }
  const angle = r() * Math.PI * 2;
  const step = 0.3 + r() * 0.3;
  return clampView({ level: v.level, x: v.x + Math.cos(angle) * VIEW_W * step, y: v.y + Math.sin(angle) * VIEW_H * step }, slide);
}

function tilesOf(v: View, slide: TrailSlide): Array<[number, number]> {
  const size = dziLevelSize(slide.width, slide.height, v.level);
  const out: Array<[number, number]> = [];
  const c1 = Math.min(Math.ceil(size.width / TILE) - 1, Math.floor((v.x + VIEW_W - 1) / TILE));
  const r1 = Math.min(Math.ceil(size.height / TILE) - 1, Math.floor((v.y + VIEW_H - 1) / TILE));
  for (let row = Math.max(0, Math.floor(v.y / TILE)); row <= r1; row++) {
    for (let col = Math.max(0, Math.floor(v.x / TILE)); col <= c1; col++) out.push([col, row]);
  }
  return out;
}

export function get(agent: Agent, url: string): Promise<{ status: number; retryAfter: boolean; serverMs: number }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    let sent = performance.now();
    const done = (status: number, retryAfter: boolean): void => resolve({ status, retryAfter, serverMs: performance.now() - sent });
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, agent, method: 'GET', headers: bearer(u.origin) }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => done(res.statusCode ?? 0, res.headers['retry-after'] !== undefined));
      res.on('error', () => done(0, false));
    });
    // the agent holds a request until one of its connections is free
    req.on('socket', () => (sent = performance.now()));
    req.on('error', () => done(0, false));
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** A tile as the viewer gets it: a 503 is asked again after TILE_RETRY_MS, at most TILE_RETRIES times. */
async function getTile(agent: Agent, url: string): Promise<{ status: number; retryAfter: boolean; serverMs: number; retries: number }> {
  let retries = 0;
  for (;;) {
    const res = await get(agent, url);
    if (res.status !== 503 || retries >= TILE_RETRIES) return { ...res, retries };
    retries++;
    await sleep(TILE_RETRY_MS);
  }
}

/**
 * Runs `users` simulated pathologists for `seconds`, user i on slide i mod
 * slides.length; every tile answer is a sample.
 */
export async function runViewers(slides: TrailSlide[], users: number, seconds: number, seed: number, t0 = performance.now()): Promise<Sample[]> {
  const samples: Sample[] = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: users }, async (_, u) => {
      const slide = slides[u % slides.length] as TrailSlide;
      const r = rng(seed * 7919 + u + 1);
      const rate = 30 + r() * 30;
      const agent = new Agent({ keepAlive: true, maxSockets: 6 });
      const maxLevel = dziMaxLevel(slide.width, slide.height);
      const fitLevel = maxLevel - Math.ceil(Math.log2(Math.max(slide.width / VIEW_W, slide.height / VIEW_H, 1)));
      const seen = new Set<string>();
      let view = clampView({ level: fitLevel, x: 0, y: 0 }, slide);
      const inFlight = new Set<Promise<void>>();
      // users start spread over the first second
      await sleep(r() * 1000);
      let due = performance.now();
      while (performance.now() < deadline) {
        const fresh = tilesOf(view, slide).filter(([c, row]) => !seen.has(`${view.level}/${c}/${row}`));
        for (const [c, row] of fresh) {
          seen.add(`${view.level}/${c}/${row}`);
          const issued = performance.now();
          const p = getTile(agent, `${slide.filesUrl}/${view.level}/${c}_${row}.jpeg`).then((res) => {
            samples.push({ at: issued - t0, ms: performance.now() - issued, serverMs: res.serverMs, status: res.status, retryAfter: res.retryAfter, retries: res.retries });
          });
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
        }
        // the user looks at this view for as long as its new tiles take at the user's pace
        due += (Math.max(1, fresh.length) / rate) * 1000;
        await sleep(due - performance.now());
        view = nextView(view, slide, r, fitLevel, maxLevel);
      }
      await Promise.all(inFlight);
      agent.destroy();
    }),
  );
  return samples;
}

/** Polls a URL every `everyMs` until stopped; each answer's latency is a sample. */
export function poll(url: string, everyMs: number, t0 = performance.now()): { stop(): Promise<Sample[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: Sample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const issued = performance.now();
      const res = await get(agent, url);
      samples.push({ at: issued - t0, ms: performance.now() - issued, serverMs: res.serverMs, status: res.status, retryAfter: res.retryAfter });
      await sleep(everyMs - (performance.now() - issued));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      agent.destroy();
      return samples;
    },
  };
}
