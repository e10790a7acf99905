/**
 * Each project's class palette. A mask pixel is a class id, and a class id
 * means one class name on the whole server (`class_ids`, permanent, 1–255),
 * so a mask never changes meaning, whichever project's palette is shown and
 * even when a class leaves a palette. A project's palette is its own ordered
 * list of those classes, with its own colours and hotkeys: which classes its
 * people use, in which order and look. New projects start with a copy of the
 * Default project's palette; migration 7 gave every project that existed
 * then a copy of the one global palette there was, so the Default project
 * keeps it. The `classes` table is only the starting palette, before there
 * is a Default project (no administrator yet).
 * The design and its limits: docs/identity.md, "Class palettes".
 */
import type { AnnotationClass } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { MAX_CLASS_ID } from '../../src/core/mask/mask-grid.js';
import { classesMissing, type AnnotationStore, type RegisteredClass } from './annotation-store.js';
import { writeTransaction, type Db } from './database.js';

export const PROJECT_PALETTE_SCHEMA = `
  -- a project's palette: classes of the server-wide registry (class_ids), in order, with this project's colour and hotkey
  CREATE TABLE project_classes (
    project_id TEXT NOT NULL REFERENCES projects(id),
    position INTEGER NOT NULL,
    class_id INTEGER NOT NULL REFERENCES class_ids(id),
    color TEXT NOT NULL,
    hotkey TEXT,
    PRIMARY KEY (project_id, class_id),
    UNIQUE (project_id, position)
  );
  -- today's global palette becomes the palette of every project there is (the Default project's)
  INSERT INTO project_classes (project_id, position, class_id, color, hotkey)
    SELECT p.id, c.position, i.id, c.color, c.hotkey FROM projects p CROSS JOIN classes c JOIN class_ids i ON i.name = c.name;
`;

/**
 * A new project's palette (parameter @id: the new project): a copy of the
 * Default project's, or, when the new project is the Default one, of the
 * starting palette in `classes`.
 */
export const SEED_PROJECT_PALETTE = `
  INSERT INTO project_classes (project_id, position, class_id, color, hotkey)
    SELECT @id, position, class_id, color, hotkey FROM project_classes
      WHERE project_id = (SELECT id FROM projects WHERE all_slides = 1 AND id <> @id)
    UNION ALL
    SELECT @id, c.position, i.id, c.color, c.hotkey FROM classes c JOIN class_ids i ON i.name = c.name
      WHERE NOT EXISTS (SELECT 1 FROM projects WHERE all_slides = 1 AND id <> @id)`;

/** The most classes a palette may hold: every mask id there is. */
export const MAX_PALETTE = MAX_CLASS_ID;

/**
 * Checks a palette sent by a client: 1–255 classes, names unique (after
 * trimming, ignoring case) and short, #rrggbb colours, single-character
 * hotkeys used once. A client may send back the ids it read, but never
 * choose one: `idOf` says which id a name has.
 */
export function parsePalette(body: unknown, idOf: (name: string) => number | null): AnnotationClass[] {
  const list = (body as { classes?: unknown } | null)?.classes;
  if (!Array.isArray(list)) throw new WsiError('BAD_REQUEST', 'send {"classes": [{name, color, hotkey}]}');
  if (list.length === 0) throw new WsiError('PALETTE_INVALID', 'a palette needs at least one class');
  if (list.length > MAX_PALETTE) throw new WsiError('PALETTE_TOO_LARGE', `a palette holds at most ${MAX_PALETTE} classes (mask pixels are one byte); this one has ${list.length}`, { max: MAX_PALETTE });
  const names = new Map<string, number>();
  const hotkeys = new Map<string, number>();
  return list.map((c: unknown, i: number): AnnotationClass => {
    const o = (c ?? {}) as Record<string, unknown>;
    const name = typeof o['name'] === 'string' ? o['name'].trim() : '';
    if (!name || name.length > 100) throw new WsiError('PALETTE_INVALID', `classes[${i}].name must be a non-empty name of at most 100 characters`, { index: i });
    const key = name.toLowerCase();
    if (names.has(key)) throw new WsiError('PALETTE_DUPLICATE_NAME', `class "${name}" appears twice: as classes ${(names.get(key) ?? 0) + 1} and ${i + 1} (counting from 1; names are compared ignoring case)`, { index: i, name });
    names.set(key, i);
    if (typeof o['color'] !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(o['color'])) throw new WsiError('PALETTE_BAD_COLOR', `classes[${i}].color must be #rrggbb`, { index: i });
    const hk = o['hotkey'] ?? null;
    if (hk !== null && (typeof hk !== 'string' || [...hk].length !== 1 || hk.trim() === '')) throw new WsiError('PALETTE_INVALID', `classes[${i}].hotkey must be one visible character or null`, { index: i });
    if (hk !== null) {
      const k = hk.toLowerCase();
      if (hotkeys.has(k)) throw new WsiError('PALETTE_DUPLICATE_HOTKEY', `hotkey "${hk}" is given to classes ${(hotkeys.get(k) ?? 0) + 1} and ${i + 1} (counting from 1; hotkeys are compared ignoring case)`, { index: i, hotkey: hk });
      hotkeys.set(k, i);
    }
    const id = o['id'];
    if (id !== undefined && id !== null) {
      const known = idOf(name);
      if (id !== known) {
        throw new WsiError(
          'PALETTE_INVALID',
          known === null
            ? `classes[${i}].id: the server gives mask ids; leave id out for the new class ${name}`
            : `classes[${i}].id: class ${name} has mask id ${known}, not ${String(id)}; ids follow the name and never change (a rename is a new class)`,
          { index: i },
        );
      }
    }
    return { name, color: o['color'].toLowerCase(), hotkey: hk as string | null };
  });
}

