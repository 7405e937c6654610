import { defineConfig } from 'vitest/config';

// Tests by kind: unit tests feed input straight into one piece; integration tests
// start the real server process and talk to it over real sockets.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
          // Property runs and the WAL test do seconds of real work: on a busy 2-core machine
          // the default 5 s cut them off mid-run.
          testTimeout: 30_000,
          // Two files at a time (vitest's default is one on 2 cores): the store suites spend
          // much of their time waiting on PostgreSQL and fsync, not on this process's CPU.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own server processes; two at a time fits 2 cores.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          sequence: { groupOrder: 2 },
          // Each file drives Chromium against its own server: one file at a time on 2 cores.
          maxWorkers: 1,
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      // The bench smoke check: bench/vitest.config.ts.
      'bench/vitest.config.ts',
    ],
  },
});
