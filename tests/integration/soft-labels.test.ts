/**
 * Soft labels for training through HTTP (issue 14): three readers of a
 * blind project paint masks and draw cells (tests/helpers/three-readers.ts).
 *
 * - `soft-labels.tiff?source=votes` is pyramidal: OpenSlide opens it and
 *   reports its levels and their sizes (skipped with a message without
 *   openslide-tools); the per-level values are checked against a direct
 *   computation in tests/conformance/soft-label-pyramid.test.ts.
 * - `source=staple`: on a small ROI crossing every reader's class borders
 *   and the area the third reader left unpainted (class 0, AGR-03), each
 *   channel of level 0 (read with libvips/sharp) equals round(255 · p) of
 *   the plain per-pixel EM of tests/helpers/staple-reference.ts (the one
 *   the unit test checks the module against), 0 outside the ROI.
 * - `objects.geojson`: a hand-made case of cells by 3 readers — a cell all
 *   three drew, one two drew, a chain A₁–B–C–A₂ joined only through
 *   pairwise matches, lone cells — whose groups, votes and readers are
 *   written here; a stricter `iou` splits the chain.
 * - Bad cases get a 4xx with a code; annotators and viewers get 403
 *   (AGR-06); every export is audited.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, asSession, sessionHeaders, type Session } from '../helpers/accounts.js';
import { HAS_OPENSLIDE, openslideProperties } from '../helpers/openslide.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { referenceStaple } from '../helpers/staple-reference.js';
import { inside, labelAt, READERS, ROI, setUpThreeReaders } from '../helpers/three-readers.js';

if (!HAS_OPENSLIDE) process.stdout.write('[soft-labels] SKIP: openslide-show-properties is not on PATH, so OpenSlide does not open the exported TIFF (apt-get install openslide-tools)\n');

let server: TestServer;
let base = '';
let admin: Session;
const s: Record<string, Session> = {};
const id: Record<string, string> = {};
let ps = '';
let roi = '';
let stapleRoi = '';
let cellRoi = '';
/** A thin band crossing x = 700 (ann1), x = 760 and y = 900 (ann2), x = 1024 (ann3 unpainted past it). */
const STAPLE_RING = [[690, 897], [1040, 897], [1040, 903], [690, 903], [690, 897]];
/** The cells' ROI, away from everything else. */
const CELL_RING = [[1500, 100], [2300, 100], [2300, 900], [1500, 900], [1500, 100]];

