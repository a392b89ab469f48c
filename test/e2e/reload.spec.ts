import { expect, test } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { configureSmallRun, fill, goTo, openStudio, trainStatus, waitForDemo } from './studio';

const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));

test('a reload opens on the run the Train view showed, the dataset that was loaded and the settings as they were', async ({ page }) => {
  test.setTimeout(240_000);
  await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  await configureSmallRun(page, { maxSteps: 2, saveSteps: 100 });
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(trainStatus(page)).toHaveText('step 2 / 2', { timeout: 180_000 });
  await expect(page.locator('.state-badge')).toHaveText('Finished', { timeout: 30_000 });
  // Settings changed after the run are the person's: the reload keeps them, not the run's.
  await goTo(page, 'Configure');
  await fill(page, 'beta', '0.3');
  const nav = page.getByRole('navigation', { name: 'Sections' });

  await page.reload();
  await waitForDemo(page);
  await expect(nav.getByRole('button', { name: /^Dataset/ })).toContainText('48 pairs · shout-whisper.jsonl');
  await expect(nav.getByRole('button', { name: /^Configure/ })).toContainText('β 0.3');
  await goTo(page, 'Train');
  await expect(page.locator('.panel-head').first()).toContainText('Run 1 · sigmoid · β 0.1');
  await expect(page.locator('.state-badge')).toHaveText('Finished');
  await expect(trainStatus(page)).toHaveText('step 2 / 2');
  await expect(page.getByRole('figure', { name: 'loss', exact: true })).toHaveAttribute('data-points', '2');
});
