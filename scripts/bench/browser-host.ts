/**
 * The bench in a browser: the bench page (page.ts), served by Vite on a free localhost port, in
 * headless Chromium (Debian's build unless CHROMIUM_PATH says otherwise) on whatever WebGPU adapter it
 * finds.
 */
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserServer, type Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM_ARGS } from '../chromium';
import { READY_MS, within, type LaunchRunner } from './session';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE_PATH = '/scripts/bench/bench.html';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startVite(): Promise<{ server: ViteDevServer; url: string }> {
  const port = await freePort();
  // No HMR and no file watching: an edit elsewhere in the tree must not reload the page mid-run. Its own
  // dependency cache: optimising the bench page's imports must not make other dev servers reload theirs.
  const server = await createServer({
    root: REPO_ROOT,
    cacheDir: 'node_modules/.vite-bench',
    logLevel: 'error',
    clearScreen: false,
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false, watch: null },
  });
  await server.listen();
  return { server, url: `http://127.0.0.1:${port}${PAGE_PATH}` };
}

/** The bench page in headless Chromium. */
export function chromiumRunner(url: string, executablePath: string, log: (message: string) => void): LaunchRunner {
  return async (limits) => {
    // A server, not a plain launch: its process can be killed if a wedged GPU process blocks closing.
    const server: BrowserServer = await chromium.launchServer({ executablePath, args: CHROMIUM_ARGS });
    const close = async () => {
      try {
        await within(server.close(), 30_000, 'closing the browser');
      } catch {
        server.process().kill('SIGKILL');
      }
    };
    try {
      const browser: Browser = await chromium.connect(server.wsEndpoint());
      const page: Page = await browser.newPage();
      page.on('pageerror', (e) => log(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') log(`page console: ${m.text()}`);
      });
      // Without Vite's client the page cannot be reloaded under us (e.g. after dependency optimisation).
      await page.route('**/@vite/client', (route) => route.fulfill({ contentType: 'text/javascript', body: '' }));
      await page.goto(limits === 'adapter' ? url : `${url}?limits=${limits}`);
      await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: READY_MS });
      return {
        version: `Chromium ${browser.version()}`,
        call: (name, c) => page.evaluate(({ name, c }) => (window.bench[name] as (x: unknown) => Promise<unknown>)(c), { name, c }),
        close,
      };
    } catch (e) {
      await close();
      throw e;
    }
  };
}
