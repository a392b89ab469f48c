import { expect, test } from '@playwright/test';
import { CHARTS } from '../../src/app/metrics';
import { cspViolations, goTo, openStudio, outsideRequests, screenshots, trainStatus } from './studio';

test('the studio opens ready: demo model and dataset loaded, the WebGPU adapter named, nothing trained yet', async ({ page, baseURL }) => {
  const rec = await openStudio(page);
  await expect(page.getByRole('heading', { level: 1, name: 'DPO Studio' })).toBeVisible();
  await expect(page.locator('.header .chip')).toHaveText(/^WebGPU · \S+/);
  await expect(trainStatus(page)).toHaveText('No run yet');
  await expect(page.getByRole('button', { name: 'Train', exact: true })).toBeEnabled();
  for (const name of ['Pause', 'Resume', 'Stop']) await expect(page.getByRole('button', { name, exact: true })).toBeDisabled();

  await goTo(page, 'Model');
  await expect(page.getByRole('heading', { level: 2, name: 'Demo model' })).toBeVisible();
  await expect(page.getByTestId('model-parameters')).toHaveText(/^[\d.]+[KM]?$/);
  await expect(page.getByTestId('memory-estimate')).toHaveText(/^\d+(\.\d)? [KMG]?B$/);
  await expect(page.getByText(/^Training runs on WebGPU/)).toBeVisible();

  await goTo(page, 'Train');
  await expect(page.getByText('No points yet')).toHaveCount(CHARTS.length);
  await screenshots(page, 'empty');
  expect(outsideRequests(rec, baseURL!)).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
  expect(rec.pageErrors).toEqual([]);
});
