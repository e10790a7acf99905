import { defineConfig } from 'vitest/config';

/**
 * Unit tests that measure time, hold the CPU on purpose or plant files in
 * src/: they run at the end, alone, one file at a time.
 */
const TIMED_UNIT = ['decode-pool', 'durable-answer', 'lag-guard', 'layers-lint', 'request-log', 'thread-priority'];

/**
 * Server tests whose assertions depend on the machine not being busy with
 * another test file (load shedding, admission order, the load runs, storage
 * probes timed in seconds): with the timed unit tests, at the end, alone.
 * imports.test.ts is here because its chunked upload past the cap gets the
 * 413 only if the client reads it before the server's close resets the
 * connection (the server stops reading at the cap and closes at once; a
 * lingering close would fix it): on a busy machine the client saw a reset.
 */
const SERIAL = ['tests/load/**/*.test.ts', 'tests/integration/{busy-shedding,admission,slide-storage,mask-import-limits,store-full,imports}.test.ts', `tests/unit/{${TIMED_UNIT.join(',')}}.test.ts`];

/**
 * How many other server and browser test files run at once (TEST_PROCESS_FILES, default 2): they mostly
 * wait on their servers and Chromium (a browser file keeps about 0.65 of a core busy), so two share 2 cores.
 */
const processFiles = Number(process.env['TEST_PROCESS_FILES'] ?? '2');
if (!Number.isInteger(processFiles) || processFiles < 1 || processFiles > 8) throw new Error(`TEST_PROCESS_FILES must be a whole number from 1 to 8, got "${process.env['TEST_PROCESS_FILES']}"`);

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // a poll gives up after 10 s, not 1 s: on a busy 2-core machine a browser test's page can take longer to show what it is waiting for
    expect: { poll: { timeout: 10_000 } },
    globalSetup: ['tests/helpers/global-setup.ts'],
    reporters: ['default'],
    projects: [
      {
        // in-process unit tests: both cores, before the rest
        extends: true,
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], exclude: [`tests/unit/{${TIMED_UNIT.join(',')}}.test.ts`], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        // browser and server tests start processes: TEST_PROCESS_FILES files at a time
        extends: true,
        test: { name: 'processes', include: ['tests/**/*.test.ts'], exclude: [`tests/unit/**`, ...SERIAL], ...(processFiles === 1 ? { fileParallelism: false } : { maxWorkers: processFiles }), sequence: { groupOrder: 1 } },
      },
      {
        // what measures time or load: alone, one file at a time, last
        extends: true,
        test: { name: 'serial', include: SERIAL, fileParallelism: false, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
