import { expect, test, type Page } from '@playwright/test';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStudio, screenshots } from './studio';

/**
 * A large preference file (100 MB; LARGE_FILE_MB=1024 for a gigabyte), loaded through the file input:
 * how long reading takes, whether the progress bar advances, whether the page answers meanwhile, and
 * how much memory the tab takes: its JavaScript heaps (page and worker) and its processes' resident
 * memory. A file this large is read on demand: validated in one pass, its rows left in the file.
 * Minutes of work on a small machine, so it is in the slow tier (`npm run test:slow`).
 * The file is written to the system's temporary folder (never into the repository) and kept there.
 */
const TARGET_MB = Number(process.env.LARGE_FILE_MB ?? 100);
const TARGET_BYTES = TARGET_MB * 2 ** 20;
const FILE = join(tmpdir(), `dpo-studio-${TARGET_MB}mb.jsonl`);
const COUNTS = `${FILE}.rows.json`;
/** Reading takes about a second per 10 MB here, tokenizing for the histograms about a minute per 100 MB. */
const READ_LIMIT_MS = Math.max(600_000, TARGET_MB * 1_500);
const TOKENIZE_LIMIT_MS = Math.max(600_000, TARGET_MB * 3_000);
test.describe.configure({ timeout: 300_000 + READ_LIMIT_MS + TOKENIZE_LIMIT_MS });
const WORDS =
  'the a river stone kettle silver lamp quiet pepper answer because which model prefers helpful honest careful short longer reply'.split(
    ' ',
  );

/** Rows of 100–1,500 characters with a broken line every 10,000 rows, the same on every run. */
async function writeLargeFile(): Promise<{ rows: number; broken: number }> {
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
  const out = createWriteStream(FILE);
  let bytes = 0;
  let rows = 0;
  let broken = 0;
  while (bytes < TARGET_BYTES) {
    const line =
      rows % 10_000 === 9_999
        ? (broken++, '{"prompt": "cut off in the middle')
        : JSON.stringify({
            prompt: `Question ${rows}: ${words(4 + Math.floor(next() * 60))}?\n`,
            chosen: words(8 + Math.floor(next() * 90)),
            rejected: words(8 + Math.floor(next() * 90)),
          });
    bytes += Buffer.byteLength(line) + 1;
    rows++;
    if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  writeFileSync(COUNTS, JSON.stringify({ rows, broken }));
  return { rows, broken };
}

/** Resident memory of the renderer processes this test's browser started (the page and its worker live there). */
function rendererRssBytes(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes('--type=renderer') || cmdline.includes('--top-chrome-webui') || !descendsFrom(Number(pid), process.pid))
        continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) total += Number(rss[1]) * 1024;
    } catch {
      // The process ended while being read.
    }
  }
  return total;
}

/**
 * The page's and its worker's JavaScript heaps (V8's used and committed sizes), through the DevTools
 * protocol: the page's own session, and the worker attached to it (a worker has no performance.memory).
 */
async function heapProbe(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  const workers: string[] = [];
  const replies = new Map<number, (usage: HeapUsage) => void>();
  let nextId = 1;
  cdp.on('Target.attachedToTarget', (e) => {
    if (e.targetInfo.type === 'worker') workers.push(e.sessionId);
  });
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const message = JSON.parse(e.message) as { id?: number; result?: HeapUsage };
    if (message.id !== undefined && message.result) replies.get(message.id)?.(message.result);
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const workerHeap = (sessionId: string) =>
    new Promise<HeapUsage>((resolve) => {
      const id = nextId++;
      replies.set(id, resolve);
      void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) });
    });
  return async () => {
    const pageHeap = (await cdp.send('Runtime.getHeapUsage')) as HeapUsage;
    const worker = workers.length ? await workerHeap(workers.at(-1)!) : { usedSize: 0, totalSize: 0 };
    return { used: pageHeap.usedSize + worker.usedSize, total: pageHeap.totalSize + worker.totalSize, workerUsed: worker.usedSize };
  };
}

interface HeapUsage {
  usedSize: number;
  totalSize: number;
}

function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p = pid; p > 1;) {
    if (p === ancestor) return true;
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return false;
}

