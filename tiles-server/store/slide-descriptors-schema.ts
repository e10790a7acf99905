/**
 * The table of the site and stain a manager sets per project slide
 * (store/slide-descriptors.ts), in a module that imports nothing:
 * database.ts reads it while building its migrations.
 */

/** Migration 16: one row per version of a project slide's descriptors; nothing is updated or deleted. */
export const SLIDE_DESCRIPTOR_SCHEMA = `
  CREATE TABLE slide_descriptors (
    project_id TEXT NOT NULL,
    project_slide_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- NULL: not set
    site TEXT,
    stain TEXT,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (project_id, project_slide_id, version)
  );
`;
