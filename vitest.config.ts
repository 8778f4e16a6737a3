import { defineConfig } from 'vitest/config';

// Tests that start real processes or real sockets need room on a shared 2-core machine:
// generous timeouts guard against hangs, never against slowness that is fine.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'jepsen-lite/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Stops at once, with the install command, when a program the tests run is missing.
    globalSetup: ['./test/support/prerequisites.ts'],
  },
});
