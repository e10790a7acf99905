/**
 * The tables of the regulatory record (store/project-records.ts), in a
 * module that imports nothing: database.ts reads it while building its
 * migrations, whichever store module is loaded first.
 */

/** Migration 12: protocols and qualifications, one row per version. */
export const PROJECT_RECORDS_SCHEMA = `
  CREATE TABLE project_protocols (
    project_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- JSON: {classes: [{name, definition, referenceStandard}], magnifications: [{task, magnification}], acceptanceCriteria, rules}
    body TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (project_id, version)
  );
  CREATE TABLE member_qualifications (
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    -- the date the qualification was attested (YYYY-MM-DD)
    qualified_on TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id, version)
  );
`;
