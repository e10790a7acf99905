/**
 * Three readers of a blind project who paint the same region by hand, for
 * the agreement tests through HTTP (agreement-api, consensus): what each
 * paints (the third leaves part of the ROI unpainted: AGR-03), the shared
 * ROI, a PNPOLY point-in-polygon test written independently of the
 * server's rasterizer, and the setup (accounts, the project with a
 * reviewer and a viewer, the masks painted through the API).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { asSession, createUser, signIn, type Session } from './accounts.js';
import { b64, T, tile, zlib } from './masks.js';

/** aperio-jpeg-240-x4.svs: 2400 × 1800 px. */
export const W = 2400;
export const H = 1800;
export const READERS = ['ann1', 'ann2', 'ann3'];
/** What each reader paints (level-0 coordinates → class id; 0 = leaves unpainted), over tiles tx 0..2 × ty 0..2. */
export const PAINT: Record<string, (x: number, y: number) => number> = {
  ann1: (x) => (x < 700 ? 1 : 2),
  ann2: (x, y) => (x < 760 ? 1 : y < 900 ? 2 : 3),
  // only tiles (0..1, 0..1): the rest of the ROI stays unpainted for this reader (AGR-03)
  ann3: (x, y) => (x >= 1024 || y >= 1024 ? 0 : x + y < 1200 ? 1 : 2),
};
export const ROI = [
  [100, 150],
  [1400, 300],
  [1300, 1250],
  [200, 1100],
  [100, 150],
];

/** PNPOLY, written here: is the centre of pixel (x, y) inside the ring (even-odd)? */
export function inside(ring: number[][], x: number, y: number): boolean {
  const px = x + 0.5;
  const py = y + 0.5;
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number];
    const [xj, yj] = ring[j] as [number, number];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

/** Reader r's class at (x, y), as painted (tiles 0..2 × 0..2 only). */
export function labelAt(reader: string, x: number, y: number): number {
  if (x >= 3 * T || y >= 3 * T) return 0;
  return (PAINT[reader] as (x: number, y: number) => number)(x, y);
}

export interface Reading {
  /** Sessions and user ids by name: the readers, rita (reviewer) and vic (viewer). */
  s: Record<string, Session>;
  id: Record<string, string>;
  project: string;
  /** The project slide. */
  ps: string;
}

/** The blind project "name" on aperio-jpeg-240-x4.svs, its members, and the three readers' masks. */
export async function setUpThreeReaders(base: string, admin: Session, name: string): Promise<Reading> {
  const s: Record<string, Session> = {};
  const id: Record<string, string> = {};
  const as = (who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> =>
    asSession(base, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
  for (const who of [...READERS, 'rita', 'vic']) {
    id[who] = (await createUser(base, admin, who)).id;
    s[who] = await signIn(base, who);
  }
  const slides = (await as(admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  const folder = slides.find((x) => x.name.endsWith('aperio-jpeg-240-x4.svs'))?.id ?? '';
  const project = ((await as(admin, 'POST', '/api/projects', { name, blind: true })).body['project'] as { id: string }).id;
  const ps = (await as(admin, 'POST', `/api/projects/${project}/slides`, { slideId: folder })).body['id'] as string;
  for (const [who, role] of [['ann1', 'annotator'], ['ann2', 'annotator'], ['ann3', 'annotator'], ['rita', 'reviewer'], ['vic', 'viewer']] as const) {
    expect((await as(admin, 'PUT', `/api/projects/${project}/members/${id[who]}`, { role })).status).toBe(200);
  }
  // each reader paints their own mask
  for (const reader of READERS) {
    const ops: unknown[] = [];
    for (let ty = 0; ty < 3; ty++) {
      for (let tx = 0; tx < 3; tx++) {
        const px = tile((x, y) => labelAt(reader, tx * T + x, ty * T + y));
        if (px.every((v) => v === 0)) continue;
        ops.push({ tx, ty, ifMatch: 0, data: b64(zlib(px)) });
      }
    }
    const r = await as(s[reader] as Session, 'POST', `/api/slides/${ps}/masks/${id[reader]}/tiles`, { ops });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  return { s, id, project, ps };
}
