import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium';

/**
 * Browser tests run in Debian's Chromium (Playwright's own browser download needs hosts we cannot
 * reach). WebGPU is on SwiftShader there: correct, slow, and the same on every machine.
 */
const port = Number(process.env.PORT ?? 5179);

/**
 * The long flows: the demo preset's full 40-step run, the lab's training experiments (each trains
 * several runs), the 100 MB file, storage filling up mid-run and the injected GPU failures (each a run,
 * a reload and its resume, or a failed load and generation; the fast tier's training flow resumes after a reload too, and Node tests
 * inject the same GPU failures into the monitor and the CLI), and, when REAL_SHAPES names them, real
 * models' shapes loaded and trained under WebGPU's default limits. `npm run test:slow` runs them; `npm test`
 * runs the rest.
 */
const SLOW = [
  'e2e/lab-before-after.spec.ts',
  'e2e/lab-corruption.spec.ts',
  'e2e/lab-sweep.spec.ts',
  'e2e/lab-make-pairs.spec.ts',
  'e2e/studio-large-file.spec.ts',
  'e2e/studio-quota.spec.ts',
  'e2e/studio-gpu-failures.spec.ts',
  'e2e/studio-gpu-failures-load.spec.ts',
  'e2e/studio-gpu-continue.spec.ts',
  'e2e/studio-real-shapes.spec.ts',
];

export default defineConfig({
  // End-to-end flows in test/e2e and WGSL kernel tests in test/kernels; Vitest's unit project only
  // takes test/unit/**/*.test.ts, so the two runners never pick up each other's files.
  testDir: 'test',
  testMatch: '**/*.spec.ts',
  projects: [
    { name: 'fast', testIgnore: SLOW },
    { name: 'slow', testMatch: SLOW },
  ],
  outputDir: 'test-results',
  timeout: 180_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
    },
  },
  webServer: {
    command: `DPO_STUDIO_TEST_SERVER=1 npx vite --port ${port} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
