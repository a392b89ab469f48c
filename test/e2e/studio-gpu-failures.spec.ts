import { expect, test, type Page, type Worker } from '@playwright/test';
import { configureSmallRun, goTo, openStudio, screenshots, trainStatus, waitForDemo } from './studio';

/**
 * The GPU failing in the middle of a training step: a read-back that never resolves, an allocation
 * over the device's limits, and a lost device. Each ends the step within a bounded time with a
 * message naming the operation and what to change; the checkpoint saved before stays whole, and
 * training continues from it (after a lost device, once the page is reloaded, as the page says).
 */
test.describe.configure({ timeout: 300_000 });

const STEPS = 12;
/** A failure must end the step this soon after it is injected (the stall's watchdog is 4 s). */
const FAILS_WITHIN = 30_000;
const STEP = 120_000;

async function trainWorker(page: Page): Promise<Worker> {
  await expect.poll(() => page.workers().some((w) => w.url().includes('train.worker')), { timeout: 30_000 }).toBe(true);
  return page.workers().find((w) => w.url().includes('train.worker'))!;
}

/** Every read-back from now on waits forever, and the watchdog gives GPU waits 4 s. */
async function stallReadBacks(worker: Worker): Promise<void> {
  await worker.evaluate(() => {
    const g = self as unknown as { __dpoStudioWatchdog?: object; __mapAsync?: GPUBuffer['mapAsync'] };
    g.__dpoStudioWatchdog = { firstStepMs: 4000, slowestFlops: Infinity, floorMs: 4000, factor: 0, otherMs: 4000 };
    g.__mapAsync = GPUBuffer.prototype.mapAsync;
    GPUBuffer.prototype.mapAsync = () => new Promise<undefined>(() => undefined);
  });
}

async function restoreReadBacks(worker: Worker): Promise<void> {
  await worker.evaluate(() => {
    const g = self as unknown as { __dpoStudioWatchdog?: object; __mapAsync?: GPUBuffer['mapAsync'] };
    GPUBuffer.prototype.mapAsync = g.__mapAsync!;
    delete g.__dpoStudioWatchdog;
  });
}

/** At the next dispatch, the device is asked for a buffer larger than its maxBufferSize. */
async function allocateOverLimitAtNextDispatch(worker: Worker): Promise<void> {
  await worker.evaluate(() => {
    const create = GPUDevice.prototype.createBindGroup;
    GPUDevice.prototype.createBindGroup = function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
      GPUDevice.prototype.createBindGroup = create;
      const size = Math.ceil((this.limits.maxBufferSize + 4) / 4) * 4;
      this.createBuffer({ size, usage: GPUBufferUsage.STORAGE });
      return create.call(this, descriptor);
    };
  });
}

/** At the next dispatch, the device is destroyed: a forced device loss. */
async function destroyDeviceAtNextDispatch(worker: Worker): Promise<void> {
  await worker.evaluate(() => {
    const create = GPUDevice.prototype.createBindGroup;
    GPUDevice.prototype.createBindGroup = function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
      GPUDevice.prototype.createBindGroup = create;
      const group = create.call(this, descriptor);
      this.destroy();
      return group;
    };
  });
}

const badge = (page: Page) => page.locator('.state-badge');
const chip = (page: Page) => page.locator('.trainbar .checkpoint');
const resume = (page: Page) => page.getByRole('button', { name: 'Resume', exact: true });

/** Pauses after the step under way (at least step `atLeast`) and returns the step it paused at, whose checkpoint is saved. */
async function pauseRun(page: Page, atLeast = 1): Promise<number> {
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(badge(page)).toHaveText('Paused', { timeout: STEP });
  const step = Number((await trainStatus(page).textContent())!.match(/^step (\d+)/)![1]);
  expect(step).toBeGreaterThanOrEqual(atLeast);
  await expect(chip(page)).toHaveText(`saved at step ${step}`);
  return step;
}

/** The step after `saved` fails: the Train view names it, says what the device said and what to change. */
async function expectStepFailed(page: Page, saved: number, what: string, device: RegExp): Promise<void> {
  const started = Date.now();
  await expect(badge(page)).toHaveText('Failed', { timeout: FAILS_WITHIN });
  expect(Date.now() - started).toBeLessThan(FAILS_WITHIN);
  const box = page.getByTestId('gpu-failure');
  await expect(box).toContainText(`Training step ${saved + 1} of ${STEPS} (forward/backward) failed: ${what}.`);
  await expect(box).toContainText(device);
  await expect(box).toContainText(/What to change: .*(batch size|reload the page)/);
  // The bar says it all in one sentence: the operation, the device's words, what to change, what is safe.
  const note = page.locator('.trainbar-note');
  await expect(note).toContainText(`Training step ${saved + 1} of ${STEPS} (forward/backward) failed: `);
  await expect(note).toContainText(`The checkpoint of step ${saved} is intact`);
  await expect(chip(page)).toHaveText(`saved at step ${saved}`);
}

