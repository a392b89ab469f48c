import { expect, test, type Page, type Worker } from '@playwright/test';
import { goTo, openStudio, screenshots, waitForDemo } from './studio';

/**
 * The GPU failing while a model loads and while samples are generated: a buffer over the device's
 * limits and a lost device (`device.destroy()`), injected into the worker's real WebGPU device. Each
 * ends the operation within a bounded time with a message naming it (the tensor being uploaded, the
 * generation) and what to change; the model loaded before stays loaded and usable, and after a lost
 * device the page says it must reload, and a reload brings the studio back.
 */
test.describe.configure({ timeout: 300_000 });

/** A failure must end its operation this soon. */
const FAILS_WITHIN = 30_000;

async function trainWorker(page: Page): Promise<Worker> {
  await expect.poll(() => page.workers().some((w) => w.url().includes('train.worker')), { timeout: 30_000 }).toBe(true);
  return page.workers().find((w) => w.url().includes('train.worker'))!;
}

/**
 * At the worker device's next `method` call, the device also breaks: `over-limit` asks it for a buffer
 * larger than its maxBufferSize, `destroy` destroys it.
 */
async function breakDeviceAtNext(worker: Worker, method: 'createBuffer' | 'createBindGroup', how: 'over-limit' | 'destroy'): Promise<void> {
  await worker.evaluate(
    ([method, how]) => {
      const proto = GPUDevice.prototype as unknown as Record<string, (this: GPUDevice, d: unknown) => unknown>;
      const original = proto[method];
      proto[method] = function (this: GPUDevice, descriptor: unknown) {
        proto[method] = original;
        const made = original.call(this, descriptor);
        if (how === 'destroy') this.destroy();
        else this.createBuffer({ size: Math.ceil((this.limits.maxBufferSize + 4) / 4) * 4, usage: GPUBufferUsage.STORAGE });
        return made;
      };
    },
    [method, how] as const,
  );
}

const loadError = (page: Page) => page.locator('.error-text[role="alert"]');

async function loadDemo(page: Page): Promise<number> {
  await goTo(page, 'Model');
  const started = Date.now();
  await page.getByRole('button', { name: 'Load demo model' }).click();
  return started;
}

/** Generates one short sample from the first prompt; returns the error shown, or null when a sample came. */
async function generateOne(page: Page): Promise<string | null> {
  await goTo(page, 'Evaluate & sample');
  const card = page.locator('section[aria-labelledby="samples-heading"]');
  const prompts = card.getByRole('group', { name: 'Prompts from the dataset' }).getByRole('checkbox');
  const count = await prompts.count();
  await prompts.nth(0).check();
  for (let i = 1; i < count; i++) await prompts.nth(i).uncheck();
  await card.getByLabel('max new tokens').fill('3');
  await card.getByRole('button', { name: 'Generate' }).click();
  // Generating clears the last error; in this test no sample precedes a failure, so whichever of the
  // two shows first is the outcome.
  const error = card.locator('.error-text');
  const sample = card.locator('.sample').first();
  await expect(error.or(sample)).toBeVisible({ timeout: FAILS_WITHIN });
  if ((await error.count()) > 0) return error.textContent();
  return null;
}

test('a buffer over the limits or a lost device while loading or generating ends it with a message; the studio goes on', async ({
  page,
}) => {
  const rec = await openStudio(page);
  await waitForDemo(page);
  const worker = await trainWorker(page);

  // 1. A buffer over the limits during the load: the tensor being uploaded is named, the demo model
  //    loaded before stays, and generation with it still works.
  await breakDeviceAtNext(worker, 'createBuffer', 'over-limit');
  let started = await loadDemo(page);
  await expect(loadError(page)).toContainText(
    /^Loading tensor "[\w.]+" \[\d+(, \d+)*\] failed: the GPU rejected a command \(a validation error\) \(.*max buffer size.*\)\. The work asked for more than this device allows \(its limits\): try a smaller model\./i,
    { timeout: FAILS_WITHIN },
  );
  expect(Date.now() - started).toBeLessThan(FAILS_WITHIN);
  await screenshots(page, 'gpu-failure-load');
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await expect(nav.getByRole('button', { name: /Model/ })).toContainText('Demo model');

  // 2. A buffer over the limits in generation's first dispatch: generation ends, and the next works.
  await breakDeviceAtNext(worker, 'createBindGroup', 'over-limit');
  expect(await generateOne(page)).toMatch(
    /^Generation with .* failed: the GPU rejected a command \(a validation error\) \(.*max buffer size.*\)\. .*fewer new tokens/i,
  );
  expect(await generateOne(page)).toBeNull();

  // 3. The device is lost during a load: the load ends, and the page says it must reload, and why.
  await breakDeviceAtNext(worker, 'createBuffer', 'destroy');
  started = await loadDemo(page);
  await expect(loadError(page)).toContainText(/^Loading the model .* failed: the GPU device was lost .*reload the page/, {
    timeout: FAILS_WITHIN,
  });
  expect(Date.now() - started).toBeLessThan(FAILS_WITHIN);
  await expect(page.getByTestId('gpu-lost')).toContainText('reload the page');

  // 4. After the reload the studio has a new device: the demo loads and generates.
  await page.reload();
  await waitForDemo(page);
  expect(await generateOne(page)).toBeNull();
  expect(rec.pageErrors).toEqual([]);
});