test(`a ${TARGET_MB} MB file is read in the worker with an advancing progress bar while the page answers, the tab's JavaScript heap under 1 GiB`, async ({
  page,
}) => {
  const { rows, broken } =
    existsSync(FILE) && existsSync(COUNTS) && statSync(FILE).size >= TARGET_BYTES
      ? (JSON.parse(readFileSync(COUNTS, 'utf8')) as { rows: number; broken: number })
      : await writeLargeFile();
  const size = statSync(FILE).size;

  await openStudio(page);
  await page.evaluate(() => {
    const w = window as unknown as Recorded;
    w.progressSeen = [];
    w.longTasks = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => w.longTasks.push(Math.round(e.duration)))).observe({
      type: 'longtask',
    });
    new MutationObserver(() => {
      const bar = document.querySelector('[role="progressbar"][aria-label^="reading "], [role="progressbar"][aria-label^="parsing "]');
      const pct = Number(bar?.getAttribute('aria-valuenow'));
      if (bar && w.progressSeen[w.progressSeen.length - 1] !== pct) w.progressSeen.push(pct);
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const mainThreadSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')!.value;

  // One probe: a script round trip, and a control in the Dataset panel answering a change.
  const demo = page.getByLabel('Demo dataset');
  const options = await demo.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  const probe = async (n: number) => {
    const t0 = Date.now();
    await page.evaluate(() => 0);
    const roundTrip = Date.now() - t0;
    const t1 = Date.now();
    await demo.selectOption(options[n % options.length]);
    await expect(demo).toHaveValue(options[n % options.length]);
    return { roundTrip, control: Date.now() - t1 };
  };
  const idle = [];
  for (let i = 0; i < 6; i++) idle.push(await probe(i));

  let peakRss = rendererRssBytes();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rendererRssBytes())), 250);
  const heap = await heapProbe(page);
  const peakHeap = { used: 0, total: 0, workerUsed: 0 };
  let sampling = true;
  const heapSampler = (async () => {
    while (sampling) {
      const h = await heap();
      peakHeap.used = Math.max(peakHeap.used, h.used);
      peakHeap.total = Math.max(peakHeap.total, h.total);
      peakHeap.workerUsed = Math.max(peakHeap.workerUsed, h.workerUsed);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  const threadBefore = await mainThreadSeconds();
  const started = Date.now();
  await page.getByLabel('Preference dataset').setInputFiles(FILE);
  const busy = [];
  const expected = (rows - broken).toLocaleString('en-US');
  while ((await page.getByTestId('valid-rows').textContent()) !== expected) {
    busy.push(await probe(busy.length));
    await page.waitForTimeout(50);
    expect(Date.now() - started, 'parse time').toBeLessThan(READ_LIMIT_MS);
  }
  const parsedMs = Date.now() - started;
  const mainThreadBusy = (await mainThreadSeconds()) - threadBefore;
  const peakRssWhileParsing = Math.max(peakRss, rendererRssBytes());
  const { longTasks: longWhileParsing } = await page.evaluate(() => ({ longTasks: (window as unknown as Recorded).longTasks }));
  await expect(page.getByTestId('issue-count')).toHaveText(broken.toLocaleString('en-US'));
  // Tokenizing every row for the length histograms follows in the worker.
  await expect(page.getByRole('heading', { name: 'Token lengths' })).toBeVisible({ timeout: TOKENIZE_LIMIT_MS });
  const tokenizedMs = Date.now() - started;
  await expect(page.getByTestId('on-demand')).toBeVisible();
  await page.getByTestId('on-demand').scrollIntoViewIfNeeded();
  await screenshots(page, 'dataset-large-file-card');
  // A page of rows, read again from the file.
  await page.getByRole('button', { name: 'next page of pairs' }).click();
  await expect(page.getByText('Question 8:').first()).toBeVisible(); // the second page, eight rows a page
  // A search reads the file again (its raw lines first); the page says so until the answer comes.
  await page.getByLabel('Search pairs').fill('Question 1234:');
  await expect(page.getByTestId('pair-matches')).toHaveText('1 pair holds “Question 1234:”', { timeout: READ_LIMIT_MS });
  await screenshots(page, 'dataset-large-file');
  sampling = false;
  await heapSampler;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, rendererRssBytes());

  const { progressSeen } = await page.evaluate(() => ({ progressSeen: (window as unknown as Recorded).progressSeen }));
  const stats = (xs: number[]) => ({ n: xs.length, median: [...xs].sort((a, b) => a - b)[xs.length >> 1], max: Math.max(...xs) });
  const report = {
    file: { MB: +(size / 2 ** 20).toFixed(1), rows, broken },
    parseSeconds: parsedMs / 1000,
    parseAndTokenizeSeconds: tokenizedMs / 1000,
    progressPercentsSeen: progressSeen,
    idle: { roundTripMs: stats(idle.map((p) => p.roundTrip)), controlMs: stats(idle.map((p) => p.control)) },
    whileParsing: { roundTripMs: stats(busy.map((p) => p.roundTrip)), controlMs: stats(busy.map((p) => p.control)) },
    pageMainThreadCpuSecondsWhileParsing: +mainThreadBusy.toFixed(2),
    longTasksWhileParsingMs: longWhileParsing,
    peakRendererRssMBWhileParsing: Math.round(peakRssWhileParsing / 2 ** 20),
    peakRendererRssMB: Math.round(peakRss / 2 ** 20),
    peakJsHeapMB: {
      used: Math.round(peakHeap.used / 2 ** 20),
      committed: Math.round(peakHeap.total / 2 ** 20),
      workerUsed: Math.round(peakHeap.workerUsed / 2 ** 20),
    },
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  console.log(JSON.stringify(report));
  await test.info().attach('large-file.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });

  // The tab never holds the file: its JavaScript heaps (page and worker, committed) stay under 1 GiB.
  expect(peakHeap.total, 'peak JavaScript heap, page + worker').toBeLessThan(2 ** 30);
  expect(new Set(progressSeen).size, 'distinct progress values while reading and parsing').toBeGreaterThanOrEqual(5);
  expect(progressSeen).toEqual([...progressSeen].sort((a, b) => a - b));
  expect(busy.length, 'probes while parsing').toBeGreaterThanOrEqual(3);
  expect(report.whileParsing.roundTripMs.median).toBeLessThan(200);
  expect(report.whileParsing.controlMs.median).toBeLessThan(200);
  // The work is in the worker: parsing on the page would keep its main thread busy for the whole parse.
  // Idle, the page spends about a tenth of the parse on its own work (0.6 s of 3–5 s); a machine busy with
  // other jobs doubles that, so the bound is half the parse.
  expect(mainThreadBusy).toBeLessThan(0.5 * (parsedMs / 1000));
});

interface Recorded {
  progressSeen: number[];
  longTasks: number[];
}
