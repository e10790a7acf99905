/**
 * Test-only server hook for tests/helpers/stroke-trace.ts: loaded into the
 * test's server with NODE_OPTIONS=--import (never shipped, never in the
 * app's code), it writes the full stack of each write of a mask tile's head
 * row (the stored tile) to STROKE_TRACE_FILE, one JSON string a line.
 */
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const file = process.env.STROKE_TRACE_FILE;
if (file) {
  // the same better-sqlite3 the built server imports (one copy in node_modules)
  const Database = createRequire(import.meta.url)('better-sqlite3');
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (sql, ...rest) {
    const statement = prepare.call(this, sql, ...rest);
    if (/^\s*INSERT INTO mask_tiles\b/i.test(sql)) {
      const run = statement.run;
      statement.run = function (...args) {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = Infinity;
        const stack = new Error('stored tile').stack;
        Error.stackTraceLimit = limit;
        appendFileSync(file, `${JSON.stringify(stack)}\n`);
        return run.apply(this, args);
      };
    }
    return statement;
  };
}
