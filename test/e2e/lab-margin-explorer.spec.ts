import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { configureSmallRun, goTo, openStudio, screenshots, trainStatus } from './studio';

/** Short pairs (at most 38 tokens with the demo tokenizer) keep SwiftShader's steps quick. */
const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));
const TRAINING = 180_000;

test.describe.configure({ timeout: 300_000 });

async function openExplorer(page: Page): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Lab/ }).click();
  await page.getByRole('tab', { name: 'β / margin explorer' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'β / margin explorer' })).toBeAttached();
}

/** The explorer's table, row by row: line, margin and weight as the page holds them. */
async function tableRows(page: Page): Promise<{ line: number; margin: number; weight: number }[]> {
  const rows = page.getByRole('table', { name: 'Scored pairs by gradient weight' }).locator('tbody tr');
  return rows.evaluateAll((trs) =>
    trs.map((tr) => {
      const values = [...tr.querySelectorAll('td[data-value]')].map((td) => Number(td.getAttribute('data-value')));
      return { line: Number(tr.getAttribute('data-line')), margin: values[0], weight: values[1] };
    }),
  );
}

test('β / margin explorer: curves at a chosen β, the scored pairs on the weight curve, Configure left alone', async ({ page }) => {
  await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  await configureSmallRun(page, { maxSteps: 3, saveSteps: 3, seed: 11 });
  const configuredBeta = await page.getByLabel('beta', { exact: true }).inputValue();

  await openExplorer(page);
  const weightChart = page.getByTestId('mx-chart-weight');
  await expect(weightChart).toHaveAttribute('data-types', 'sigmoid');
  await expect(page.getByLabel('β', { exact: true })).toHaveValue(configuredBeta);
  await page.getByLabel('β', { exact: true }).fill('0.5');
  await page.getByRole('checkbox', { name: 'hinge' }).check();
  await expect(weightChart).toHaveAttribute('data-types', 'sigmoid hinge');
  await expect(weightChart.locator('.recharts-line')).toHaveCount(2);
  await expect(page.getByTestId('mx-chart-loss').locator('.recharts-line')).toHaveCount(2);
  await page.getByLabel('β', { exact: true }).fill('-1');
  await expect(page.getByText(`β must be a number in (0, 100]; showing β ${configuredBeta}`)).toBeVisible();
  await page.getByLabel('β', { exact: true }).fill('0.5');

  // Before any run the policy is the reference: every margin is 0 and every pair weighs β·σ(0) = β/2.
  await page.getByRole('button', { name: 'Score 32 pairs' }).click();
  await expect(weightChart).toHaveAttribute('data-pairs', '32', { timeout: 60_000 });
  const untrained = await tableRows(page);
  expect(untrained).toHaveLength(32);
  for (const r of untrained) {
    expect(r.margin).toBe(0);
    expect(r.weight).toBeCloseTo(0.25, 6);
  }
  await expect(page.getByTestId('mx-dominance')).toHaveText(/the 8 heaviest of 32 pairs carry 25% of the total gradient weight/);
  // The histogram: one bin holds all 32.
  await expect(page.getByTestId('mx-histogram')).toHaveAttribute('data-counts', '32');

  // After a short run the margins spread, and each pair's weight is β·σ(−βΔ) at its own margin.
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(trainStatus(page)).toHaveText('step 3 / 3', { timeout: TRAINING });
  await expect(page.locator('.state-badge')).toHaveText('Finished', { timeout: 30_000 });
  await openExplorer(page);
  // A new run makes the old scores stale: they are gone, and the pairs are scored anew.
  await expect(weightChart).toHaveAttribute('data-pairs', '0');
  await page.getByRole('button', { name: 'Score 32 pairs' }).click();
  await expect(page.getByTestId('mx-pairs-source')).toContainText('scored with', { timeout: 60_000 });
  // The policy is named as the Runs table names the run, not by its id.
  await expect(page.getByTestId('mx-pairs-source')).toContainText(/scored with “[^”]+” at step 3/);
  await expect(page.getByTestId('mx-pairs-source')).not.toContainText(/[0-9a-f]{8}-[0-9a-f]{4}-/);
  await expect
    .poll(async () => (await tableRows(page)).some((r) => r.margin !== 0), { timeout: 60_000, message: 'margins move after training' })
    .toBe(true);
  await page.getByLabel('β', { exact: true }).fill('0.5');
  const trained = await tableRows(page);
  expect(trained).toHaveLength(32);
  for (const r of trained) expect(r.weight, `line ${r.line}`).toBeCloseTo(0.5 / (1 + Math.exp(0.5 * r.margin)), 6);
  const counts = (await page.getByTestId('mx-histogram').getAttribute('data-counts'))!.split(' ').map(Number);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(32);
  // Sorted by weight, heaviest first; then by margin, smallest first.
  const weights = trained.map((r) => r.weight);
  expect(weights).toEqual([...weights].sort((a, b) => b - a));
  await page.getByRole('button', { name: 'margin Δ' }).click();
  await expect(page.getByRole('columnheader', { name: 'margin Δ' })).toHaveAttribute('aria-sort', 'ascending');
  const margins = (await tableRows(page)).map((r) => r.margin);
  expect(margins).toEqual([...margins].sort((a, b) => a - b));

  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const result = await new AxeBuilder({ page }).include('[role="tabpanel"]').analyze();
    expect(result.violations.map((v) => `${scheme} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.getByRole('checkbox', { name: 'ipo' }).check();
  await page.getByRole('checkbox', { name: 'nca_pair' }).check();
  await expect(weightChart).toHaveAttribute('data-types', 'sigmoid ipo nca_pair');
  await page.getByRole('checkbox', { name: 'Scale each curve to its largest value' }).check();
  await expect(weightChart).toHaveAttribute('data-scaled', 'true');
  await page.getByRole('tab', { name: 'β / margin explorer' }).scrollIntoViewIfNeeded();
  await screenshots(page, 'lab-margin-explorer');
  await page.getByRole('table', { name: 'Scored pairs by gradient weight' }).scrollIntoViewIfNeeded();
  await screenshots(page, 'lab-margin-explorer-pairs');

  // Nothing here changed Configure.
  await goTo(page, 'Configure');
  await expect(page.getByLabel('beta', { exact: true })).toHaveValue(configuredBeta);
});
