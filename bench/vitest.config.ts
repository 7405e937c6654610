import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The bench smoke check (`npm run test:bench`, part of `npm test`): real CLI runs against real
// server processes, one at a time (each run already uses both cores).
export default defineConfig({
  test: {
    name: 'bench',
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['test/**/*.test.ts'],
    testTimeout: 160_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    maxWorkers: 1,
    sequence: { groupOrder: 3 },
  },
});