interface Row {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
}

export class ProjectPalettes {
  private readonly stmts;

  constructor(
    private readonly db: Db,
    /** The server-wide registry of class names and their mask ids. */
    private readonly registry: AnnotationStore,
  ) {
    this.stmts = {
      palette: db.prepare<[string], Row>(
        `SELECT i.id, i.name, p.color, p.hotkey FROM project_classes p JOIN class_ids i ON i.id = p.class_id WHERE p.project_id = ? ORDER BY p.position`,
      ),
      clear: db.prepare(`DELETE FROM project_classes WHERE project_id = ?`),
      put: db.prepare(`INSERT INTO project_classes (project_id, position, class_id, color, hotkey) VALUES (?, ?, ?, ?, ?)`),
      // a project slide's project: its row, else the project that holds every slide of the folder (whose slides keep their own ids)
      defaultProject: db.prepare<[], { id: string }>(`SELECT id FROM projects WHERE all_slides = 1`),
      projectOf: db.prepare<[string], { project: string | null }>(
        `SELECT coalesce((SELECT project_id FROM project_slides WHERE id = ?), (SELECT id FROM projects WHERE all_slides = 1)) AS project`,
      ),
    };
  }

  /** A project's palette in order, each class with its mask id. */
  of(projectId: string): RegisteredClass[] {
    return this.stmts.palette.all(projectId).map((r) => ({ id: r.id, name: r.name, color: r.color, hotkey: r.hotkey }));
  }

  /** The Default project (it holds every slide of the folder), or null before the first administrator. */
  defaultProject(): string | null {
    return this.stmts.defaultProject.get()?.id ?? null;
  }

  /** The project a project-slide id (what annotation and mask rows carry) belongs to, or null (no project yet). */
  projectOfSlide(projectSlideId: string): string | null {
    return this.stmts.projectOf.get(projectSlideId)?.project ?? null;
  }

  /** The palette a slide's annotations and masks are shown with: its project's (before any project: the starting palette). */
  ofSlide(projectSlideId: string): RegisteredClass[] {
    const project = this.projectOfSlide(projectSlideId);
    return project === null ? this.registry.classes() : this.of(project);
  }

  /**
   * Replaces a project's palette. A class keeps its mask id (by name, server-wide);
   * a new name gets the next never-used id; when none is left nothing changes
   * (409 CLASS_IDS_EXHAUSTED).
   */
  set(projectId: string, classes: AnnotationClass[]): RegisteredClass[] {
    writeTransaction(this.db, () => {
      this.stmts.clear.run(projectId);
      classes.forEach((c, i) => {
        const id = this.registry.assignClassId(c.name, c.color);
        this.stmts.put.run(projectId, i, id, c.color, c.hotkey);
      });
    });
    return this.of(projectId);
  }

  /**
   * Adds to a slide's project palette the classes it lacks (an import brings
   * its own); returns those added. Call inside the import's transaction.
   */
  ensureForSlide(projectSlideId: string, classes: AnnotationClass[]): RegisteredClass[] {
    const project = this.projectOfSlide(projectSlideId);
    if (project === null) return this.registry.ensureClasses(classes);
    const palette = this.of(project);
    const add = classesMissing(palette, classes);
    if (add.length === 0) return [];
    if (palette.length + add.length > MAX_PALETTE) {
      throw new WsiError('PALETTE_TOO_LARGE', `this project's palette would hold ${palette.length + add.length} classes; at most ${MAX_PALETTE}`, { max: MAX_PALETTE });
    }
    const next = this.set(project, [...palette.map(({ name, color, hotkey }) => ({ name, color, hotkey })), ...add]);
    const names = new Set(add.map((c) => c.name));
    return next.filter((c) => names.has(c.name));
  }
}
