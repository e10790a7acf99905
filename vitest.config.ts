import { defineConfig } from 'vitest/config';

/**
 * Unit tests that measure time, hold the CPU on purpose or plant files in
 * src/: they run with the server and browser tests, one file at a time.
 */
const TIMED_UNIT = ['decode-pool', 'durable-answer', 'lag-guard', 'layers-lint', 'request-log', 'thread-priority'];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 180_000,
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
        test: { name: 'processes', include: ['tests/**/*.test.ts'], exclude: [`tests/unit/!(${TIMED_UNIT.join('|')}).test.ts`], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
