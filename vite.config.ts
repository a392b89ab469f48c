import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The browser tests' server (DPO_STUDIO_TEST_SERVER=1, set by playwright.config.ts) neither watches
 * the sources nor reloads pages: an edit made while a long test runs must not reload its page.
 */
const testServer = process.env.DPO_STUDIO_TEST_SERVER === '1';

/**
 * Cross-origin isolation, so that the worker may share memory with its own threads: tfjs's
 * WebAssembly backend (the studio's engine without WebGPU) runs multi-threaded only then.
 * `credentialless` keeps cross-origin fetches (the Hub's) working as they do without it.
 * A static host serving the build should send the same two headers.
 */
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'credentialless' };

export default defineConfig({
  plugins: [react()],
  server: { port: 5173, strictPort: false, headers: isolation, ...(testServer ? { hmr: false, watch: null } : {}) },
  preview: { headers: isolation },
  // The worker's imports are pre-bundled at start-up with the page's: a dependency found only when the
  // worker first loads would make the dev server re-bundle and ask for a reload, which the test server
  // (no HMR) never does.
  optimizeDeps: { entries: ['index.html', 'src/worker/train.worker.ts'] },
  // The worker is not minified: tfjs's WebAssembly threads start from the source text of its module
  // factory (Function.prototype.toString), which minification ties to names defined outside it.
  worker: { format: 'es', rolldownOptions: { output: { minify: false } } },
});
