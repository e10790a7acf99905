/**
 * Class merge and rename on a store of its own (issue 11): the objects of
 * the class get a new version with the other class, the mask pixels of the
 * class are relabelled in a new tile version (counted directly in the
 * tiles), the palette changes in the same transaction; an edit made between
 * the reading and the writing refuses the whole operation (409
 * CLASS_RELABEL_CONFLICT) and nothing changes (DATA-06: a concurrent edit
 * is never written over).
 */
import Database from 'better-sqlite3';
import { deflateSync, inflateSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CLASSES, type AnnotationInput } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { ClassRelabelService } from '../../tiles-server/class-relabel-service.js';
import { countsJson, histogram } from '../../tiles-server/masks/tile-codec.js';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import { migrate } from '../../tiles-server/store/database.js';
import { SqliteIdentityStore, type Project } from '../../tiles-server/store/identity-store.js';
import { MaskStore } from '../../tiles-server/store/mask-store.js';

const PROJECT: Project = { id: 'p1', name: 'Study', editingMode: 'classic', blind: false, allSlides: false, createdAt: new Date(0).toISOString() };

let db: Database.Database;
let store: AnnotationStore;
let masks: MaskStore;
let svc: ClassRelabelService;
let id: (name: string) => number;
let n = 0;

function object(cls: string | null, x = 0): AnnotationInput {
  return { id: `object-${String(++n).padStart(4, '0')}`, kind: 'polygon', geometry: { type: 'Polygon', coordinates: [[[x, 0], [x + 10, 0], [x + 10, 10], [x, 10], [x, 0]]] }, classification: cls, name: null, note: null, locked: false, objectType: 'annotation', properties: {} };
}

function create(slide: string, ...classes: Array<string | null>): string[] {
  const objs = classes.map((c, i) => object(c, i * 20));
  const r = store.applyBatch(slide, `op${++n}`, 'ann', objs.map((annotation) => ({ op: 'create' as const, annotation })));
  expect(r.status).toBe(200);
  return objs.map((o) => o.id);
}

function paint(slide: string, annotator: string, fill: (x: number) => number): void {
  const px = new Uint8Array(MASK_TILE_PIXELS);
  for (let i = 0; i < px.length; i++) px[i] = fill(i % MASK_TILE);
  const head = masks.head(slide, annotator, 0, 0);
  const r = masks.applyBatch(slide, annotator, `op${++n}`, `h${n}`, annotator, [{ tx: 0, ty: 0, ifMatch: head?.version ?? 0, data: deflateSync(px), pixels: countsJson(histogram(px)) }]);
  expect(r.status).toBe(200);
}

/** Pixels of each class id in a mask, counted in the tile itself. */
function pixelCount(slide: string, annotator: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of masks.tiles(slide, annotator)) for (const v of inflateSync(t.data)) if (v) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

