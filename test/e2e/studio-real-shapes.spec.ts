import { expect, test, type CDPSession, type Page, type TestInfo } from '@playwright/test';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dropFile, fill, goTo, savedDownload, screenshots, trainStatus, waitForDemo } from './studio';

/**
 * Real model sizes in the studio: a random checkpoint with the exact config.json shapes of a small
 * instruct model (BF16, several shards) opens as a folder on a device with WebGPU's default limits
 * (128 MiB per binding: the 262,144 × 640 or 151,936 × 896 embedding is kept in row blocks), and
 * trains one DPO step on two pairs. The step's logps/chosen, logps/rejected and loss must be the CLI's
 * eval of the same pairs (Node, CPU backend, composed ops) to 1e-4 relative, and the page and its
 * worker must not hold the checkpoint in JavaScript memory while loading it.
 *
 * A step of these sizes takes many minutes on SwiftShader (over 16 on 2 cores for gemma-3-270m's), more
 * than the slow tier can give, so the check runs when asked: REAL_SHAPES=gemma-3-270m (or a list, or
 * all: gemma-3-270m, qwen2.5-0.5b, qwen3-0.6b) npx playwright test e2e/studio-real-shapes.spec.ts.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Not under test-results/, which Playwright empties at each run.
const CACHE = join(ROOT, '.cache', 'real-shapes');
const PAIRS = join(CACHE, 'pairs.jsonl');
const ALL = ['gemma-3-270m', 'qwen2.5-0.5b', 'qwen3-0.6b'];
/** REAL_SHAPES=all, or a comma-separated list of ALL's names; none when unset. */
const MODELS = process.env.REAL_SHAPES === 'all' ? ALL : (process.env.REAL_SHAPES?.split(',') ?? []);
for (const m of MODELS) if (!ALL.includes(m)) throw new Error(`REAL_SHAPES: unknown model "${m}"; one of ${ALL.join(', ')} or all`);
const HOUR = 3_600_000;
const MiB = 2 ** 20;

test.describe.configure({ timeout: 2 * HOUR });

const run = promisify(execFile);
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/**
 * The checkpoint (made once and kept under .cache/), and the CLI's eval of the two pairs, started now
 * and running beside the browser.
 */
function prepare(model: string): { dir: string; cli: Promise<Record<string, number>> } {
  const dir = join(CACHE, model);
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(dir, 'model.safetensors.index.json'))) {
    execFileSync(TSX, ['scripts/make-real-shape-model.ts', dir, '--model', model], { cwd: ROOT, stdio: 'inherit' });
  }
  if (!existsSync(PAIRS)) {
    writeFileSync(
      PAIRS,
      [
        { prompt: 'What colour is the sky on a clear day?', chosen: 'Blue.', rejected: 'Green, mostly.' },
        { prompt: 'Name a fruit that is yellow.', chosen: 'A banana.', rejected: 'A cucumber.' },
      ]
        .map((row) => JSON.stringify(row))
        .join('\n') + '\n',
    );
  }
  // The checkpoint is kept between runs (it is random and fixed by its seed); the eval is always run.
  const evalFile = join(CACHE, `${model}-cli-eval.jsonl`);
  const cli = run(TSX, ['src/cli/dpo.ts', 'eval', '--model', dir, '--data', PAIRS, '--max_length', '48', '--out', evalFile], {
    cwd: ROOT,
  }).then(() => (JSON.parse(readFileSync(evalFile, 'utf8').trim().split('\n').at(-1)!) as { metrics: Record<string, number> }).metrics);
  // Awaited at the end; a failure before then must not go unhandled.
  cli.catch(() => undefined);
  return { dir, cli };
}

/** JavaScript memory (V8 heap and ArrayBuffer backing stores) of the page and of its training worker. */
class HeapSampler {
  private timer: ReturnType<typeof setInterval> | null = null;
  private pending = new Map<number, (value: { usedSize: number; backingStorageSize?: number }) => void>();
  private nextId = 1;
  peakPage = 0;
  peakWorker = 0;

  private constructor(
    private readonly cdp: CDPSession,
    private readonly workerSession: string,
  ) {
    cdp.on('Target.receivedMessageFromTarget', (event) => {
      const message = JSON.parse(event.message) as { id?: number; result?: { usedSize: number; backingStorageSize?: number } };
      if (message.id !== undefined && message.result) this.pending.get(message.id)?.(message.result);
    });
  }

  static async attach(page: Page): Promise<HeapSampler> {
    const cdp = await page.context().newCDPSession(page);
    const { targetInfos } = await cdp.send('Target.getTargets');
    const worker = targetInfos.find((t) => t.type === 'worker' && t.url.includes('train.worker'));
    if (!worker) throw new Error('the training worker is not running');
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false });
    return new HeapSampler(cdp, sessionId);
  }

  private async workerHeap(): Promise<number> {
    const id = this.nextId++;
    const result = new Promise<{ usedSize: number; backingStorageSize?: number }>((resolve) => this.pending.set(id, resolve));
    await this.cdp.send('Target.sendMessageToTarget', {
      sessionId: this.workerSession,
      message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }),
    });
    const { usedSize, backingStorageSize } = await result;
    this.pending.delete(id);
    return usedSize + (backingStorageSize ?? 0);
  }

  private async sample(): Promise<void> {
    const page = (await this.cdp.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
    this.peakPage = Math.max(this.peakPage, page.usedSize + (page.backingStorageSize ?? 0));
    this.peakWorker = Math.max(this.peakWorker, await this.workerHeap());
  }

  start(): void {
    this.timer = setInterval(() => void this.sample().catch(() => undefined), 100);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sample();
  }
}

