/**
 * The bench page's host: Vite serving it on a free localhost port, and headless Chromium (Debian's
 * build unless CHROMIUM_PATH says otherwise) running it, replaced whenever a measurement may have left
 * the page unusable (a time-out, a crash, a lost device).
 */
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserServer, type Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM_ARGS } from '../chromium';
import type { AdapterReport, BenchApi, DeviceLimits } from './protocol';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE_PATH = '/scripts/bench/bench.html';
const PAGE_READY_MS = 180_000;

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

class TimeoutError extends Error {}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export type Measurement = 'matmulProbe' | 'kernel' | 'step';
type CaseOf<M extends Measurement> = Parameters<BenchApi[M]>[0];
type ResultOf<M extends Measurement> = Awaited<ReturnType<BenchApi[M]>>;

/** The browser and the bench page, replaced whenever a measurement may have left them unusable. */
export class BenchSession {
  private server: BrowserServer | null = null;
  private browser: Browser | null = null;
  private page: Page | null = null;
  private limits: DeviceLimits = 'adapter';
  adapter: AdapterReport | null = null;
  /** The last report of each kind of device opened. */
  readonly devices = new Map<DeviceLimits, AdapterReport>();
  version = '';

  constructor(
    private readonly url: string,
    private readonly executablePath: string,
    private readonly log: (message: string) => void,
  ) {}

  async open(limits: DeviceLimits = 'adapter'): Promise<AdapterReport> {
    this.limits = limits;
    // A server, not a plain launch: its process can be killed if a wedged GPU process blocks closing.
    this.server = await chromium.launchServer({ executablePath: this.executablePath, args: CHROMIUM_ARGS });
    this.browser = await chromium.connect(this.server.wsEndpoint());
    this.version = `Chromium ${this.browser.version()}`;
    const page = await this.browser.newPage();
    page.on('pageerror', (e) => this.log(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') this.log(`page console: ${m.text()}`);
    });
    // Without Vite's client the page cannot be reloaded under us (e.g. after dependency optimisation).
    await page.route('**/@vite/client', (route) => route.fulfill({ contentType: 'text/javascript', body: '' }));
    await page.goto(limits === 'adapter' ? this.url : `${this.url}?limits=${limits}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: PAGE_READY_MS });
    this.page = page;
    const report = await within(
      page.evaluate(() => window.bench.ready()),
      PAGE_READY_MS,
      'starting the webgpu backend',
    );
    if (limits === 'adapter') this.adapter = report;
    this.devices.set(limits, report);
    return report;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.browser = null;
    this.page = null;
    if (!server) return;
    try {
      await within(server.close(), 30_000, 'closing the browser');
    } catch {
      server.process().kill('SIGKILL');
    }
  }

  /**
   * One measurement with a time limit, on a device with the given limits (the page is replaced when
   * they differ from the open one's). A timeout or a crash becomes a Failure; after it, or after a
   * failure that left the page tainted, the browser is replaced before the next measurement.
   */
  async measure<M extends Measurement>(name: M, c: CaseOf<M>, timeoutMs: number, limits: DeviceLimits = 'adapter'): Promise<ResultOf<M>> {
    let outcome: ResultOf<M>;
    try {
      if (this.page && this.limits !== limits) await this.close();
      if (!this.page) {
        const report = await this.open(limits);
        if (limits !== 'adapter') {
          this.log(
            `device with ${limits} limits: maxStorageBufferBindingSize ${report.maxStorageBufferBindingSize}, maxBufferSize ${report.maxBufferSize}`,
          );
        }
      }
      const page = this.page!;
      outcome = (await within(
        page.evaluate(({ name, c }) => (window.bench[name] as (x: typeof c) => Promise<unknown>)(c), { name, c }),
        timeoutMs,
        'the measurement',
      )) as ResultOf<M>;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      outcome = {
        ok: false,
        failure: { kind: 'limit', reason: error instanceof TimeoutError ? reason : `the page failed: ${reason}` },
      } as ResultOf<M>;
      await this.close();
      return outcome;
    }
    if (!outcome.ok && outcome.failure.tainted) await this.close();
    return outcome;
  }
}