/** The code of the WsiError `fn` throws, or 'none'. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    return (err as WsiError).code ?? String(err);
  }
}

function classOf(oid: string): string | null | undefined {
  return store.get(oid)?.classification;
}

function relabelSvc(): ClassRelabelService {
  return new ClassRelabelService({
    db,
    annotations: store,
    masks,
    maskGuard: () => undefined,
    projectSlides: async () => ['s1', 's2'],
    onMaskChange: () => undefined,
  });
}

beforeEach(async () => {
  db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db);
  const identity = new SqliteIdentityStore(db);
  await identity.createProject(PROJECT);
  for (const s of ['s1', 's2']) await identity.addProjectSlide({ id: s, projectId: PROJECT.id, slideId: `folder-${s}`, studyCode: s, addedAt: 'x' });
  store = new AnnotationStore(db);
  masks = new MaskStore(db);
  store.palettes.set(PROJECT.id, DEFAULT_CLASSES);
  svc = relabelSvc();
  id = (name) => store.palettes.of(PROJECT.id).find((c) => c.name === name)?.id as number;
});

describe('class merge and rename', () => {
  it('merges a class into another: new object versions, pixels relabelled (counted directly), the class leaves the palette', async () => {
    const t1 = create('s1', 'Tumour', 'Tumour', 'Stroma', null);
    const t2 = create('s2', 'Tumour');
    const T = id('Tumour');
    const S = id('Stroma');
    paint('s1', 'ann', (x) => (x < 100 ? T : x < 150 ? S : 0));
    paint('s2', 'bob', (x) => (x < 7 ? T : 0));
    const before1 = pixelCount('s1', 'ann');
    expect(before1.get(T)).toBe(100 * MASK_TILE);
    const plan = await svc.prepare(PROJECT, { from: 'Tumour', into: 'Stroma' });
    const answer = svc.commit(plan, 'manager', 'relabel-1');
    expect(answer).toMatchObject({ mode: 'merge', objects: 3, tiles: 2, pixels: (100 + 7) * MASK_TILE, slides: 2, to: { name: 'Stroma', id: S } });
    expect([...t1, ...t2].map(classOf)).toEqual(['Stroma', 'Stroma', 'Stroma', null, 'Stroma']);
    expect(store.get(t1[0] as string)?.version).toBe(2);
    expect(store.get(t1[2] as string)?.version).toBe(1); // already Stroma: untouched
    // the old version stays in the history (restorable)
    expect(store.history(t1[0] as string).map((h) => [h.version, h.annotation.classification])).toEqual([
      [1, 'Tumour'],
      [2, 'Stroma'],
    ]);
    const after1 = pixelCount('s1', 'ann');
    expect(after1.get(T)).toBeUndefined();
    expect(after1.get(S)).toBe((100 + 50) * MASK_TILE);
    expect(pixelCount('s2', 'bob').get(S)).toBe(7 * MASK_TILE);
    // the tile's counts follow, and its history has the version before
    expect(JSON.parse(masks.head('s1', 'ann', 0, 0)?.pixels ?? '{}')).toEqual({ [S]: 150 * MASK_TILE });
    expect((await masks.history('s1', 'ann', 0, 0)).map((v) => v.pixels)).toEqual([{ [T]: 100 * MASK_TILE, [S]: 50 * MASK_TILE }, { [S]: 150 * MASK_TILE }]);
    expect(store.palettes.of(PROJECT.id).map((c) => c.name)).not.toContain('Tumour');
  });

  it('renames a class: its place, colour and hotkey stay, the name gets its own mask id and takes the pixels', async () => {
    const [o] = create('s1', 'Necrosis');
    const N = id('Necrosis');
    paint('s1', 'ann', (x) => (x < 10 ? N : 0));
    const before = store.palettes.of(PROJECT.id);
    const at = before.findIndex((c) => c.name === 'Necrosis');
    const answer = svc.commit(await svc.prepare(PROJECT, { from: 'Necrosis', rename: 'Necrotic tissue' }), 'manager', 'relabel-2');
    const after = store.palettes.of(PROJECT.id);
    expect(after[at]).toMatchObject({ name: 'Necrotic tissue', color: before[at]?.color, hotkey: before[at]?.hotkey });
    const newId = after[at]?.id as number;
    expect(newId).not.toBe(N);
    expect(answer.to).toEqual({ name: 'Necrotic tissue', id: newId });
    expect(classOf(o as string)).toBe('Necrotic tissue');
    const px = pixelCount('s1', 'ann');
    expect(px.get(N)).toBeUndefined();
    expect(px.get(newId)).toBe(10 * MASK_TILE);
  });

  it('refuses an unknown class, a merge into itself or an unknown class, and a rename onto a name in the palette', async () => {
    const code = async (req: Parameters<ClassRelabelService['prepare']>[1]): Promise<string> => {
      try {
        await svc.prepare(PROJECT, req);
        return 'none';
      } catch (err) {
        return (err as WsiError).code;
      }
    };
    expect(await code({ from: 'Nope', into: 'Stroma' })).toBe('CLASS_NOT_FOUND');
    expect(await code({ from: 'Tumour', into: 'tumour' })).toBe('BAD_REQUEST');
    expect(await code({ from: 'Tumour', into: 'Nope' })).toBe('CLASS_NOT_FOUND');
    expect(await code({ from: 'Tumour', rename: 'stroma' })).toBe('PALETTE_DUPLICATE_NAME');
    expect(await code({ from: 'Tumour', rename: 'Tumour' })).toBe('BAD_REQUEST');
  });

  it('an object or a tile edited between the reading and the writing refuses the whole operation, and nothing changes', async () => {
    const [a, b] = create('s1', 'Tumour', 'Tumour');
    const T = id('Tumour');
    paint('s1', 'ann', (x) => (x < 20 ? T : 0));
    const palette = store.palettes.of(PROJECT.id);
    // an object changes meanwhile
    let plan = await svc.prepare(PROJECT, { from: 'Tumour', into: 'Stroma' });
    expect(store.applyBatch('s1', `op${++n}`, 'ann', [{ op: 'update', id: b as string, ifMatch: 1, changes: { name: 'edited' } }]).status).toBe(200);
    expect(codeOf(() => svc.commit(plan, 'manager', 'relabel-3'))).toBe('CLASS_RELABEL_CONFLICT');
    expect([classOf(a as string), classOf(b as string)]).toEqual(['Tumour', 'Tumour']);
    expect(store.get(a as string)?.version).toBe(1);
    expect(store.palettes.of(PROJECT.id)).toEqual(palette);
    expect(pixelCount('s1', 'ann').get(T)).toBe(20 * MASK_TILE);
    // a mask tile changes meanwhile
    plan = await svc.prepare(PROJECT, { from: 'Tumour', into: 'Stroma' });
    paint('s1', 'ann', (x) => (x < 30 ? T : 0));
    expect(codeOf(() => svc.commit(plan, 'manager', 'relabel-4'))).toBe('CLASS_RELABEL_CONFLICT');
    expect(store.get(a as string)?.version).toBe(1);
    expect(store.palettes.of(PROJECT.id)).toEqual(palette);
    expect(pixelCount('s1', 'ann').get(T)).toBe(30 * MASK_TILE);
    // read again, it goes through
    svc.commit(await svc.prepare(PROJECT, { from: 'Tumour', into: 'Stroma' }), 'manager', 'relabel-5');
    expect(pixelCount('s1', 'ann').get(T)).toBeUndefined();
  });

  it('a review lock on an object or a painted region refuses the operation, and nothing changes', async () => {
    const [a] = create('s1', 'Tumour');
    const T = id('Tumour');
    paint('s1', 'ann', (x) => (x < 20 ? T : 0));
    store.writeGuards.push((e) => {
      if (e.current.id === a) throw new WsiError('REVIEW_LOCKED', `${a} is under review and locked`);
    });
    await expect(svc.prepare(PROJECT, { from: 'Tumour', into: 'Stroma' }).then((p) => svc.commit(p, 'manager', 'relabel-6'))).rejects.toMatchObject({ code: 'REVIEW_LOCKED' });
    expect(store.get(a as string)?.version).toBe(1);
    expect(pixelCount('s1', 'ann').get(T)).toBe(20 * MASK_TILE);
    store.writeGuards.length = 0;
    const locked = new ClassRelabelService({
      db,
      annotations: store,
      masks,
      maskGuard: () => {
        throw new WsiError('REVIEW_LOCKED', 'a painted region is under review');
      },
      projectSlides: async () => ['s1', 's2'],
      onMaskChange: () => undefined,
    });
    await expect(locked.prepare(PROJECT, { from: 'Tumour', into: 'Stroma' })).rejects.toMatchObject({ code: 'REVIEW_LOCKED' });
    expect(store.get(a as string)?.version).toBe(1);
    expect(store.palettes.of(PROJECT.id).map((c) => c.name)).toContain('Tumour');
  });
});
