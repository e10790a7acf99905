/**
 * The provenance of a slide's reference mask (issue 14): every consensus a
 * reviewer accepted into it, and every restore of it — the method, the
 * readers, the parameters, who and when, and the operation id under which
 * its tiles were written to the mask history (mask_history.op_id), so each
 * entry names the history rows it made. Rows are appended, never changed.
 * Portable SQL (migration 13).
 */
import type { Db } from './database.js';

export const CONSENSUS_SCHEMA = `
  CREATE TABLE reference_events (
    id TEXT PRIMARY KEY,
    -- the project-slide id (as mask_tiles.slide_id)
    slide_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('accept', 'restore')),
    -- accept: the ROI annotation; restore: NULL
    roi_id TEXT,
    -- accept: majority | staple; restore: NULL
    method TEXT,
    -- JSON: accept: the readers' ids in order; restore: []
    readers TEXT NOT NULL,
    -- JSON: the rule's parameters and what came out (ties, pixels per class, STAPLE's estimates; restore: asOf)
    parameters TEXT NOT NULL,
    tiles INTEGER NOT NULL,
    op_id TEXT NOT NULL UNIQUE,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
  );
  CREATE INDEX reference_events_by_slide ON reference_events (slide_id, at);
`;

export interface ReferenceEvent {
  id: string;
  slideId: string;
  kind: 'accept' | 'restore';
  roi: string | null;
  method: string | null;
  readers: string[];
  parameters: Record<string, unknown>;
  tiles: number;
  opId: string;
  actor: string;
  at: string;
}

interface Row {
  id: string;
  slide_id: string;
  kind: 'accept' | 'restore';
  roi_id: string | null;
  method: string | null;
  readers: string;
  parameters: string;
  tiles: number;
  op_id: string;
  actor: string;
  at: string;
}

const toEvent = (r: Row): ReferenceEvent => ({
  id: r.id,
  slideId: r.slide_id,
  kind: r.kind,
  roi: r.roi_id,
  method: r.method,
  readers: JSON.parse(r.readers) as string[],
  parameters: JSON.parse(r.parameters) as Record<string, unknown>,
  tiles: r.tiles,
  opId: r.op_id,
  actor: r.actor,
  at: r.at,
});

export class ConsensusStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO reference_events (id, slide_id, kind, roi_id, method, readers, parameters, tiles, op_id, actor, at) VALUES (@id, @slide_id, @kind, @roi_id, @method, @readers, @parameters, @tiles, @op_id, @actor, @at)`,
      ),
      ofSlide: db.prepare<[string], Row>(`SELECT * FROM reference_events WHERE slide_id = ? ORDER BY at DESC, id DESC`),
    };
  }

  /** Appends an event (inside the caller's transaction: the one that writes its tiles). */
  add(e: ReferenceEvent): void {
    this.stmts.insert.run({
      id: e.id,
      slide_id: e.slideId,
      kind: e.kind,
      roi_id: e.roi,
      method: e.method,
      readers: JSON.stringify(e.readers),
      parameters: JSON.stringify(e.parameters),
      tiles: e.tiles,
      op_id: e.opId,
      actor: e.actor,
      at: e.at,
    });
  }

  /** The slide's reference events, newest first. */
  ofSlide(slideId: string): ReferenceEvent[] {
    return this.stmts.ofSlide.all(slideId).map(toEvent);
  }
}