function as(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return asSession(base, who === 'admin' ? admin : (s[who] as Session), method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

async function download(who: string, path: string): Promise<Response> {
  return anonymous(`${base}${path}`, { headers: sessionHeaders(base, s[who] as Session, {}) });
}

const readerIds = (): string[] => READERS.map((r) => id[r] as string);

async function draw(who: string, coordinates: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const a = { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates }, classification: null, name: null, note: null, locked: false, ...extra };
  const r = await as(who, 'POST', `/api/slides/${ps}/annotations`, a);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return a.id;
}

beforeAll(async () => {
  server = await startTestServer(FIXTURES, { AGREEMENT_MAX_PIXELS: '2000000' });
  base = server.url;
  admin = server.session as Session;
  const reading = await setUpThreeReaders(base, admin, 'Soft labels');
  Object.assign(s, reading.s);
  Object.assign(id, reading.id);
  ps = reading.ps;
  roi = await draw('rita', [ROI]);
  stapleRoi = await draw('rita', [STAPLE_RING]);
  cellRoi = await draw('rita', [CELL_RING]);
});

afterAll(async () => {
  await server?.stop();
});

describe('soft-label TIFF through HTTP', () => {
  it.skipIf(!HAS_OPENSLIDE)('votes (the default source) is pyramidal: OpenSlide opens it, with its levels and their sizes', async () => {
    const res = await download('rita', `/api/slides/${ps}/agreement/soft-labels.tiff?roi=${roi}&readers=${readerIds().join(',')}`);
    expect(res.status).toBe(200);
    const dir = await mkdtemp(join(tmpdir(), 'soft-labels-os-'));
    try {
      const file = join(dir, 'votes.tiff');
      await writeFile(file, Buffer.from(await res.arrayBuffer()));
      const props = await openslideProperties(file);
      expect(props.get('openslide.vendor')).toBe('generic-tiff');
      // the ROI's tiles: 3 × 3 mask tiles, 1536 px, then 768 and 384 (fits one tile)
      expect(props.get('openslide.level-count')).toBe('3');
      for (const [n, side] of [1536, 768, 384].entries()) {
        expect(props.get(`openslide.level[${n}].width`)).toBe(String(side));
        expect(props.get(`openslide.level[${n}].height`)).toBe(String(side));
        expect(props.get(`openslide.level[${n}].downsample`)).toBe(String(2 ** n));
      }
      expect(JSON.parse(props.get('openslide.comment') ?? '{}')).toMatchObject({ format: 'wsi-annotate-soft-labels', source: 'votes', roi });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('source=staple: each channel is round(255 · posterior) of a plain per-pixel EM (Warfield et al. 2004) over the ROI\'s pixels; unpainted counts as class 0 (AGR-03); 0 outside the ROI', async () => {
    const res = await download('rita', `/api/slides/${ps}/agreement/soft-labels.tiff?roi=${stapleRoi}&readers=${readerIds().join(',')}&source=staple`);
    expect(res.status).toBe(200);
    const file = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(file).metadata();
    // the band lies in mask tiles (1, 1) and (2, 1): a 1024 × 512 image from (512, 512)
    expect([meta.width, meta.height, meta.channels]).toEqual([1024, 512, 4]);
    const X0 = 512;
    const Y0 = 512;
    // the ROI's pixels and each reader's labels there, as painted
    const pixels: Array<[number, number]> = [];
    for (let y = 890; y < 910; y++) for (let x = 680; x < 1050; x++) if (inside(STAPLE_RING, x, y)) pixels.push([x, y]);
    expect(pixels.length).toBe(350 * 6);
    const labels = READERS.map((r) => Uint8Array.from(pixels, ([x, y]) => labelAt(r, x, y)));
    const ref = referenceStaple(labels, 5000, 1e-10);
    // every class, and unpainted (0) among them
    expect(ref.classes).toEqual([0, 1, 2, 3]);
    const channels: Uint8Array[] = [];
    for (let c = 0; c < 4; c++) channels.push(new Uint8Array(await sharp(file).pipelineColourspace('b-w').extractChannel(c as 0 | 1 | 2 | 3).toColourspace('b-w').raw().toBuffer()));
    let bad = 0;
    let exact = 0;
    let worst = 0;
    pixels.forEach(([x, y], i) => {
      for (let c = 0; c < 4; c++) {
        const want = 255 * (ref.W[i]![c] as number);
        const got = channels[c]![(y - Y0) * 1024 + (x - X0)] as number;
        worst = Math.max(worst, Math.abs(got - want));
        // the module and the reference agree within 1e-6: only a value within 1e-4 of a half could round either way
        if (Math.abs(want - Math.floor(want) - 0.5) > 1e-4) {
          exact++;
          if (got !== Math.round(want)) bad++;
        }
      }
    });
    expect(bad).toBe(0);
    expect(exact).toBeGreaterThan(pixels.length * 3);
    expect(worst).toBeLessThanOrEqual(0.5 + 1e-4);
    // outside the ROI: 0 in every channel
    let outside = 0;
    const roiSet = new Set(pixels.map(([x, y]) => `${x},${y}`));
    for (let y = Y0; y < Y0 + 512; y += 7) for (let x = X0; x < X0 + 1024; x += 5) if (!roiSet.has(`${x},${y}`)) for (let c = 0; c < 4; c++) if (channels[c]![(y - Y0) * 1024 + (x - X0)] !== 0) outside++;
    expect(outside).toBe(0);
    const audit = (await as('admin', 'GET', '/api/audit?action=agreement.soft-labels&limit=10')).body['records'] as Array<{ user: string; detail: Record<string, unknown> }>;
    const mine = audit.filter((a) => a.detail['roi'] === stapleRoi);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.user).toBe(id['rita']);
    expect(mine[0]?.detail).toMatchObject({ source: 'staple', channels: 4, levels: 2 });
  }, 120_000);

  it('refuses a bad source with 400 BAD_REQUEST, and annotators and viewers with 403 (AGR-06)', async () => {
    const path = (q: string): string => `/api/slides/${ps}/agreement/soft-labels.tiff?roi=${stapleRoi}&readers=${readerIds().join(',')}${q}`;
    const r = await as('rita', 'GET', path('&source=majority'));
    expect(r.status).toBe(400);
    expect(r.body['code']).toBe('BAD_REQUEST');
    for (const who of ['ann1', 'vic']) expect((await as(who, 'GET', path('&source=staple'))).status, who).toBe(403);
  });
});

describe('per-object vote counts in GeoJSON', () => {
  /** Annotation id → the name the test gives the cell. */
  const names = new Map<string, string>();
  const square = (x: number, y: number): number[][][] => [[[x, y], [x + 20, y], [x + 20, y + 20], [x, y + 20], [x, y]]];

  beforeAll(async () => {
    const cell = async (who: string, name: string, x: number, y: number, cls: string | null): Promise<void> => {
      names.set(await draw(who, square(x, y), { classification: cls, objectType: 'cell' }), name);
    };
    // X: all three, 1 px apart (IoU 19/21 and 18/22)
    await cell('ann1', 'X1', 1600, 200, 'Tumour');
    await cell('ann2', 'X2', 1601, 200, 'Tumour');
    await cell('ann3', 'X3', 1602, 200, 'Stroma');
    // Y: two readers
    await cell('ann1', 'Y1', 1700, 200, 'Tumour');
    await cell('ann2', 'Y2', 1701, 200, 'Stroma');
    // a chain 4 px apart (IoU 16·20 / 24·20 = 0.67 between neighbours, 0.43 two apart):
    // A1–B (ann1–ann2), B–C (ann2–ann3), C–A2 (ann3–ann1); A1–C and B–A2 do not match
    await cell('ann1', 'A1', 1900, 200, 'Tumour');
    await cell('ann2', 'B', 1904, 200, 'Tumour');
    await cell('ann3', 'C', 1908, 200, 'Stroma');
    await cell('ann1', 'A2', 1912, 200, 'Lymphocyte');
    // lone cells: one without a class, and one of ann3
    await cell('ann2', 'L2', 2000, 400, null);
    await cell('ann3', 'L3', 2100, 400, 'Lymphocyte');
    // outside the ROI: not counted
    await cell('ann1', 'OUT', 2400, 200, 'Tumour');
    // a plain polygon (not a cell) inside: not an object
    names.set(await draw('ann1', square(1650, 600)), 'POLY');
  });

  interface Feature {
    type: string;
    geometry: { type: string; coordinates: unknown[] };
    properties: { votes: Record<string, number>; readers: string[]; n_readers: number; n_objects: number; members: Array<{ reader: string; annotation: string; class: string | null }> };
  }

  /** Each feature as the sorted names of its members, its votes and its readers (as reader names). */
  function summary(features: Feature[]): Array<{ members: string; votes: Record<string, number>; readers: string[]; n_readers: number }> {
    const who = new Map(READERS.map((r) => [id[r] as string, r]));
    return features
      .map((f) => ({
        members: f.properties.members.map((m) => names.get(m.annotation) ?? '?').sort().join(','),
        votes: f.properties.votes,
        readers: f.properties.readers.map((r) => who.get(r) ?? '?').sort(),
        n_readers: f.properties.n_readers,
      }))
      .sort((a, b) => a.members.localeCompare(b.members));
  }

  it('groups the readers\' cells by pairwise one-to-one matches at IoU ≥ 0.5 (connected components); unmatched cells are groups of one; votes per class counted here', async () => {
    const res = await download('rita', `/api/slides/${ps}/agreement/objects.geojson?roi=${cellRoi}&readers=${readerIds().join(',')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/geo+json');
    expect(res.headers.get('content-disposition')).toMatch(/object-votes_\d{4}-\d\d-\d\d\.geojson/);
    const fc = (await res.json()) as { type: string; kind: string; iou: number; features: Feature[] };
    expect(fc).toMatchObject({ type: 'FeatureCollection', kind: 'cells', iou: 0.5 });
    expect(summary(fc.features)).toEqual([
      { members: 'A1,A2,B,C', votes: { Tumour: 2, Stroma: 1, Lymphocyte: 1 }, readers: ['ann1', 'ann2', 'ann3'], n_readers: 3 },
      { members: 'L2', votes: { '(no class)': 1 }, readers: ['ann2'], n_readers: 1 },
      { members: 'L3', votes: { Lymphocyte: 1 }, readers: ['ann3'], n_readers: 1 },
      { members: 'X1,X2,X3', votes: { Tumour: 2, Stroma: 1 }, readers: ['ann1', 'ann2', 'ann3'], n_readers: 3 },
      { members: 'Y1,Y2', votes: { Tumour: 1, Stroma: 1 }, readers: ['ann1', 'ann2'], n_readers: 2 },
    ]);
    const chain = fc.features.find((f) => f.properties.members.length === 4) as Feature;
    expect(chain.properties.n_objects).toBe(4);
    // the geometry holds every member's outline, in the members' order
    expect(chain.geometry.type).toBe('MultiPolygon');
    expect(chain.geometry.coordinates).toHaveLength(4);
    const x1 = chain.properties.members.findIndex((m) => names.get(m.annotation) === 'A1');
    expect(chain.geometry.coordinates[x1]).toEqual(square(1900, 200));
    const audit = (await as('admin', 'GET', '/api/audit?action=agreement.object-votes&limit=5')).body['records'] as Array<{ user: string; detail: Record<string, unknown> }>;
    expect(audit[0]?.user).toBe(id['rita']);
    expect(audit[0]?.detail).toMatchObject({ roi: cellRoi, kind: 'cells', groups: 5 });
  });

  it('a stricter iou (0.85) splits the chain into groups of one and keeps the 1-px groups', async () => {
    const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects.geojson?roi=${cellRoi}&readers=${readerIds().join(',')}&iou=0.85`);
    expect(r.status).toBe(200);
    expect(summary(r.body['features'] as Feature[]).map((f) => f.members)).toEqual(['A1', 'A2', 'B', 'C', 'L2', 'L3', 'X1,X2,X3', 'Y1,Y2']);
  });

  it('two readers: only their cells', async () => {
    const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects.geojson?roi=${cellRoi}&readers=${id['ann1']},${id['ann3']}`);
    expect(r.status).toBe(200);
    // ann1–ann3: X1–X3 (IoU 18/22), A2–C; Y1, A1, L3 alone
    expect(summary(r.body['features'] as Feature[]).map((f) => f.members)).toEqual(['A1', 'A2,C', 'L3', 'X1,X3', 'Y1']);
  });

  it('kind=points: points within distanceUm are one group (MultiPoint), a far one is alone', async () => {
    const point = async (who: string, name: string, x: number, y: number, cls: string): Promise<void> => {
      const a = { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [x, y] }, classification: cls, name: null, note: null, locked: false };
      const r = await as(who, 'POST', `/api/slides/${ps}/annotations`, a);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      names.set(a.id, name);
    };
    await point('ann1', 'P1', 1600, 800, 'Mitosis');
    await point('ann2', 'P2', 1601, 800, 'Mitosis');
    await point('ann3', 'P3', 1602, 801, 'Mimic');
    await point('ann3', 'P4', 1800, 800, 'Mitosis');
    const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects.geojson?roi=${cellRoi}&readers=${readerIds().join(',')}&kind=points&distanceUm=1`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ kind: 'points', distanceUm: 1 });
    const features = r.body['features'] as Feature[];
    expect(summary(features)).toEqual([
      { members: 'P1,P2,P3', votes: { Mitosis: 2, Mimic: 1 }, readers: ['ann1', 'ann2', 'ann3'], n_readers: 3 },
      { members: 'P4', votes: { Mitosis: 1 }, readers: ['ann3'], n_readers: 1 },
    ]);
    const three = features.find((f) => f.properties.n_objects === 3) as Feature;
    expect(three.geometry.type).toBe('MultiPoint');
    expect([...(three.geometry.coordinates as number[][])].sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([[1600, 800], [1601, 800], [1602, 801]]);
  });

  it('refuses bad input with a code, and annotators and viewers with 403 (AGR-06)', async () => {
    const readers = readerIds().join(',');
    const path = (q: string): string => `/api/slides/${ps}/agreement/objects.geojson?${q}`;
    for (const [q, status, code] of [
      [`roi=${cellRoi}&readers=${readers},nobody`, 404, 'NOT_FOUND'],
      [`roi=${randomUUID()}&readers=${readers}`, 404, 'ANNOTATION_NOT_FOUND'],
      [`readers=${readers}`, 400, 'BAD_REQUEST'],
      [`roi=${cellRoi}&readers=${id['ann1']}`, 400, 'BAD_REQUEST'],
      [`roi=${cellRoi}&readers=${id['ann1']},${id['ann1']}`, 400, 'BAD_REQUEST'],
      [`roi=${cellRoi}&readers=${readers}&iou=0`, 400, 'BAD_REQUEST'],
      [`roi=${cellRoi}&readers=${readers}&iou=1.5`, 400, 'BAD_REQUEST'],
      [`roi=${cellRoi}&readers=${readers}&iou=abc`, 400, 'BAD_REQUEST'],
      [`roi=${cellRoi}&readers=${readers}&kind=lines`, 400, 'BAD_REQUEST'],
    ] as Array<[string, number, string]>) {
      const r = await as('rita', 'GET', path(q));
      expect(r.status, `${q}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body['code'], q).toBe(code);
    }
    for (const who of ['ann1', 'vic']) {
      const res = await download(who, path(`roi=${cellRoi}&readers=${readers}`));
      expect(res.status, who).toBe(403);
      expect(await res.text()).not.toMatch(/votes|Tumour/);
    }
  });
});
