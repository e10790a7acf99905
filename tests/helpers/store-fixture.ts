/**
 * What the store's import tests set up alike (tests/unit/prediction-blocks,
 * import-reader, import-staging): a SQLite store in a temporary folder,
 * made before a file's tests and removed after them, and a model run's
 * predictions as a QuPath GeoJSON file of small cells in a grid, with the
 * run and the import job that reads it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { ImportJob } from '../../tiles-server/import/importer.js';
import { openDatabase, type Db } from '../../tiles-server/store/database.js';
import type { ModelRunStore } from '../../tiles-server/store/model-runs.js';

export interface TempStore {
  /** The folder (the database and the test's files), set before the file's tests. */
  readonly dir: string;
  readonly db: Db;
}

/** A store opened before the calling file's tests (register it before hooks that use it) and closed and removed after them. */
export function tempStore(prefix: string): TempStore {
  const s: { dir: string; db: Db | null } = { dir: '', db: null };
  beforeAll(async () => {
    s.dir = await mkdtemp(join(tmpdir(), prefix));
    s.db = openDatabase(join(s.dir, 'wsi.db'));
  });
  afterAll(async () => {
    s.db?.close();
    if (s.dir) await rm(s.dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return s.dir;
    },
    get db() {
      if (!s.db) throw new Error('the test store is opened in beforeAll');
      return s.db;
    },
  };
}

/** A prediction as the file writes it. */
export interface Cell {
  id: string;
  ring: number[][];
  cls: string;
  score: number | string;
}

/** `n` cells 12.5 × 9.25 in rows of 50 (shifted right by `seed`), two Tumour to one Stroma, scores from 0 to 1. */
export function cellGrid(n: number, seed = 0): Cell[] {
  return Array.from({ length: n }, (_, i) => {
    const x = (i % 50) * 40 + seed;
    const y = Math.floor(i / 50) * 40;
    return { id: randomUUID(), ring: [[x, y], [x + 12.5, y], [x + 12.5, y + 9.25], [x, y + 9.25], [x, y]], cls: i % 3 ? 'Tumour' : 'Stroma', score: Math.round((i % 997) / 0.997) / 1000 };
  });
}

/** The cells as a QuPath GeoJSON file in `dir`; its path. */
export async function predictionGeojson(dir: string, name: string, cells: Cell[]): Promise<string> {
  const path = join(dir, name);
  const features = cells.map((c) => ({
    type: 'Feature',
    id: c.id,
    geometry: { type: 'Polygon', coordinates: [c.ring] },
    properties: { objectType: 'detection', classification: { name: c.cls, color: [200, 0, 0] }, measurements: { probability: c.score } },
  }));
  await writeFile(path, JSON.stringify({ type: 'FeatureCollection', features }));
  return path;
}

/** A model run on the slide, by `tester`. */
export function newModelRun(runs: ModelRunStore, slideId: string): string {
  return runs.create({ slideId, projectId: 'p', name: 'm', version: '1', parameters: {}, scoreKey: null, author: 'tester' }).id;
}

/** The import of a run's prediction file (`more`: e.g. fewer predictions per block). */
export function predictionJob(slideId: string, path: string, runId: string, more: Partial<ImportJob> = {}): ImportJob {
  return { slideId, opId: randomUUID(), format: 'qupath-geojson', author: 'tester', slideMpp: null, slideSize: { width: 100_000, height: 100_000 }, path, hash: 'h', runId, scoreKey: null, ...more };
}
