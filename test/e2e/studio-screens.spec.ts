import { expect, test } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { configureSmallRun, cspViolations, fill, goTo, openStudio, screenshots, trainStatus } from './studio';

/**
 * The views a person works through, kept as screenshots (light and dark, 1280×800 and 1366×768):
 * the page as it opens, the model, the settings, and a run in the middle of training.
 */
test.describe.configure({ timeout: 240_000 });

const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));

async function toTop(page: import('@playwright/test').Page): Promise<void> {
  await page.locator('.main').evaluate((main) => main.scrollTo(0, 0));
}

test('the main views, and a run caught while it trains', async ({ page }) => {
  const rec = await openStudio(page);
  await expect(page.getByRole('heading', { name: 'Token lengths' })).toBeVisible({ timeout: 60_000 });
  await screenshots(page, 'start');

  await goTo(page, 'Model');
  await screenshots(page, 'model');

  await goTo(page, 'Dataset');
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  // Long enough to stay in training while the screenshots are taken; stopped afterwards.
  await configureSmallRun(page, { maxSteps: 40, saveSteps: 20 });
  // Four pairs held out, evaluated every second step: the charts carry dashed eval lines.
  await fill(page, 'eval split', '4');
  await fill(page, 'eval steps', '2');
  await toTop(page);
  await screenshots(page, 'configure');

  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(trainStatus(page)).toHaveText(/^step [3-9] \/ 40 · \d+ tokens\/s · ETA /, { timeout: 180_000 });
  await goTo(page, 'Train');
  await toTop(page);
  await screenshots(page, 'training');
  await expect(page.locator('.state-badge')).toHaveText('Training');
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText('Stopped', { timeout: 60_000 });

  // Eval drawn dashed beside the solid training line; hovering shows exact values by step.
  const loss = page.getByRole('figure', { name: 'loss', exact: true });
  await expect(loss.locator('.recharts-line-curve:not([stroke-dasharray])')).toHaveCount(1);
  await expect(loss.locator('.recharts-line-curve[stroke-dasharray="5 4"]')).toHaveCount(1);
  const box = (await loss.locator('svg.recharts-surface[role="application"]').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
  await expect(loss.locator('.recharts-tooltip-wrapper')).toContainText(/step \d+/);
  await expect(loss.locator('.recharts-tooltip-wrapper')).toContainText(/train\s*:\s*-?\d\.\d{5,}/);
  expect(rec.pageErrors).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});
