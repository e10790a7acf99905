import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ['tests/helpers/global-setup.ts'],
    // browser and server tests start processes; keep files from fighting over 2 cores
    fileParallelism: false,
    reporters: ['default'],
  },
});
