import { expect, test, type Page } from '@playwright/test';
import { configureSmallRun, goTo, openStudio, screenshots, trainStatus } from './studio';

/**
 * A run that failed on the GPU continues from its checkpoint with settings that need less memory:
 * half the batch with twice the accumulation (the same pairs in each optimizer step). The failure box
 * offers it, the run's record keeps the new settings and says what changed at which step, and the run
 * trains on from the saved step.
 */
test.describe.configure({ timeout: 300_000 });

const STEPS = 6;
const STEP = 120_000;

const badge = (page: Page) => page.locator('.state-badge');
const chip = (page: Page) => page.locator('.trainbar .checkpoint');

test('a failed run continues from its checkpoint with half the batch and twice the accumulation', async ({ page }) => {
  const rec = await openStudio(page);
  await configureSmallRun(page, { maxSteps: STEPS, saveSteps: 1 });
  await expect.poll(() => page.workers().some((w) => w.url().includes('train.worker')), { timeout: 30_000 }).toBe(true);
  const worker = page.workers().find((w) => w.url().includes('train.worker'))!;

  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(badge(page)).toHaveText('Paused', { timeout: STEP });
  const saved = Number((await trainStatus(page).textContent())!.match(/^step (\d+)/)![1]);
  await expect(chip(page)).toHaveText(`saved at step ${saved}`);

  // The next step's first dispatch also asks the device for a buffer over its limits.
  await worker.evaluate(() => {
    const create = GPUDevice.prototype.createBindGroup;
    GPUDevice.prototype.createBindGroup = function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
      GPUDevice.prototype.createBindGroup = create;
      this.createBuffer({ size: Math.ceil((this.limits.maxBufferSize + 4) / 4) * 4, usage: GPUBufferUsage.STORAGE });
      return create.call(this, descriptor);
    };
  });
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(badge(page)).toHaveText('Failed', { timeout: 30_000 });

  const box = page.getByRole('group', { name: 'Continue from the checkpoint with less memory' });
  await expect(box).toBeVisible();
  const split = box.getByLabel(/^Batch size 2 → 1, gradient accumulation 1 → 2/);
  await expect(split).toBeChecked();
  await box.scrollIntoViewIfNeeded();
  await screenshots(page, 'gpu-failure-continue');
  await box.getByRole('button', { name: 'Continue with these settings' }).click();

  await expect(badge(page)).toHaveText('Training', { timeout: 60_000 });
  await expect(page.getByTestId('continued-with')).toHaveText(
    `Continued at step ${saved}: per_device_train_batch_size 2 → 1, gradient_accumulation_steps 1 → 2`,
  );
  await expect(page.locator('.panel-head').first()).toContainText('batch 1 × 2 accumulated');
  await expect(chip(page)).toHaveText(`saved at step ${saved + 1}`, { timeout: STEP });
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(badge(page)).toHaveText('Stopped', { timeout: STEP });
  const stopped = Number((await trainStatus(page).textContent())!.match(/^step (\d+)/)![1]);
  expect(stopped).toBeGreaterThan(saved);
  await goTo(page, 'Runs');
  await expect(page.getByRole('row').nth(1).locator('.status-cell')).toContainText(`step ${stopped} / ${STEPS}`);
  expect(rec.pageErrors).toEqual([]);
});
