import { defineConfig } from 'vitest/config';

/**
 * Unit tests that measure time, hold the CPU on purpose or plant files in
 * src/: they run with the server and browser tests, one file at a time.
 */
const TIMED_UNIT = ['decode-pool', 'durable-answer', 'lag-guard', 'layers-lint', 'request-log', 'thread-priority'];

/**
 * How many server and browser test files run at once (TEST_PROCESS_FILES, default 1). Two is an
 * experiment for an idle 2-core machine: those tests mostly wait on their servers and Chromium.
 */
const processFiles = Number(process.env['TEST_PROCESS_FILES'] ?? '1');
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
        // browser and server tests start processes: one file at a time, so they do not fight over 2 cores
        extends: true,
        test: { name: 'processes', include: ['tests/**/*.test.ts'], exclude: [`tests/unit/!(${TIMED_UNIT.join('|')}).test.ts`], ...(processFiles === 1 ? { fileParallelism: false } : { maxWorkers: processFiles }), sequence: { groupOrder: 1 } },
      },
    ],
  },
});