interface Logged {
  step: number;
  [k: string]: number | null;
}

async function metricsOfRun(page: Page, testInfo: TestInfo): Promise<Logged[]> {
  await goTo(page, 'Export');
  await page.getByLabel('Format', { exact: true }).selectOption('json');
  const file = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Download metrics' }).click());
  return JSON.parse(readFileSync(file.path, 'utf8')) as Logged[];
}

/** Kept with the test's results and printed, so a run's figures can be quoted. */
function note(testInfo: TestInfo, type: string, description: string): void {
  testInfo.annotations.push({ type, description });
  console.log(`${type}: ${description}`);
}

function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

for (const model of MODELS) {
  test(`${model}-shaped checkpoint: loads under WebGPU's default limits, trains a DPO step equal to the CLI's eval`, async ({
    page,
  }, testInfo) => {
    const { dir, cli: cliEval } = prepare(model);
    const shards = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(1);
    const largestShard = Math.max(...shards.map((f) => statSync(join(dir, f)).size));

    page.on('pageerror', (e) => testInfo.annotations.push({ type: 'page error', description: e.message }));
    await page.goto('/?webgpu-limits=default');
    await waitForDemo(page);
    await goTo(page, 'Model');
    await expect(page.getByTestId('binding-limit')).toContainText('WebGPU default limits');

    const heap = await HeapSampler.attach(page);
    heap.start();
    const started = Date.now();
    await page.getByLabel('Open model folder').setInputFiles(dir);
    await expect(page.getByRole('heading', { level: 2, name: model, exact: true })).toBeVisible({ timeout: HOUR });
    const loadSeconds = (Date.now() - started) / 1000;
    await heap.stop();
    const heapBound = largestShard + 256 * MiB;
    note(
      testInfo,
      'load',
      `${model}: loaded in ${loadSeconds.toFixed(1)} s; JS memory peak page ${(heap.peakPage / MiB).toFixed(0)} MiB + worker ` +
        `${(heap.peakWorker / MiB).toFixed(0)} MiB (bound ${(heapBound / MiB).toFixed(0)} MiB: largest shard ${(largestShard / MiB).toFixed(0)} MiB + 256 MiB)`,
    );
    expect(heap.peakPage + heap.peakWorker).toBeLessThan(heapBound);
    await screenshots(page, `real-shape-${model}-model`);

    await goTo(page, 'Dataset');
    await dropFile(page, PAIRS, 'pairs.jsonl');
    await expect(page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /Dataset/ })).toContainText('2 pairs');
    await goTo(page, 'Configure');
    await fill(page, 'batch size', '2');
    await fill(page, 'max steps', '1');
    await fill(page, 'max length', '48');
    await fill(page, 'logging steps', '1');
    await fill(page, 'checkpoint every', '1');
    await expect(page.getByText('Ready to train')).toBeVisible();

    const stepStarted = Date.now();
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    // A minute-by-minute trace of a long step, for the log of a run that fails.
    const trace = setInterval(() => {
      // Each read gives up at once when its element is gone (a failed or finished step has no elapsed time).
      const text = (l: ReturnType<Page['locator']>) => l.textContent({ timeout: 2000 }).catch(() => '');
      void Promise.all([text(page.locator('.state-badge')), text(trainStatus(page)), text(page.getByTestId('step-elapsed'))])
        .then((parts) => console.log(`${model} after ${((Date.now() - stepStarted) / 1000).toFixed(0)} s: ${parts.join(' | ')}`))
        .catch(() => undefined);
    }, 60_000);
    try {
      await expect(page.locator('.state-badge')).toHaveText(/^(Finished|Failed)$/, { timeout: HOUR });
    } finally {
      clearInterval(trace);
    }
    if ((await page.locator('.state-badge').textContent()) === 'Failed') {
      await screenshots(page, `real-shape-${model}-failed`);
      throw new Error(
        `${model}: the step failed after ${((Date.now() - stepStarted) / 1000).toFixed(0)} s: ${await page.locator('.trainbar-note').textContent()}`,
      );
    }
    const stepSeconds = (Date.now() - stepStarted) / 1000;
    await expect(trainStatus(page)).toHaveText(/^step 1 \/ 1/);
    const [logged] = (await metricsOfRun(page, testInfo)).filter((row) => row.loss !== undefined && row.loss !== null);
    const cli = await cliEval;
    note(
      testInfo,
      'step',
      `${model}: one DPO step (2 pairs, max length 48) in ${stepSeconds.toFixed(0)} s; ` +
        `logps/chosen ${logged['logps/chosen']} vs CLI ${cli['logps/chosen']}, logps/rejected ${logged['logps/rejected']} vs ` +
        `${cli['logps/rejected']}, loss ${logged.loss} vs ${cli.loss}`,
    );
    expect(relative(logged['logps/chosen']!, cli['logps/chosen'])).toBeLessThan(1e-4);
    expect(relative(logged['logps/rejected']!, cli['logps/rejected'])).toBeLessThan(1e-4);
    expect(relative(logged.loss!, cli.loss)).toBeLessThan(1e-4);
    await screenshots(page, `real-shape-${model}-trained`);
  });
}
