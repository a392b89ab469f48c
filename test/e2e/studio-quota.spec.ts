import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configureSmallRun, cspViolations, goTo, openStudio, savedDownload, screenshots, trainStatus, waitForDemo } from './studio';

/**
 * Browser storage running out in the middle of a run: the person is told in plain words, training
 * carries on, and what was saved before stays whole, so Resume after a reload continues from it.
 */
test.describe.configure({ timeout: 300_000 });

const TRAINING = 180_000;
const STEPS = 8;
const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));

interface Logged {
  step: number;
  [k: string]: number | null;
}

/**
 * From the first committed checkpoint pointer on, every IndexedDB put in the training worker throws
 * QuotaExceededError, as a full origin's would. The rest of that checkpoint's transaction still lands.
 */
async function fillStorageAfterFirstCheckpoint(page: Page): Promise<void> {
  await expect.poll(() => page.workers().some((w) => w.url().includes('train.worker')), { timeout: 30_000 }).toBe(true);
  const worker = page.workers().find((w) => w.url().includes('train.worker'))!;
  await worker.evaluate(() => {
    const put = IDBObjectStore.prototype.put;
    let full = false;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      const request = put.call(this, value, key);
      if (typeof key === 'string' && key.startsWith('ckpt-latest/')) this.transaction.addEventListener('complete', () => (full = true));
      return request;
    };
  });
}

/** Every IndexedDB put in the page throws QuotaExceededError from now on (until a reload). */
async function fillStorageInPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    IDBObjectStore.prototype.put = function () {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
  });
}

/** Every text the checkpoint chip shows, in order, however briefly. */
async function recordCheckpointChip(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { checkpointsSeen: string[] }).checkpointsSeen = seen;
    new MutationObserver(() => {
      const text = document.querySelector('.trainbar .checkpoint')?.textContent;
      if (text && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

async function metricsJson(page: Page, testInfo: TestInfo): Promise<Logged[]> {
  await goTo(page, 'Export');
  await page.getByLabel('Format', { exact: true }).selectOption('json');
  const file = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Download metrics' }).click());
  return JSON.parse(readFileSync(file.path, 'utf8')) as Logged[];
}

test('storage fills up mid-run: the page says so, training goes on, and after a reload Resume continues from the last saved checkpoint', async ({
  page,
}, testInfo) => {
  const rec = await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  await configureSmallRun(page, { maxSteps: STEPS, saveSteps: 2 });
  await fillStorageAfterFirstCheckpoint(page);

  await page.getByRole('button', { name: 'Train', exact: true }).click();
  const chip = page.locator('.trainbar .checkpoint');
  await expect(chip).toHaveText('saved at step 2', { timeout: TRAINING });
  await fillStorageInPage(page);

  // The next checkpoint cannot be written: the bar says so in plain words and names what is safe.
  await expect(chip).toHaveText('checkpoint at step 4 not saved', { timeout: TRAINING });
  const note = page.locator('.trainbar-note');
  await expect(note).toContainText('Browser storage is full: the checkpoint of step 4 was not saved.');
  await expect(note).toContainText('The checkpoint of step 2 is intact');
  // Training carries on; pausing tries to save again and says again that it could not.
  await expect(trainStatus(page)).toHaveText(new RegExp(`^step 5 / ${STEPS}`), { timeout: TRAINING });
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText('Paused', { timeout: 60_000 });
  const pausedAt = Number((await trainStatus(page).textContent())!.match(/^step (\d+)/)![1]);
  expect(pausedAt).toBeGreaterThanOrEqual(5);
  await expect(chip).toHaveText(`checkpoint at step ${pausedAt} not saved`);
  await expect(page.getByRole('button', { name: 'Resume', exact: true })).toBeEnabled();
  // The page could not record the pause either, and says so without alarm.
  await expect(page.locator('.notice')).toContainText(
    "Browser storage is full: the run's new status could not be saved. Nothing saved earlier is lost",
  );
  const beforeReload = await metricsJson(page, testInfo);
  expect(beforeReload.map((e) => e.step)).toEqual(Array.from({ length: pausedAt }, (_, i) => i + 1));

  // Storage use is on show in Runs, with the run and its checkpoint interval.
  await goTo(page, 'Runs');
  await expect(page.locator('.panel-head')).toContainText(/Storage: \S+ \S+ used of \S+ \S+/);
  await expect(page.getByRole('row').nth(1)).toContainText('checkpoint every 2 steps');
  await page.locator('.main').evaluate((main) => main.scrollTo(0, 0));
  await screenshots(page, 'storage-full');

  // A reload (or a crash): the run comes back at the checkpoint that was saved, whole.
  await page.reload();
  await waitForDemo(page);
  await expect(page.locator('.state-badge')).toHaveText('Interrupted');
  await expect(trainStatus(page)).toHaveText(`step 2 / ${STEPS}`);
  await goTo(page, 'Runs');
  await expect(page.getByRole('row').nth(1)).toContainText(`step 2 / ${STEPS}`);
  // Settings changed since apply to new runs; the run resumes with its own checkpoint interval.
  await goTo(page, 'Configure');
  await expect(page.getByLabel('checkpoint every', { exact: true })).toHaveValue('2');
  await page.getByLabel('checkpoint every', { exact: true }).fill('5');
  await recordCheckpointChip(page);
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText('Training', { timeout: 60_000 });
  await expect(trainStatus(page)).toHaveText(`step ${STEPS} / ${STEPS}`, { timeout: TRAINING });
  await expect(page.locator('.state-badge')).toHaveText('Finished', { timeout: 30_000 });
  await expect(page.locator('.trainbar .checkpoint')).toHaveText(`saved at step ${STEPS}`);
  const chips = await page.evaluate(() => (window as unknown as { checkpointsSeen: string[] }).checkpointsSeen);
  // Every second step, as the run was set up; the 5 typed in Configure is for new runs.
  expect(chips).toEqual(['saved at step 4', 'saved at step 6', `saved at step ${STEPS}`]);

  // From the step-2 checkpoint, the resumed run computes steps 3.. exactly as the run before the reload did.
  const resumed = await metricsJson(page, testInfo);
  expect(resumed.map((e) => e.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  for (const key of ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'grad_norm', 'learning_rate']) {
    beforeReload.forEach((entry, i) => {
      const a = resumed[i][key] as number;
      const b = entry[key] as number;
      expect(Math.abs(a - b), `${key} at step ${entry.step}: resumed ${a}, before the reload ${b}`).toBeLessThanOrEqual(
        1e-5 * Math.max(1, Math.abs(b)),
      );
    });
  }
  expect(rec.pageErrors).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});
