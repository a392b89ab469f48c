import { expect, test } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/chromium';
import { configureSmallRun, cspViolations, goTo, openStudio, screenshots, trainStatus } from './studio';

/** A browser without WebGPU: Chromium as it starts without the flag that turns WebGPU on here. */
test.use({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu') } });
test.describe.configure({ timeout: 240_000 });

const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));

test('without WebGPU the studio says so plainly and trains on WebAssembly', async ({ page }) => {
  const rec = await openStudio(page);
  expect(await page.evaluate(async () => !!(await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter()))).toBe(false);
  await expect(page.locator('.header .chip')).toHaveText('WebAssembly · no WebGPU');
  // Cross-origin isolated (the server's headers), so tfjs's WebAssembly backend runs on threads.
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  // tfjs's WebAssembly backend takes a thread per two logical cores, from 1 to 8.
  const threads = await page.evaluate(() => Math.min(8, Math.max(1, Math.floor(navigator.hardwareConcurrency / 2))));
  const name = `WebAssembly (SIMD, ${threads === 1 ? 'one thread' : `${threads} threads`})`;
  await expect(page.locator('.header .chip')).toHaveAttribute('title', name);
  // Said at once, wherever the person is, and again first thing in Model.
  await expect(page.locator('.notice')).toContainText(
    `No WebGPU in this browser, so training runs on ${name}: the same numbers, only slower.`,
  );

  await goTo(page, 'Model');
  const compute = page.getByRole('region', { name: 'Compute' });
  await expect(page.locator('.main .card').first()).toHaveAttribute('aria-labelledby', 'engine-heading');
  await expect(page.getByTestId('memory-estimate').locator('xpath=..')).toContainText(/^Estimated memory for training/);
  await expect(compute).toContainText('No WebGPU here.');
  await expect(compute).toContainText(`Training still works on ${name}: the same numbers, only slower.`);
  await expect(compute.getByRole('button', { name: 'Use WebGPU' })).toHaveCount(0);
  await page.locator('.main').evaluate((main) => main.scrollTo(0, 0));
  await screenshots(page, 'no-webgpu');

  // And it trains there.
  await goTo(page, 'Dataset');
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  await configureSmallRun(page, { maxSteps: 2, saveSteps: 2 });
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(trainStatus(page)).toHaveText('step 2 / 2', { timeout: 180_000 });
  await expect(page.locator('.state-badge')).toHaveText('Finished', { timeout: 30_000 });
  await goTo(page, 'Train');
  await expect(page.getByRole('figure', { name: 'loss', exact: true })).toHaveAttribute('data-points', '2');
  expect(rec.pageErrors).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});
