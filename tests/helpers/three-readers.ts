/**
 * Three readers of a blind project who paint the same region by hand, for
 * the agreement tests through HTTP (agreement-api, consensus): what each
 * paints (the third leaves part of the ROI unpainted: AGR-03), the shared
 * ROI, a PNPOLY point-in-polygon test written independently of the
 * server's rasterizer, and the setup (accounts, the project with a
 * reviewer and a viewer, the masks painted through the API). The accounts
 * and project part (setUpProject) serves the other multi-reader tests.
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

const call = (base: string, who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> =>
  asSession(base, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });

/** Accounts (test password) signed in, by name, and their ids. */
export interface Members {
  s: Record<string, Session>;
  id: Record<string, string>;
  project: string;
}

/** Makes the users (the sign-ins run side by side), the project (`project`: its POST body) and their roles in it, in the order given. */
export async function setUpProject(base: string, admin: Session, project: Record<string, unknown>, members: ReadonlyArray<readonly [string, string]>): Promise<Members> {
  const id: Record<string, string> = {};
  for (const [who] of members) id[who] = (await createUser(base, admin, who)).id;
  const s = Object.fromEntries(await Promise.all(members.map(async ([who]) => [who, await signIn(base, who)] as const))) as Record<string, Session>;
  const made = await call(base, admin, 'POST', '/api/projects', project);
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  const pid = (made.body['project'] as { id: string }).id;
  for (const [who, role] of members) expect((await call(base, admin, 'PUT', `/api/projects/${pid}/members/${id[who]}`, { role })).status).toBe(200);
  return { s, id, project: pid };
}

/** The blind project "name" on aperio-jpeg-240-x4.svs, its members, and the three readers' masks. */
export async function setUpThreeReaders(base: string, admin: Session, name: string): Promise<Reading> {
  const as = (who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => call(base, who, method, path, body);
  const { s, id, project } = await setUpProject(base, admin, { name, blind: true }, [['ann1', 'annotator'], ['ann2', 'annotator'], ['ann3', 'annotator'], ['rita', 'reviewer'], ['vic', 'viewer']]);
  const slides = (await as(admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  const folder = slides.find((x) => x.name.endsWith('aperio-jpeg-240-x4.svs'))?.id ?? '';
  const ps = (await as(admin, 'POST', `/api/projects/${project}/slides`, { slideId: folder })).body['id'] as string;
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
