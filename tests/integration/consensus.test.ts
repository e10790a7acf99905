/**
 * Accepting a consensus into the reference mask through HTTP (issue 14):
 * three readers of a blind project paint masks (one leaves part of the ROI
 * unpainted: class 0, AGR-03), a reviewer draws an ROI and accepts their
 * majority vote (ties unlabelled, then ties to a chosen reader) and their
 * STAPLE consensus into the slide's reference mask. The reference's pixels
 * must equal a decision made here per pixel, from the painted tiles and a
 * point-in-polygon test written here; pixels outside the ROI keep their
 * class; the readers' masks stay as they were (the disagreement is kept);
 * the provenance, the mask history and the audit log say who accepted what
 * and when; a restore goes back to any earlier version. Bad cases get a
 * 4xx with a code, never a 500: too few readers, the reference as a reader,
 * an unknown method, an ROI outside the slide, callers without the review
 * right, a blind project whose readers have not submitted (AGR-06), a retry
 * and a concurrent accept (idempotency: REV-03's "one wins").
 *
 * Soft labels: the readers' per-pixel votes inside the ROI exported as a
 * multi-channel TIFF, read back with tifffile (Debian's python3-tifffile,
 * through /usr/bin/python3; skipped visibly when absent) and compared with
 * a vote count made here; only reviewers get it (AGR-06).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERENCE_ANNOTATOR } from '../../src/core/agreement/reference.js';
import { stapleFromCounts } from '../../src/core/agreement/consensus.js';
import { anonymous, asSession, sessionHeaders, type Session } from '../helpers/accounts.js';
import { b64, inflate, parsePack, T, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { H, inside, labelAt, READERS, ROI, setUpThreeReaders, W } from '../helpers/three-readers.js';

let server: TestServer;
let base = '';
let admin: Session;
const s: Record<string, Session> = {};
const id: Record<string, string> = {};
let project = '';
let ps = '';
let roi = '';
let outsideRoi = '';
let smallRoi = '';

function as(who: string, method: string, path: string, body?: unknown, key: string = randomUUID()): Promise<{ status: number; body: Record<string, unknown> }> {
  return asSession(base, who === 'admin' ? admin : (s[who] as Session), method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': key });
}

/** The majority of the labels, written here: null at a tie. */
function majority(labels: number[]): number | null {
  const votes = new Map<number, number>();
  for (const l of labels) votes.set(l, (votes.get(l) ?? 0) + 1);
  const most = Math.max(...votes.values());
  const top = [...votes.entries()].filter(([, v]) => v === most);
  return top.length === 1 ? (top[0] as [number, number])[0] : null;
}

/** The reference as the server holds it now: tiles 0..2 × 0..2 as one 1536 × 1536 image (absent tiles: 0). */
async function reference(): Promise<Uint8Array> {
  const res = await anonymous(`${base}/api/slides/${ps}/masks/${encodeURIComponent(REFERENCE_ANNOTATOR)}/tiles`, { headers: sessionHeaders(base, s['rita'] as Session, {}) });
  expect(res.status).toBe(200);
  const img = new Uint8Array(3 * T * 3 * T);
  for (const t of parsePack(Buffer.from(await res.arrayBuffer()))) {
    expect(t.tx < 3 && t.ty < 3, `reference tile (${t.tx}, ${t.ty}) lies outside the ROI's tiles`).toBe(true);
    const px = inflate(t.data);
    for (let y = 0; y < T; y++) img.set(px.subarray(y * T, (y + 1) * T), (t.ty * T + y) * 3 * T + t.tx * T);
  }
  return img;
}

/** The image the reference should be: `decide(labels)` inside the ROI, `before` outside it. */
function expected(decide: (labels: number[]) => number, before: Uint8Array | null = null): Uint8Array {
  const img = before ? before.slice() : new Uint8Array(3 * T * 3 * T);
  for (let y = 0; y < 3 * T; y++) {
    for (let x = 0; x < 3 * T; x++) {
      if (!inside(ROI, x, y)) continue;
      img[y * 3 * T + x] = decide(READERS.map((r) => labelAt(r, x, y)));
    }
  }
  return img;
}

