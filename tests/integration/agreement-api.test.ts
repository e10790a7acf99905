/**
 * Agreement between readers through HTTP (issue 14): three annotators of a
 * blind project paint masks by hand (one leaves part of the ROI unpainted),
 * a reviewer draws a polygon ROI and asks for the agreement; the joint
 * counts, every pair's confusion matrix, Dice and kappa must equal a count
 * made here from the painted tiles and a per-pixel point-in-polygon test
 * written independently of the server's rasterizer. The CSV tables, the
 * disagreement map (its PNG tiles against the expected share per 64-px
 * block), the point endpoint and the audit records are checked; bad input
 * (unknown reader, ROI not found or not a polygon, fewer than 2 readers,
 * an ROI past AGREEMENT_MAX_PIXELS, hostile parameters) gets a 4xx, never a
 * 500 (AGR-03 through the API); and no annotator or viewer of the blind
 * project gets anything from these routes (AGR-06).
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, asSession, sessionHeaders, type Session } from '../helpers/accounts.js';
import { b64, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { H, inside, labelAt, READERS, ROI, setUpThreeReaders, W } from '../helpers/three-readers.js';

let server: TestServer;
let base = '';
let admin: Session;
const s: Record<string, Session> = {};
const id: Record<string, string> = {};
let ps = '';
let roi = '';
let bigRoi = '';
let pointRoi = '';

function as(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return asSession(base, who === 'admin' ? admin : (s[who] as Session), method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

async function raw(who: string, path: string): Promise<Response> {
  return anonymous(`${base}${path}`, { headers: sessionHeaders(base, s[who] as Session, {}) });
}

beforeAll(async () => {
  server = await startTestServer(FIXTURES, { AGREEMENT_MAX_PIXELS: '2000000' });
  base = server.url;
  admin = server.session as Session;
  const reading = await setUpThreeReaders(base, admin, 'Reading one');
  Object.assign(s, reading.s);
  Object.assign(id, reading.id);
  ps = reading.ps;
  const draw = async (coordinates: unknown, type = 'Polygon'): Promise<string> => {
    const a = { id: randomUUID(), kind: type === 'Point' ? 'point' : 'polygon', geometry: { type, coordinates }, classification: null, name: null, note: null, locked: false };
    const r = await as('rita', 'POST', `/api/slides/${ps}/annotations`, a);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return a.id;
  };
  roi = await draw([ROI]);
  bigRoi = await draw([[[0, 0], [W, 0], [W, H], [0, H], [0, 0]]]);
  pointRoi = await draw([300, 300], 'Point');
});

afterAll(async () => {
  await server?.stop();
});

interface Pair {
  a: number;
  b: number;
  pixels: number;
  agree: number;
  cohenKappa: number | null;
  confusion: number[][];
  perClass: Array<{ class: number; dice: number | null; iou: number | null }>;
}

describe('agreement inside a shared ROI', () => {
  it('counts every pixel of the ROI exactly: pixels, every pair\'s confusion, Dice and kappa equal a count made here; unpainted area is class 0 (AGR-03)', async () => {
    const readers = READERS.map((r) => id[r]).join(',');
    const r = await as('rita', 'GET', `/api/slides/${ps}/agreement?roi=${roi}&readers=${readers}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const m = r.body['metrics'] as { pixels: number; classes: number[]; pairs: Pair[]; fleissKappa: number | null };
    // the count made here
    const classes = [0, 1, 2, 3];
    const conf = [0, 1, 2].map(() => [0, 1, 2].map(() => classes.map(() => classes.map(() => 0))));
    let pixels = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (!inside(ROI, x, y)) continue;
        pixels++;
        const l = READERS.map((rd) => labelAt(rd, x, y));
        for (let a = 0; a < 3; a++) for (let b = a + 1; b < 3; b++) (conf[a] as number[][][])[b]![l[a]!]![l[b]!]!++;
      }
    }
    expect(m.pixels).toBe(pixels);
    expect(r.body['pixels']).toBe(pixels);
    expect(m.classes).toEqual(expect.arrayContaining(classes));
    for (const p of m.pairs) {
      const want = (conf[p.a] as number[][][])[p.b] as number[][];
      // the server's matrix is over its class list; compare the classes both have
      for (const [i, ci] of m.classes.entries()) for (const [j, cj] of m.classes.entries()) expect(p.confusion[i]?.[j], `pair ${p.a},${p.b} ${ci}→${cj}`).toBe(classes.includes(ci) && classes.includes(cj) ? want[ci]?.[cj] : 0);
      const n = want.flat().reduce((q, v) => q + v, 0);
      const agree = classes.reduce((q, c) => q + (want[c]?.[c] as number), 0);
      let chance = 0;
      for (const c of classes) chance += ((want[c] as number[]).reduce((q, v) => q + v, 0) / n) * (want.reduce((q, row) => q + (row[c] as number), 0) / n);
      expect(p.cohenKappa).toBeCloseTo((agree / n - chance) / (1 - chance), 12);
      for (const c of classes) {
        const ca = (want[c] as number[]).reduce((q, v) => q + v, 0);
        const cb = want.reduce((q, row) => q + (row[c] as number), 0);
        const d = p.perClass.find((x) => x.class === c);
        if (ca + cb === 0) expect(d?.dice).toBeNull();
        else expect(d?.dice).toBeCloseTo((2 * (want[c]?.[c] as number)) / (ca + cb), 12);
      }
    }
    // reader 3 left part of the ROI unpainted: that area is class 0 in the counts
    const per = (r.body['metrics'] as { perClass: Array<{ class: number; pixels: number[] }> }).perClass.find((c) => c.class === 0);
    expect(per?.pixels[2]).toBeGreaterThan(100_000);
    expect(typeof m.fleissKappa).toBe('number');
    // consensus and STAPLE come with it, per reader
    const st = r.body['staple'] as { readers: Array<{ id: string; sensitivity: Record<string, number> }> };
    expect(st.readers.map((x) => x.id)).toEqual(READERS.map((rd) => id[rd]));
    expect(Object.keys(st.readers[0]?.sensitivity ?? {})).toEqual(['0', '1', '2', '3']);
    const maj = r.body['majority'] as { pixels: Record<string, number>; undecided: number };
    expect(Object.values(maj.pixels).reduce((q, v) => q + v, 0) + maj.undecided).toBe(pixels);
    expect(JSON.stringify(r.body)).not.toMatch(/NaN|Infinity/);
  });

  it('exports a per-class table and a reader × reader matrix as CSV', async () => {
    const readers = READERS.map((r) => id[r]).join(',');
    const classesCsv = await raw('rita', `/api/slides/${ps}/agreement?roi=${roi}&readers=${readers}&format=csv`);
    expect(classesCsv.status).toBe(200);
    expect(classesCsv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(classesCsv.headers.get('content-disposition')).toMatch(/attachment; filename=".*agreement-classes.*\.csv"/);
    const rows = (await classesCsv.text()).trimEnd().split('\r\n').map((l) => l.split(','));
    expect(rows[0]?.slice(0, 5)).toEqual(['class_id', 'class', 'pixels ann1', 'pixels ann2', 'pixels ann3']);
    // every class of the project's palette has a row; those no reader used have pixels 0 and no Dice (empty, never 0 or NaN: AGR-01)
    expect(rows.slice(1).map((r) => r[0])).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    expect(rows[5]?.slice(2)).toEqual(['0', '0', '0', '', '', '', '', '', '', '', '']);
    const json = (await as('rita', 'GET', `/api/slides/${ps}/agreement?roi=${roi}&readers=${readers}`)).body['metrics'] as { pairs: Pair[]; perClass: Array<{ meanDice: number | null }> };
    expect(Number(rows[2]?.[5])).toBe(json.perClass[1]?.meanDice);
    const matrix = await raw('rita', `/api/slides/${ps}/agreement?roi=${roi}&readers=${readers}&format=csv&table=readers`);
    const mrows = (await matrix.text()).trimEnd().split('\r\n').map((l) => l.split(','));
    expect(mrows[0]).toEqual(["Cohen's kappa", 'ann1', 'ann2', 'ann3']);
    expect(mrows[1]?.[1]).toBe('');
    expect(Number(mrows[1]?.[2])).toBe(json.pairs.find((p) => p.a === 0 && p.b === 1)?.cohenKappa);
    expect(Number(mrows[3]?.[1])).toBe(json.pairs.find((p) => p.a === 0 && p.b === 2)?.cohenKappa);
    const acc = await raw('rita', `/api/slides/${ps}/agreement?roi=${roi}&readers=${readers}&format=csv&table=readers&metric=accuracy`);
    expect((await acc.text()).split('\r\n')[0]).toBe('pixel accuracy,ann1,ann2,ann3');
  });

  it('writes an audit record for each computation, naming the ROI and the readers', async () => {
    const records = (await as('admin', 'GET', '/api/audit?action=agreement.computed&limit=100')).body['records'] as Array<{ user: string; detail: Record<string, unknown> }>;
    expect(records.length).toBeGreaterThanOrEqual(5);
    expect(records[0]?.user).toBe(id['rita']);
    expect(records[0]?.detail).toMatchObject({ roi, readers: READERS.map((r) => id[r]).join(',') });
  });

  it('answers bad input with a 4xx and a code, never a 500', async () => {
    const two = `${id['ann1']},${id['ann2']}`;
    const cases: Array<[string, number, string]> = [
      [`roi=${roi}&readers=${id['ann1']},nobody-here`, 404, 'NOT_FOUND'],
      [`roi=${roi}&readers=${id['ann1']},${id['vic']}`, 404, 'NOT_FOUND'], // a member who painted nothing here
      [`roi=${randomUUID()}&readers=${two}`, 404, 'ANNOTATION_NOT_FOUND'],
      [`roi=${pointRoi}&readers=${two}`, 400, 'BAD_REQUEST'],
      [`roi=${roi}&readers=${id['ann1']}`, 400, 'BAD_REQUEST'],
      [`roi=${roi}&readers=${id['ann1']},${id['ann1']}`, 400, 'BAD_REQUEST'],
      [`roi=${roi}&readers=a,b,c,d,e,f,g`, 400, 'BAD_REQUEST'],
      [`roi=${roi}`, 400, 'BAD_REQUEST'],
      [`readers=${two}`, 400, 'BAD_REQUEST'],
      [`roi=${bigRoi}&readers=${two}`, 422, 'REGION_TOO_LARGE'],
      [`roi=${encodeURIComponent("'; DROP TABLE mask_tiles; --")}&readers=${two}`, 400, 'BAD_REQUEST'],
      [`roi=${roi}&readers=${encodeURIComponent('../../etc/passwd,\u0000')}`, 400, 'BAD_REQUEST'],
      [`roi=${roi}&readers=__proto__,constructor`, 404, 'NOT_FOUND'],
      [`roi=${roi}&readers=${'x'.repeat(2000)}`, 400, 'BAD_REQUEST'],
      [`roi=${roi}&readers=${two}&format=xml`, 400, 'BAD_REQUEST'],
      [`roi=${roi}&readers=${two}&format=csv&table=everything`, 400, 'BAD_REQUEST'],
    ];
    for (const [q, status, code] of cases) {
      const r = await as('rita', 'GET', `/api/slides/${ps}/agreement?${q}`);
      expect(r.status, `${q}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body['code'], q).toBe(code);
    }
    const big = await as('rita', 'GET', `/api/slides/${ps}/agreement?roi=${bigRoi}&readers=${two}`);
    expect(String(big.body['message'])).toMatch(/2,000,000/);
    for (const path of [
      `/agreement/map?readers=${id['ann1']}`,
      `/agreement/map/99/0/0.png?readers=${two}`,
      `/agreement/map/0/99/0.png?readers=${two}`,
      `/agreement/map/1e3/0/0.png?readers=${two}`,
      `/agreement/map/-1/0/0.png?readers=${two}`,
      `/agreement/point?x=-1&y=0&readers=${two}`,
      `/agreement/point?x=1e308&y=0&readers=${two}`,
      `/agreement/point?x=${W}&y=0&readers=${two}`,
      `/agreement/point?x=1&readers=${two}`,
    ]) {
      const r = await as('rita', 'GET', `/api/slides/${ps}${path}`);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
    }
  });
});

describe('disagreement map and who said what', () => {
  /** The mean share of disagreeing readers over the painted pixels of 64-px block (bx, by), counted here. */
  function blockShare(bx: number, by: number): number | null {
    let sum = 0;
    let n = 0;
    for (let y = by * 64; y < Math.min(H, (by + 1) * 64); y++) {
      for (let x = bx * 64; x < Math.min(W, (bx + 1) * 64); x++) {
        const l = READERS.map((r) => labelAt(r, x, y));
        if (l.every((v) => v === 0)) continue;
        const most = Math.max(...l.map((v) => l.filter((w) => w === v).length));
        sum += 1 - most / 3;
        n++;
      }
    }
    return n === 0 ? null : sum / n;
  }

  it('describes the map and serves level-0 tiles whose blocks show the share of readers who disagree', async () => {
    const readers = READERS.map((r) => id[r]).join(',');
    const d = await as('rita', 'GET', `/api/slides/${ps}/agreement/map?readers=${readers}`);
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    expect(d.body).toMatchObject({ block: 64, tileSize: 256, width: Math.ceil(W / 64), height: Math.ceil(H / 64), levels: 1 });
    const res = await raw('rita', `/api/slides/${ps}/agreement/map/0/0/0.png?readers=${readers}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([Math.ceil(W / 64), Math.ceil(H / 64)]);
    let checked = 0;
    for (let by = 0; by < info.height; by += 3) {
      for (let bx = 0; bx < info.width; bx += 3) {
        const share = blockShare(bx, by);
        const alpha = data[(by * info.width + bx) * 4 + 3] as number;
        if (share === null || share === 0) expect(alpha, `block ${bx},${by}`).toBe(0);
        // the map keeps its sums in 32-bit floats: the opacity may differ by one step from the exact count
        else expect(Math.abs(alpha - Math.round(60 + 195 * Math.min(1, share / (2 / 3)))), `block ${bx},${by}`).toBeLessThanOrEqual(1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
    // two readers only: another map (and another cache entry)
    const two = await raw('rita', `/api/slides/${ps}/agreement/map/0/0/0.png?readers=${id['ann1']},${id['ann2']}`);
    expect(two.status).toBe(200);
  });

  it('follows a change of a reader\'s mask (the map is keyed by the masks\' versions)', async () => {
    const readers = `${id['ann1']},${id['ann2']}`;
    const before = await raw('rita', `/api/slides/${ps}/agreement/map/0/0/0.png?readers=${readers}`);
    const a = (await sharp(Buffer.from(await before.arrayBuffer())).ensureAlpha().raw().toBuffer())[(26 * 38 + 34) * 4 + 3];
    // block (34, 26) lies in tile (4, 3), which nobody painted: now ann1 paints it all class 5
    expect(a).toBe(0);
    const r = await as('ann1', 'POST', `/api/slides/${ps}/masks/${id['ann1']}/tiles`, { ops: [{ tx: 4, ty: 3, ifMatch: 0, data: b64(zlib(tile((x, y) => (x < 352 && y < 264 ? 5 : 0)))) }] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const after = await raw('rita', `/api/slides/${ps}/agreement/map/0/0/0.png?readers=${readers}`);
    const px = await sharp(Buffer.from(await after.arrayBuffer())).ensureAlpha().raw().toBuffer();
    // one reader of two says 5, the other nothing: half disagree, the most there can be
    expect(px[(26 * 38 + 34) * 4 + 3]).toBe(255);
  });

  it('lists who said what at a point', async () => {
    const readers = READERS.map((r) => id[r]).join(',');
    const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/point?x=730&y=1000&readers=${readers}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body['readers']).toEqual([
      { id: id['ann1'], username: 'ann1', class: 2, className: 'Stroma' },
      { id: id['ann2'], username: 'ann2', class: 1, className: 'Tumour' },
      { id: id['ann3'], username: 'ann3', class: 2, className: 'Stroma' },
    ]);
    expect(r.body).toMatchObject({ majority: 2, undecided: false, disagreeing: 1 });
    const out = await as('rita', 'GET', `/api/slides/${ps}/agreement/point?x=2000&y=100&readers=${readers}`);
    expect(out.body).toMatchObject({ majority: 0, disagreeing: 0 });
  });
});

describe('blind mode (AGR-06)', () => {
  it('gives an annotator or a viewer of the blind project nothing from the agreement routes, their own mask included', async () => {
    const readers = READERS.map((r) => id[r]).join(',');
    const paths = [
      `/agreement?roi=${roi}&readers=${readers}`,
      `/agreement?roi=${roi}&readers=${readers}&format=csv`,
      `/agreement?roi=${roi}&readers=${readers}&format=csv&table=readers`,
      `/agreement/map?readers=${readers}`,
      `/agreement/map/0/0/0.png?readers=${readers}`,
      `/agreement/point?x=730&y=1000&readers=${readers}`,
    ];
    for (const who of ['ann1', 'ann3', 'vic']) {
      for (const p of paths) {
        const res = await raw(who, `/api/slides/${ps}${p}`);
        const text = await res.text();
        expect(res.status, `${who} ${p}`).toBe(403);
        for (const other of READERS) if (other !== who) expect(text).not.toContain(id[other] as string);
        expect(text).not.toMatch(/kappa|Stroma|PNG/);
      }
    }
    // and the reviewer does get them
    expect((await raw('rita', `/api/slides/${ps}/agreement/map?readers=${readers}`)).status).toBe(200);
  });
});

describe('objects: cells at IoU ≥ t and points within a distance, inside the ROI', () => {
  const sq = (x: number, y: number, s: number): number[][][] => [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]];
  let mpp: number | null = null;

  beforeAll(async () => {
    mpp = ((await as('rita', 'GET', `/api/slides/${ps}`)).body['mpp'] as number | null) ?? null;
    const make = async (who: string, geometry: unknown, classification: string | null, objectType: string, kind: string): Promise<void> => {
      const r = await as(who, 'POST', `/api/slides/${ps}/annotations`, { id: randomUUID(), kind, geometry, classification, name: null, note: null, locked: false, objectType });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    };
    // ann1: three cells in the ROI, one outside it
    for (const [x, y, c] of [[300, 400, 'Tumour'], [500, 400, 'Tumour'], [700, 500, 'Stroma'], [1600, 1500, 'Tumour']] as Array<[number, number, string]>) await make('ann1', { type: 'Polygon', coordinates: sq(x, y, 20) }, c, 'detection', 'polygon');
    // ann2: 2 px off (IoU 360/440), 11 px off (IoU 180/620), 1 px off with another class (IoU 380/420), and one of its own
    for (const [x, y, c] of [[302, 400, 'Tumour'], [500, 411, 'Stroma'], [701, 500, 'Tumour'], [900, 900, 'Tumour']] as Array<[number, number, string]>) await make('ann2', { type: 'Polygon', coordinates: sq(x, y, 20) }, c, 'detection', 'polygon');
    // a region of interest ann2 drew is no cell
    await make('ann2', { type: 'Polygon', coordinates: sq(600, 600, 30) }, 'Tumour', 'annotation', 'polygon');
    for (const [x, y] of [[400, 700], [420, 700], [1000, 300]]) await make('ann1', { type: 'Point', coordinates: [x, y] }, 'Mitosis', 'annotation', 'point');
    // (200, 1200) lies outside the ROI
    for (const [x, y] of [[403, 700], [1000, 310], [200, 1200]]) await make('ann2', { type: 'Point', coordinates: [x, y] }, 'Mitosis', 'annotation', 'point');
  });

  it('matches cells one to one at IoU ≥ 0.5 (configurable): precision, recall, F1 and the class confusion of matched pairs', async () => {
    const readers = `${id['ann1']},${id['ann2']}`;
    const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects?roi=${roi}&readers=${readers}&kind=cells`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body['objects']).toEqual([3, 4]);
    const p = (r.body['pairs'] as Array<Record<string, unknown>>)[0];
    expect(p).toMatchObject({ readerA: 0, readerB: 1, a: 3, b: 4, matched: 2, precision: 0.5 });
    expect(p?.['recall']).toBeCloseTo(2 / 3, 12);
    expect(p?.['f1']).toBeCloseTo(4 / 7, 12);
    expect(p?.['classConfusion']).toEqual(expect.arrayContaining([{ a: 'Tumour', b: 'Tumour', pairs: 1 }, { a: 'Stroma', b: 'Tumour', pairs: 1 }]));
    // at IoU ≥ 0.25 the 11-px-off pair matches too
    const low = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects?roi=${roi}&readers=${readers}&kind=cells&iou=0.25`);
    expect((low.body['pairs'] as Array<{ matched: number }>)[0]?.matched).toBe(3);
  });

  it('matches points within a distance in µm', async () => {
    const readers = `${id['ann1']},${id['ann2']}`;
    if (mpp === null) {
      const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects?roi=${roi}&readers=${readers}&kind=points`);
      expect(r.status).toBe(400);
      return;
    }
    const near = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects?roi=${roi}&readers=${readers}&kind=points&distanceUm=${(5 * mpp).toFixed(6)}`);
    expect(near.status, JSON.stringify(near.body)).toBe(200);
    expect(near.body['objects']).toEqual([3, 2]);
    expect((near.body['pairs'] as Array<{ matched: number }>)[0]?.matched).toBe(1);
    const far = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects?roi=${roi}&readers=${readers}&kind=points&distanceUm=${(12 * mpp).toFixed(6)}`);
    expect((far.body['pairs'] as Array<{ matched: number; f1: number }>)[0]).toMatchObject({ matched: 2, precision: 1, recall: 2 / 3, f1: 0.8 });
  });

  it('refuses bad parameters with a 4xx, and annotators of the blind project get nothing (AGR-06)', async () => {
    const readers = `${id['ann1']},${id['ann2']}`;
    for (const [q, status] of [
      [`roi=${roi}&readers=${readers}`, 400],
      [`roi=${roi}&readers=${readers}&kind=blobs`, 400],
      [`roi=${roi}&readers=${readers}&kind=cells&iou=0`, 400],
      [`roi=${roi}&readers=${readers}&kind=cells&iou=1.5`, 400],
      [`roi=${roi}&readers=${readers}&kind=cells&iou=NaN`, 400],
      [`roi=${roi}&readers=${readers}&kind=points&distanceUm=-3`, 400],
      [`roi=${roi}&readers=${id['ann1']},nobody-at-all&kind=cells`, 404],
      [`roi=${randomUUID()}&readers=${readers}&kind=cells`, 404],
      [`roi=${pointRoi}&readers=${readers}&kind=cells`, 400],
    ] as Array<[string, number]>) {
      const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects?${q}`);
      expect(r.status, `${q}: ${JSON.stringify(r.body)}`).toBe(status);
    }
    for (const who of ['ann1', 'vic']) {
      const res = await raw(who, `/api/slides/${ps}/agreement/objects?roi=${roi}&readers=${readers}&kind=cells`);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toMatch(/matched|Tumour/);
    }
  });
});

describe('objects: many cells are matched in a worker thread', () => {
  it('matches 1,101 cells against 990 (2,091 in all, past the in-process limit of 2,000) as counted here', async () => {
    const sq = (x: number, y: number): number[][][] => [[[x, y], [x + 14, y], [x + 14, y + 14], [x, y + 14], [x, y]]];
    const roi2 = randomUUID();
    const made = await as('rita', 'POST', `/api/slides/${ps}/annotations`, { id: roi2, kind: 'polygon', geometry: { type: 'Polygon', coordinates: [[[1450, 20], [2390, 20], [2390, 1790], [1450, 1790], [1450, 20]]] }, classification: null, name: null, note: null, locked: false });
    expect(made.status).toBe(201);
    const at = (i: number): [number, number] => [1460 + (i % 25) * 35, 30 + Math.floor(i / 25) * 40];
    const ops1: unknown[] = [];
    const ops2: unknown[] = [];
    for (let i = 0; i < 1100; i++) {
      const [x, y] = at(i);
      ops1.push({ op: 'create', annotation: { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates: sq(x, y) }, classification: 'Tumour', name: null, note: null, locked: false, objectType: 'cell' } });
      if (i % 10 === 0) continue; // ann2 missed it
      const dx = i % 10 === 5 ? 8 : 1; // 8 px off: IoU 84/308, no match; 1 px off: IoU 182/210
      ops2.push({ op: 'create', annotation: { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates: sq(x + dx, y) }, classification: 'Tumour', name: null, note: null, locked: false, objectType: 'cell' } });
    }
    expect((await as('ann1', 'POST', `/api/slides/${ps}/annotations/batch`, { ops: ops1 })).status).toBe(200);
    expect((await as('ann2', 'POST', `/api/slides/${ps}/annotations/batch`, { ops: ops2 })).status).toBe(200);
    const r = await as('rita', 'GET', `/api/slides/${ps}/agreement/objects?roi=${roi2}&readers=${id['ann1']},${id['ann2']}&kind=cells`);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    // ann1's 20-px cell at (1600, 1500) from the tests above lies in this ROI too (and matches nothing: IoU < 0.3)
    expect(r.body['objects']).toEqual([1101, 990]);
    expect((r.body['pairs'] as Array<Record<string, unknown>>)[0]).toMatchObject({ matched: 880, recall: 880 / 1101, precision: 880 / 990, classConfusion: [{ a: 'Tumour', b: 'Tumour', pairs: 880 }] });
  });
});

describe('counts made once per version of the masks', () => {
  it('answers a report asked again from the counts already made, and counts again once a reader\'s mask changed', async () => {
    const readers = `${id['ann1']},${id['ann3']}`;
    const get = async (): Promise<{ metrics: { perClass: Array<{ class: number; pixels: number[] }> }; timing: { workers: number } }> => {
      const r = await as('rita', 'GET', `/api/slides/${ps}/agreement?roi=${roi}&readers=${readers}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body as never;
    };
    const first = await get();
    expect(first.timing.workers).toBeGreaterThan(0);
    const again = await get();
    expect(again.timing.workers).toBe(0);
    expect(again.metrics).toEqual(first.metrics);
    // ann3 paints tile (2, 1), part of it inside the ROI, all class 1
    const w = await as('ann3', 'POST', `/api/slides/${ps}/masks/${id['ann3']}/tiles`, { ops: [{ tx: 2, ty: 1, ifMatch: 0, data: b64(zlib(tile(() => 1))) }] });
    expect(w.status, JSON.stringify(w.body)).toBe(200);
    const after = await get();
    expect(after.timing.workers).toBeGreaterThan(0);
    const unpainted = (b: typeof first): number => b.metrics.perClass.find((c) => c.class === 0)?.pixels[1] as number;
    let now = 0;
    for (let y = 512; y < 1024; y++) for (let x = 1024; x < 1536; x++) if (inside(ROI, x, y)) now++;
    expect(unpainted(first) - unpainted(after)).toBe(now);
  });
});
