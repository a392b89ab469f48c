import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium';

/**
 * Browser tests run in Debian's Chromium (Playwright's own browser download needs hosts we cannot
 * reach). WebGPU is on SwiftShader there: correct, slow, and the same on every machine.
 */
const port = Number(process.env.PORT ?? 5179);

export default defineConfig({
  // End-to-end flows in test/e2e and WGSL kernel tests in test/kernels; Vitest's unit project only
  // takes test/unit/**/*.test.ts, so the two runners never pick up each other's files.
  testDir: 'test',
  testMatch: '**/*.spec.ts',
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
    command: `npx vite --port ${port} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