function differing(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

async function readerPacks(): Promise<string[]> {
  const out: string[] = [];
  for (const r of READERS) {
    const res = await anonymous(`${base}/api/slides/${ps}/masks/${id[r]}/tiles`, { headers: sessionHeaders(base, s['rita'] as Session, {}) });
    out.push(Buffer.from(await res.arrayBuffer()).toString('base64'));
  }
  return out;
}

const readerIds = (): string[] => READERS.map((r) => id[r] as string);

beforeAll(async () => {
  server = await startTestServer(FIXTURES, { AGREEMENT_MAX_PIXELS: '2000000' });
  base = server.url;
  admin = server.session as Session;
  const reading = await setUpThreeReaders(base, admin, 'Consensus');
  Object.assign(s, reading.s);
  Object.assign(id, reading.id);
  ps = reading.ps;
  project = reading.project;
  const draw = async (coordinates: unknown): Promise<string> => {
    const a = { id: randomUUID(), kind: 'polygon', geometry: { type: 'Polygon', coordinates }, classification: null, name: null, note: null, locked: false };
    const r = await as('rita', 'POST', `/api/slides/${ps}/annotations`, a);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return a.id;
  };
  roi = await draw([ROI]);
  outsideRoi = await draw([[[W + 100, H + 100], [W + 600, H + 100], [W + 600, H + 600], [W + 100, H + 100]]]);
  smallRoi = await draw([[[600, 600], [700, 600], [700, 700], [600, 700], [600, 600]]]);
});

afterAll(async () => {
  await server?.stop();
});

const accept = (who: string, body: Record<string, unknown>, key?: string): Promise<{ status: number; body: Record<string, unknown> }> => as(who, 'POST', `/api/slides/${ps}/reference/consensus`, body, key);

describe('blind projects: no consensus before the readers submit (AGR-06)', () => {
  it('refuses with 409 CONSENSUS_NOT_SUBMITTED naming the readers who have not, and writes nothing', async () => {
    const r = await accept('rita', { roi, readers: readerIds(), method: 'majority' });
    expect(r.status, JSON.stringify(r.body)).toBe(409);
    expect(r.body['code']).toBe('CONSENSUS_NOT_SUBMITTED');
    expect((r.body['detail'] as { readers: string[] }).readers.sort()).toEqual(readerIds().sort());
    expect(differing(await reference(), new Uint8Array(9 * T * T))).toBe(0);
    // the readers submit a reading of the slide
    const reading = await as('admin', 'POST', `/api/projects/${project}/readings`, { name: 'Consensus reading', slides: [ps], readers: readerIds() });
    expect(reading.status).toBe(201);
    for (const reader of READERS.slice(0, 2)) expect((await as(reader, 'POST', `/api/projects/${project}/readings/${reading.body['id']}/submit`, {})).status).toBe(200);
    const two = await accept('rita', { roi, readers: readerIds(), method: 'majority' });
    expect(two.status).toBe(409);
    expect((two.body['detail'] as { readers: string[] }).readers).toEqual([id['ann3']]);
    expect((await as('ann3', 'POST', `/api/projects/${project}/readings/${reading.body['id']}/submit`, {})).status).toBe(200);
  });
});

describe('accepting a consensus into the reference mask', () => {
  let firstSeq = 0;
  let afterMajority: Uint8Array;

  it('majority vote, ties unlabelled: the reference equals a per-pixel vote made here; the readers\' masks are untouched', async () => {
    const before = await readerPacks();
    const key = randomUUID();
    const r = await accept('rita', { roi, readers: readerIds(), method: 'majority' }, key);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const want = expected((l) => majority(l) ?? 0);
    afterMajority = await reference();
    expect(differing(afterMajority, want)).toBe(0);
    // some pixels of the ROI are ties (1, 2, 0 where ann3 painted nothing and the others differ): counted as undecided
    let ties = 0;
    let total = 0;
    for (let y = 0; y < 3 * T; y++) {
      for (let x = 0; x < 3 * T; x++) {
        if (!inside(ROI, x, y)) continue;
        total++;
        if (majority(READERS.map((q) => labelAt(q, x, y))) === null) ties++;
      }
    }
    const event = r.body['event'] as { id: string; kind: string; roi: string; method: string; readers: string[]; actor: string; at: string; opId: string; parameters: { pixels: number; undecided: number; ties: string } };
    expect(ties).toBeGreaterThan(0);
    expect(event).toMatchObject({ kind: 'accept', roi, method: 'majority', readers: readerIds(), actor: id['rita'], opId: key });
    expect(event.parameters).toMatchObject({ pixels: total, undecided: ties, ties: 'unlabelled' });
    expect(await readerPacks()).toEqual(before);
    // a retry with the same key replays the answer and writes nothing more
    const again = await accept('rita', { roi, readers: readerIds(), method: 'majority' }, key);
    expect(again.status).toBe(200);
    expect(again.body['replayed']).toBe(true);
    expect((again.body['event'] as { id: string }).id).toBe(event.id);
    // the same key for another request is refused
    const reused = await accept('rita', { roi, readers: readerIds(), method: 'staple' }, key);
    expect(reused.status).toBe(422);
    expect(reused.body['code']).toBe('IDEMPOTENCY_KEY_REUSED');
    const provenance = await as('rita', 'GET', `/api/slides/${ps}/reference`);
    expect(provenance.status).toBe(200);
    expect(provenance.body['annotator']).toBe(REFERENCE_ANNOTATOR);
    expect((provenance.body['events'] as unknown[]).length).toBe(1);
    // the mask history has the operation, by the reviewer
    const hist = await as('rita', 'GET', `/api/slides/${ps}/masks/${encodeURIComponent(REFERENCE_ANNOTATOR)}/history?bbox=0,0,${W},${H}`);
    expect(hist.status).toBe(200);
    const ops = hist.body['operations'] as Array<{ seq: number; opId: string; author: string; tiles: unknown[] }>;
    expect(ops.length).toBe(1);
    expect(ops[0]).toMatchObject({ opId: key, author: id['rita'] });
    firstSeq = ops[0]?.seq as number;
    const audit = (await as('admin', 'GET', '/api/audit?action=consensus.accept&limit=10')).body['records'] as Array<{ user: string; detail: Record<string, unknown> }>;
    expect(audit.length).toBe(1);
    expect(audit[0]?.user).toBe(id['rita']);
    expect(audit[0]?.detail).toMatchObject({ event: event.id, roi, method: 'majority', readers: readerIds().join(','), pixels: total, undecided: ties });
  });

  it('ties to a chosen reader: tie pixels get that reader\'s class', async () => {
    const r = await accept('rita', { roi, readers: readerIds(), method: 'majority', ties: 'reader', tieReader: id['ann2'] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(differing(await reference(), expected((l) => majority(l) ?? (l[1] as number)))).toBe(0);
  });

  it('STAPLE: the most probable class of each pixel (EM on the ROI\'s joint counts), with the readers\' sensitivities in the provenance', async () => {
    const r = await accept('rita', { roi, readers: readerIds(), method: 'staple' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // the joint counts, made here; the EM is the tested core (tests/conformance/agreement-reference.test.ts checks it against a plain EM)
    const counts = new Map<number, number>();
    for (let y = 0; y < 3 * T; y++) {
      for (let x = 0; x < 3 * T; x++) {
        if (!inside(ROI, x, y)) continue;
        const k = READERS.reduceRight((acc, q) => acc * 256 + labelAt(q, x, y), 0);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
    const st = stapleFromCounts(counts, 3);
    const decide = (l: number[]): number => {
      const p = st.posterior(l);
      let best = 0;
      for (let t = 1; t < p.length; t++) if ((p[t] as number) > (p[best] as number)) best = t;
      return st.classes[best] as number;
    };
    expect(differing(await reference(), expected(decide))).toBe(0);
    const params = (r.body['event'] as { parameters: { staple: { sensitivity: Record<string, number[]> } } }).parameters;
    expect(Object.keys(params.staple.sensitivity)).toEqual(readerIds());
  });

  it('a smaller ROI changes only its own pixels: the rest of the reference keeps its class', async () => {
    const before = await reference();
    const r = await accept('rita', { roi: smallRoi, readers: [id['ann1'], id['ann2']], method: 'majority' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const after = await reference();
    for (let y = 0; y < 3 * T; y++) {
      for (let x = 0; x < 3 * T; x++) {
        const inSmall = x >= 600 && x < 700 && y >= 600 && y < 700;
        const want = inSmall ? (majority([labelAt('ann1', x, y), labelAt('ann2', x, y)]) ?? 0) : (before[y * 3 * T + x] as number);
        if (after[y * 3 * T + x] !== want) throw new Error(`pixel (${x}, ${y}) is ${after[y * 3 * T + x]}, expected ${want}`);
      }
    }
  });

  it('restores the reference to an earlier version, and to nothing (asOf 0), as new history entries', async () => {
    const r = await as('rita', 'POST', `/api/slides/${ps}/reference/restore`, { asOf: firstSeq });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(differing(await reference(), afterMajority)).toBe(0);
    const none = await as('rita', 'POST', `/api/slides/${ps}/reference/restore`, { asOf: 0 });
    expect(none.status).toBe(201);
    expect(differing(await reference(), new Uint8Array(9 * T * T))).toBe(0);
    const events = (await as('rita', 'GET', `/api/slides/${ps}/reference`)).body['events'] as Array<{ kind: string }>;
    expect(events.map((e) => e.kind).sort()).toEqual(['accept', 'accept', 'accept', 'accept', 'restore', 'restore']);
    const audit = (await as('admin', 'GET', '/api/audit?action=consensus.restore&limit=10')).body['records'] as unknown[];
    expect(audit.length).toBe(2);
    expect((await as('rita', 'POST', `/api/slides/${ps}/reference/restore`, { asOf: 999_999_999 })).status).toBe(404);
    for (const asOf of [-1, 1.5, '3', null]) {
      const bad = await as('rita', 'POST', `/api/slides/${ps}/reference/restore`, { asOf });
      expect(bad.status, String(asOf)).toBe(400);
    }
  });

  it('two accepts at once: one wins, the other is told 409 CONSENSUS_IN_PROGRESS (REV-03), and nothing is lost', async () => {
    const before = ((await as('rita', 'GET', `/api/slides/${ps}/reference`)).body['events'] as unknown[]).length;
    const [a, b] = await Promise.all([accept('rita', { roi, readers: readerIds(), method: 'majority' }), accept('admin', { roi, readers: readerIds(), method: 'staple' })]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect([a, b].find((x) => x.status === 409)?.body['code']).toBe('CONSENSUS_IN_PROGRESS');
    expect(((await as('rita', 'GET', `/api/slides/${ps}/reference`)).body['events'] as unknown[]).length).toBe(before + 1);
  });
});

describe('bad requests: a 4xx with a code, never a 500', () => {
  it('refuses too few readers, the reference as a reader, unknown methods and tie rules, and bad ROIs', async () => {
    const two = [id['ann1'], id['ann2']];
    const cases: Array<[string, Record<string, unknown>, number, string]> = [
      ['no readers', { roi, method: 'majority' }, 400, 'CONSENSUS_NEEDS_READERS'],
      ['empty readers', { roi, readers: [], method: 'majority' }, 400, 'CONSENSUS_NEEDS_READERS'],
      ['one reader', { roi, readers: [id['ann1']], method: 'majority' }, 400, 'CONSENSUS_NEEDS_READERS'],
      ['the reference as a reader', { roi, readers: [id['ann1'], REFERENCE_ANNOTATOR], method: 'majority' }, 400, 'BAD_REQUEST'],
      ['a reader twice', { roi, readers: [id['ann1'], id['ann1']], method: 'majority' }, 400, 'BAD_REQUEST'],
      ['a reader with no mask', { roi, readers: [id['ann1'], id['vic']], method: 'majority' }, 404, 'NOT_FOUND'],
      ['readers not a list', { roi, readers: 'a,b', method: 'majority' }, 400, 'BAD_REQUEST'],
      ['no method', { roi, readers: two }, 400, 'CONSENSUS_METHOD_UNKNOWN'],
      ['unknown method', { roi, readers: two, method: 'average' }, 400, 'CONSENSUS_METHOD_UNKNOWN'],
      ['method __proto__', { roi, readers: two, method: '__proto__' }, 400, 'CONSENSUS_METHOD_UNKNOWN'],
      ['unknown tie rule', { roi, readers: two, method: 'majority', ties: 'coin' }, 400, 'BAD_REQUEST'],
      ['tie reader not a reader', { roi, readers: two, method: 'majority', ties: 'reader', tieReader: id['ann3'] }, 400, 'BAD_REQUEST'],
      ['ties with STAPLE', { roi, readers: two, method: 'staple', ties: 'reader', tieReader: id['ann1'] }, 400, 'BAD_REQUEST'],
      ['no roi', { readers: two, method: 'majority' }, 400, 'BAD_REQUEST'],
      ['unknown roi', { roi: randomUUID(), readers: two, method: 'majority' }, 404, 'ANNOTATION_NOT_FOUND'],
      ['roi not an id', { roi: "'; DROP TABLE mask_tiles; --", readers: two, method: 'majority' }, 400, 'BAD_REQUEST'],
      ['roi outside the slide', { roi: outsideRoi, readers: two, method: 'majority' }, 400, 'BAD_REQUEST'],
    ];
    for (const [what, body, status, code] of cases) {
      const r = await accept('rita', body);
      expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body['code'], what).toBe(code);
    }
    expect((await accept('rita', [] as unknown as Record<string, unknown>)).status).toBe(400);
    // no Idempotency-Key
    const noKey = await asSession(base, s['rita'] as Session, 'POST', `/api/slides/${ps}/reference/consensus`, { roi, readers: two, method: 'majority' });
    expect(noKey.status).toBe(400);
    expect(noKey.body['code']).toBe('OPERATION_ID_REQUIRED');
  });

  it('refuses callers without the review right, and nobody writes the reference through the mask routes', async () => {
    const body = { roi, readers: [id['ann1'], id['ann2']], method: 'majority' };
    for (const who of ['ann1', 'vic']) {
      expect((await accept(who, body)).status, who).toBe(403);
      expect((await as(who, 'GET', `/api/slides/${ps}/reference`)).status, who).toBe(403);
      expect((await as(who, 'POST', `/api/slides/${ps}/reference/restore`, { asOf: 0 })).status, who).toBe(403);
    }
    const write = await as('rita', 'POST', `/api/slides/${ps}/masks/${encodeURIComponent(REFERENCE_ANNOTATOR)}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile(() => 1))) }] });
    expect(write.status).toBe(403);
    // a viewer of the blind project does not see the reference (it is made of the readers' work)
    expect((await as('vic', 'GET', `/api/slides/${ps}/masks/${encodeURIComponent(REFERENCE_ANNOTATOR)}/tiles`)).status).toBe(404);
  });
});

const PYTHON = '/usr/bin/python3';
const HAS_TIFFFILE =
  existsSync(PYTHON) &&
  (() => {
    try {
      execFileSync(PYTHON, ['-c', 'import tifffile, numpy']);
      return true;
    } catch {
      return false;
    }
  })();
if (!HAS_TIFFFILE) process.stdout.write(`[soft-labels] SKIP: ${PYTHON} with tifffile (python3-tifffile) is absent, so the soft-label TIFF is not read back\n`);

describe('soft labels: per-pixel votes as a multi-channel TIFF', () => {
  it.skipIf(!HAS_TIFFFILE)('tifffile reads one uint8 channel per class whose values are the readers\' votes, counted here; 0 outside the ROI (AGR-03: unpainted is class 0)', async () => {
    const res = await anonymous(`${base}/api/slides/${ps}/agreement/soft-labels.tiff?roi=${roi}&readers=${readerIds().join(',')}`, { headers: sessionHeaders(base, s['rita'] as Session, {}) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/tiff');
    expect(res.headers.get('content-disposition')).toMatch(/soft-labels_\d{4}-\d\d-\d\d\.tiff/);
    const dir = await mkdtemp(join(tmpdir(), 'soft-labels-test-'));
    try {
      const file = join(dir, 'votes.tiff');
      await writeFile(file, Buffer.from(await res.arrayBuffer()));
      const raw = join(dir, 'votes.raw');
      const out = execFileSync(PYTHON, ['-c', `
import json, sys, tifffile
with tifffile.TiffFile(sys.argv[1]) as tif:
    page = tif.pages[0]
    a = page.asarray()
    a.tofile(sys.argv[2])
    print(json.dumps({'shape': list(a.shape), 'dtype': str(a.dtype), 'tiled': page.is_tiled, 'description': page.description}))
`, file, raw]);
      const info = JSON.parse(out.toString()) as { shape: number[]; dtype: string; tiled: boolean; description: string };
      const desc = JSON.parse(info.description) as { origin: { x: number; y: number }; channels: Array<{ id: number }>; readers: string[]; roi: string };
      expect(desc).toMatchObject({ origin: { x: 0, y: 0 }, readers: readerIds(), roi });
      const ids = desc.channels.map((c) => c.id);
      expect(ids).toEqual([0, 1, 2, 3]);
      expect(info).toMatchObject({ shape: [3 * T, 3 * T, 4], dtype: 'uint8', tiled: true });
      const votes = await readFile(raw);
      let bad = 0;
      let inRoi = 0;
      for (let y = 0; y < 3 * T; y++) {
        for (let x = 0; x < 3 * T; x++) {
          const want = [0, 0, 0, 0];
          if (inside(ROI, x, y)) {
            inRoi++;
            for (const r of READERS) (want[ids.indexOf(labelAt(r, x, y))] as number)++;
          }
          for (let c = 0; c < 4; c++) if (votes[(y * 3 * T + x) * 4 + c] !== want[c]) bad++;
        }
      }
      expect(inRoi).toBeGreaterThan(1_000_000);
      expect(bad).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const audit = (await as('admin', 'GET', '/api/audit?action=agreement.soft-labels&limit=10')).body['records'] as Array<{ user: string; detail: Record<string, unknown> }>;
    expect(audit[0]?.user).toBe(id['rita']);
    expect(audit[0]?.detail).toMatchObject({ roi, channels: 4 });
  });

  it('refuses annotators and viewers (AGR-06) and bad parameters with a 4xx', async () => {
    const path = (q: string): string => `/api/slides/${ps}/agreement/soft-labels.tiff?${q}`;
    for (const who of ['ann1', 'vic']) expect((await as(who, 'GET', path(`roi=${roi}&readers=${readerIds().join(',')}`))).status, who).toBe(403);
    for (const [q, status] of [
      [`readers=${readerIds().join(',')}`, 400],
      [`roi=${roi}&readers=${id['ann1']}`, 400],
      [`roi=${roi}&readers=${id['ann1']},nobody`, 404],
      [`roi=${outsideRoi}&readers=${readerIds().join(',')}`, 400],
      [`roi=${randomUUID()}&readers=${readerIds().join(',')}`, 404],
    ] as const) {
      expect((await as('rita', 'GET', path(q))).status, q).toBe(status);
    }
  });
});
