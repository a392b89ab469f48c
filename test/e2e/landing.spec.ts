import { test, expect } from '@playwright/test';

test('the page opens, names the product and reports the WebGPU adapter', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'DPO Studio' })).toBeVisible();
  const status = page.getByRole('status');
  await expect(status).toContainText(/WebGPU adapter: \S+|No WebGPU/, { timeout: 30_000 });
  await page.screenshot({ path: 'test-results/screenshots/landing.png', fullPage: true });
});
