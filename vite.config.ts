import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The browser tests' server (DPO_STUDIO_TEST_SERVER=1, set by playwright.config.ts) neither watches
 * the sources nor reloads pages: an edit made while a long test runs must not reload its page.
 */
const testServer = process.env.DPO_STUDIO_TEST_SERVER === '1';

export default defineConfig({
  plugins: [react()],
  server: { port: 5173, strictPort: false, ...(testServer ? { hmr: false, watch: null } : {}) },
  worker: { format: 'es' },
});
