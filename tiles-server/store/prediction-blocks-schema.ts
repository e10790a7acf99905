/**
 * The table of prediction blocks (store/prediction-blocks.ts), apart so that
 * database.ts can list it without importing the store modules (no import cycle).
 */
/** Migration 20: blocks of a model run's predictions as WSCA frames, with their box and rowid range. */
export const PREDICTION_BLOCK_SCHEMA = `
  CREATE TABLE prediction_blocks (
    id INTEGER PRIMARY KEY,
    slide_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    import_job INTEGER NOT NULL,
    -- the rowids of the block's predictions' head rows lie in [first_row, last_row] (other rows may lie between)
    first_row INTEGER NOT NULL,
    last_row INTEGER NOT NULL,
    n INTEGER NOT NULL,
    min_x REAL NOT NULL,
    min_y REAL NOT NULL,
    max_x REAL NOT NULL,
    max_y REAL NOT NULL,
    frame BLOB NOT NULL
  );
  CREATE INDEX prediction_blocks_by_slide ON prediction_blocks (slide_id, id);
  CREATE INDEX prediction_blocks_by_job ON prediction_blocks (import_job);
`;
