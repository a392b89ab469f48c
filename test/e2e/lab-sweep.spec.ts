import { expect, test } from '@playwright/test';
import { fill, goTo, openStudio, screenshots, waitForDemo } from './studio';

/** The β sweep end to end: one press, several short runs with the same seed, overlaid and tabulated. */
test.describe.configure({ timeout: 420_000 });

const BETAS = [0.05, 0.1, 0.5];
const STEPS = 3;

test('a β sweep trains one stored run per β and shows how far each drifted from the reference', async ({ page }) => {
  await openStudio(page);
  // Two pairs a step at the demo preset's learning rate; the sweep sets the steps and β itself.
  await goTo(page, 'Configure');
  await fill(page, 'batch size', '2');
  await fill(page, 'learning rate', '0.001');
  await fill(page, 'max steps', '40');
  await expect(page.getByText('Ready to train')).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await nav.getByRole('button', { name: /^Lab/ }).click();
  await page.getByRole('tab', { name: 'β / loss sweep' }).click();

  // The loss-type choice: three common types ticked, a typed β list otherwise.
  await page.getByRole('button', { name: 'loss type' }).click();
  const losses = page.getByRole('group', { name: 'Loss types' }).getByRole('checkbox');
  await expect(losses).toHaveCount(6);
  for (const type of ['sigmoid', 'ipo', 'hinge']) await expect(page.getByRole('checkbox', { name: type, exact: true })).toBeChecked();
  await screenshots(page, 'lab-sweep-setup');
  await page.getByRole('button', { name: 'β', exact: true }).click();
  await page.getByLabel('β values').fill('0.1, x');
  await expect(page.getByText('“x” is not a β > 0')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Run sweep' })).toBeDisabled();

  await page.getByLabel('β values').fill(BETAS.join(', '));
  await page.getByLabel('Steps per run').fill(String(STEPS));
  const configured = await nav.getByRole('button', { name: /^Configure/ }).innerText();
  await page.getByRole('button', { name: 'Run sweep' }).click();
  const table = page.getByRole('table', { name: 'Sweep results' });
  await expect(table.locator('tbody tr')).toHaveCount(BETAS.length);
  // Each run carries its own β: Configure's settings stay as they are while the sweep trains.
  await expect(page.locator('.state-badge')).toHaveText('Training', { timeout: 120_000 });
  expect(await nav.getByRole('button', { name: /^Configure/ }).innerText()).toBe(configured);
  await expect(page.getByRole('heading', { name: `β sweep: ${BETAS.length} of ${BETAS.length} runs finished` })).toBeVisible({
    timeout: 360_000,
  });
  await expect(page.getByRole('button', { name: 'Run sweep' })).toBeEnabled();

  const drifts = await table.locator('td[data-field="drift"]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
  expect(drifts).toHaveLength(BETAS.length);
  for (const d of drifts) expect(Number.isFinite(d)).toBe(true);
  expect(new Set(drifts).size, `drifts ${drifts.join(', ')}`).toBe(BETAS.length);
  // drift = rewards/chosen ÷ β, so each run's shown margin is in its own β units; every run moved.
  const margins = await table
    .locator('td[data-field="margin"]')
    .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
  for (const m of margins) expect(Number.isFinite(m)).toBe(true);
  for (const title of ['drift from the reference (chosen)', 'rewards/margins']) {
    const chart = page.getByRole('figure', { name: title, exact: true });
    await expect(chart).toHaveAttribute('data-points', String(STEPS));
    await chart.scrollIntoViewIfNeeded();
    await expect(chart.locator('.recharts-line-curve')).toHaveCount(BETAS.length);
  }
  await expect(page.getByRole('complementary', { name: 'Rule of thumb' })).toContainText('lower β moves further from the reference');
  await expect(page.getByTestId('sweep-observation')).toBeVisible();

  await page.mouse.move(1, 1);
  await page.locator('#sw-results-title').evaluate((h) => h.scrollIntoView({ block: 'start' }));
  await screenshots(page, 'lab-sweep');

  // The Configure settings are back as they were; the runs are ordinary stored runs.
  await nav.getByRole('button', { name: /^Configure/ }).click();
  await expect(page.getByLabel('max steps', { exact: true })).toHaveValue('40');
  await nav.getByRole('button', { name: /^Runs/ }).click();
  for (const beta of BETAS) await expect(page.getByRole('button', { name: new RegExp(`^Sweep · β ${beta} · sigmoid$`) })).toBeVisible();

  // The sweep's results outlive a reload.
  await page.reload();
  await waitForDemo(page);
  await nav.getByRole('button', { name: /^Lab/ }).click();
  await page.getByRole('tab', { name: 'β / loss sweep' }).click();
  await expect(page.getByRole('heading', { name: `β sweep: ${BETAS.length} of ${BETAS.length} runs finished` })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Sweep results' }).locator('td[data-field="drift"]')).toHaveCount(BETAS.length);
});