/** Asks for one short sample and expects it to fail, fast, with `message`. */
async function generateOneSample(page: Page, message: RegExp): Promise<void> {
  await goTo(page, 'Evaluate & sample');
  const prompts = page.getByRole('group', { name: 'Prompts from the dataset' }).getByRole('checkbox');
  const count = await prompts.count();
  for (let i = 1; i < count; i++) await prompts.nth(i).uncheck();
  await page.getByLabel('max new tokens').fill('3');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.locator('.error-text').last()).toHaveText(message, { timeout: FAILS_WITHIN });
  await goTo(page, 'Train');
}

/** Runs' first row: the run's status and the step its stored checkpoint holds. */
async function expectStoredRun(page: Page, status: string, step: number): Promise<void> {
  await goTo(page, 'Runs');
  const row = page.getByRole('row').nth(1);
  await expect(row.locator('.status-cell')).toContainText(status);
  await expect(row.locator('.status-cell')).toContainText(`step ${step} / ${STEPS}`);
  await goTo(page, 'Train');
}

test('a stalled read-back, an over-limit allocation and a lost device each end the step with a message; training continues from the checkpoint', async ({
  page,
}) => {
  const rec = await openStudio(page);
  await configureSmallRun(page, { maxSteps: STEPS, saveSteps: 1 });
  const worker = await trainWorker(page);

  await page.getByRole('button', { name: 'Train', exact: true }).click();
  // Slow is visibly different from stuck: the Train view counts the time within the step.
  await expect(page.getByTestId('step-elapsed')).toContainText(/^Step 1: \d+s so far/, { timeout: 60_000 });
  let saved = await pauseRun(page);

  // 1. A read-back that never resolves: the watchdog ends the step.
  await stallReadBacks(worker);
  await resume(page).click();
  await expectStepFailed(
    page,
    saved,
    'the GPU stopped making progress',
    /The device said: a read-back of a result from the GPU did not finish in 4 s/,
  );
  await expectStoredRun(page, 'failed', saved);
  // Generation waits on the same read-backs: it ends at its watchdog too, with its own suggestion.
  await generateOneSample(
    page,
    /^Generation with run \S+ at step \d+ failed: it made no progress \(.*did not finish in 4 s\)\. .*fewer new tokens/,
  );
  await restoreReadBacks(worker);
  await expect(resume(page)).toBeEnabled();
  await resume(page).click();
  await expect(badge(page)).toHaveText('Training', { timeout: 60_000 });
  saved = await pauseRun(page, saved + 1);

  // 2. An allocation over the device's limits during the step: the device's validation error ends it.
  await allocateOverLimitAtNextDispatch(worker);
  await resume(page).click();
  await expectStepFailed(page, saved, 'the GPU rejected a command', /The device said: .*max buffer size/i);
  await expectStoredRun(page, 'failed', saved);
  await resume(page).click();
  await expect(badge(page)).toHaveText('Training', { timeout: 60_000 });
  saved = await pauseRun(page, saved + 1);

  // 3. The device is lost mid-step: the step ends, and the page says it must reload, and why.
  await destroyDeviceAtNextDispatch(worker);
  await resume(page).click();
  await expectStepFailed(page, saved, 'the GPU device was lost', /The device said: .*destroy/i);
  await expect(page.getByTestId('gpu-lost')).toContainText('reload the page to continue');
  await expect(resume(page)).toBeDisabled();
  await expectStoredRun(page, 'failed', saved);
  await screenshots(page, 'gpu-device-lost');
  // Nothing more runs on the lost device, and each operation says so at once: generation, loading.
  await generateOneSample(page, /^Generation with .* failed: the GPU device was lost \(it was lost earlier, during training step/);
  await goTo(page, 'Model');
  await page.getByRole('button', { name: 'Load demo model' }).click();
  await expect(page.locator('.error-text[role="alert"]')).toContainText(
    /Loading the model .* failed: the GPU device was lost.*reload the page/,
    {
      timeout: FAILS_WITHIN,
    },
  );

  await page.reload();
  await waitForDemo(page);
  await goTo(page, 'Runs');
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(badge(page)).toHaveText('Training', { timeout: 60_000 });
  await expect(chip(page)).toHaveText(`saved at step ${saved + 1}`, { timeout: STEP });
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(badge(page)).toHaveText('Stopped', { timeout: STEP });
  expect(rec.pageErrors).toEqual([]);
});
