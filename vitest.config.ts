import { defineConfig } from 'vitest/config';

/**
 * Node tests: `unit` (in `npm test`) and `slow` (in `npm run test:slow`: *.slow.test.ts, whole command
 * runs on a real device that fail it on purpose).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['test/unit/**/*.test.ts'],
          exclude: ['test/unit/**/*.slow.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'slow',
          environment: 'node',
          include: ['test/unit/**/*.slow.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
