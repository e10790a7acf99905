/**
 * Migration 7 and the palette store: a version-6 database's one global
 * palette becomes the palette of every project it holds (the Default
 * project's), colours and hotkeys included, with the mask ids the classes
 * had; a project made later starts with a copy of the Default project's
 * palette (the Default project itself with the starting palette); and a
 * slide's palette is its project's.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import { migrate, MIGRATIONS } from '../../tiles-server/store/database.js';
import { SqliteIdentityStore } from '../../tiles-server/store/identity-store.js';

/** The migration that made palettes per project. */
const PALETTES = MIGRATIONS.find((m) => m.description.startsWith('a class palette per project'))?.version as number;

/** A database as the last server before per-project palettes left it. */
function beforePalettes(): Database.Database {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  for (const m of MIGRATIONS.filter((x) => x.version < PALETTES)) {
    db.exec(m.sql);
    m.run?.(db, () => undefined);
  }
  db.pragma(`user_version = ${PALETTES - 1}`);
  return db;
}

const project = (id: string, allSlides: boolean): Parameters<SqliteIdentityStore['createProject']>[0] => ({
  id,
  name: id,
  editingMode: 'classic',
  blind: false,
  allSlides,
  createdAt: new Date(0).toISOString(),
});

describe('project palettes', () => {
  it('the palette migration gives every existing project the global palette, with its ids, colours and hotkeys', async () => {
    const db = beforePalettes();
    // the global palette the server before kept, with a removed class whose id stays taken
    db.prepare(`INSERT INTO class_ids (id, name, color) VALUES (1, 'Tumour', '#c8102e'), (2, 'Gone', '#000000'), (3, 'Stroma', '#f28e2b')`).run();
    db.prepare(`INSERT INTO classes (position, name, color, hotkey) VALUES (0, 'Stroma', '#abcdef', 's'), (1, 'Tumour', '#c8102e', 't')`).run();
    db.prepare(`INSERT INTO projects (id, name, editing_mode, blind, all_slides, created_at) VALUES ('def', 'Default', 'classic', 0, 1, 'x'), ('other', 'Other', 'classic', 0, 0, 'x')`).run();
    expect(PALETTES).toBe(7);
    // to the latest schema: later migrations run too
    expect(migrate(db)).toEqual({ from: 6, to: MIGRATIONS[MIGRATIONS.length - 1]?.version });
    const identity = new SqliteIdentityStore(db);
    const store = new AnnotationStore(db);
    const want = [
      { id: 3, name: 'Stroma', color: '#abcdef', hotkey: 's' },
      { id: 1, name: 'Tumour', color: '#c8102e', hotkey: 't' },
    ];
    expect(store.palettes.of('def')).toEqual(want);
    expect(store.palettes.of('other')).toEqual(want);
    // the Default project's slides keep their folder ids; a project slide row names its project
    expect(store.palettes.projectOfSlide('folderSlide')).toBe('def');
    await identity.addProjectSlide({ id: 'ps1', projectId: 'other', slideId: 'folderSlide', studyCode: 'S-1', addedAt: 'x' });
    expect(store.palettes.projectOfSlide('ps1')).toBe('other');
    store.palettes.set('other', [{ name: 'Gone', color: '#111111', hotkey: null }]);
    expect(store.palettes.ofSlide('ps1')).toEqual([{ id: 2, name: 'Gone', color: '#111111', hotkey: null }]);
    expect(store.palettes.ofSlide('folderSlide')).toEqual(want);
  });

  it("a new project copies the Default project's palette; the Default project itself the starting palette", async () => {
    const db = beforePalettes();
    migrate(db);
    const store = new AnnotationStore(db);
    const identity = new SqliteIdentityStore(db);
    expect(store.palettes.defaultProject()).toBeNull();
    await identity.createProject(project('def', true));
    const starting = store.classes();
    expect(starting.length).toBeGreaterThan(0);
    expect(store.palettes.of('def')).toEqual(starting);
    store.palettes.set('def', [{ name: 'Only', color: '#123456', hotkey: 'o' }]);
    await identity.createProject(project('later', false));
    expect(store.palettes.of('later').map((c) => c.name)).toEqual(['Only']);
    // and then goes its own way
    store.palettes.set('later', [{ name: 'Mine', color: '#654321', hotkey: null }]);
    expect(store.palettes.of('def').map((c) => c.name)).toEqual(['Only']);
  });
});
