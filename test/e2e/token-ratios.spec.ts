import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { configureSmallRun, fill, goTo, openStudio, screenshots, trainStatus } from './studio';

const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));
const STEPS = 4;

/** Every token's log-ratio and how it is drawn: its class and its background colour's red and blue. */
async function drawnTokens(page: Page) {
  return page
    .getByTestId('token-ratios')
    .locator('.tr-token')
    .evaluateAll((spans) =>
      spans.map((s) => {
        const [r, , b] = (getComputedStyle(s).backgroundColor.match(/[\d.]+/g) ?? []).map(Number);
        return { ratio: Number(s.getAttribute('data-ratio')), cls: s.className, red: r ?? 0, blue: b ?? 0 };
      }),
    );
}

test('the token view: nothing moved before training; it follows a run at each logging step; colours follow the sign', async ({ page }) => {
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 1280, height: 800 });
  await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  await configureSmallRun(page, { maxSteps: STEPS, saveSteps: 100 });
  await fill(page, 'learning rate', '0.001');

  // Before any run the policy is the base model: no token moved.
  await goTo(page, 'Evaluate & sample');
  await page.getByRole('button', { name: 'Score pairs' }).click();
  const scores = page.getByRole('table', { name: 'Pair log-probs' });
  await expect(scores.locator('td[data-value]').first()).toBeVisible({ timeout: 60_000 });
  const firstLine = Number(await scores.locator('tbody tr').first().locator('td').first().textContent());
  await page.getByRole('button', { name: `Token log-ratios of line ${firstLine}` }).click();
  await expect(page.getByTestId('token-ratios')).toHaveAttribute('data-line', String(firstLine));
  await expect(page.getByTestId('token-ratios')).toContainText('No token moved');
  expect((await drawnTokens(page)).every((t) => t.ratio === 0 && t.cls.includes('tr-none'))).toBe(true);

  // Asked for while the run trains, the view arrives at the next logging step, under the run's adapter.
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText(/Preparing|Training/);
  await goTo(page, 'Evaluate & sample');
  await page.getByRole('button', { name: 'Show tokens' }).click();
  await expect(page.getByTestId('token-ratios-policy')).toHaveText(/^“Run 1 [^”]*” at step \d+$/, { timeout: 180_000 });
  await expect(trainStatus(page)).toHaveText(`step ${STEPS} / ${STEPS}`, { timeout: 180_000 });
  await expect(page.getByTestId('token-ratios-policy')).toHaveText(/at step 4$/, { timeout: 30_000 });

  // After the run: score again, open the worst pair; each token is coloured by its log-ratio's sign.
  await page.getByRole('button', { name: 'Score pairs' }).click();
  await expect(page.getByTestId('scored-policy')).toHaveText(/^“Run 1 [^”]*” at step 4$/, { timeout: 60_000 });
  await page.getByRole('button', { name: 'Worst pair' }).click();
  const view = page.getByTestId('token-ratios');
  await expect(view).not.toContainText('No token moved');
  const tokens = await drawnTokens(page);
  expect(tokens.length).toBeGreaterThan(0);
  expect(tokens.some((t) => t.ratio !== 0)).toBe(true);
  for (const t of tokens) {
    if (Math.abs(t.ratio) < 1e-5) {
      expect(t.cls).toContain('tr-none');
    } else if (t.ratio > 0) {
      expect(t.cls, `token with log-ratio ${t.ratio}`).toContain('tr-up');
      expect(t.blue, `token with log-ratio ${t.ratio}: blue`).toBeGreaterThan(t.red);
    } else {
      expect(t.cls, `token with log-ratio ${t.ratio}`).toContain('tr-down');
      expect(t.red, `token with log-ratio ${t.ratio}: vermillion`).toBeGreaterThan(t.blue);
    }
  }
  // The chosen side's summed log-ratio is the scored pair's policy − reference log-prob.
  const line = Number(await view.getAttribute('data-line'));
  const row = scores.locator('tbody tr').filter({ has: page.getByRole('button', { name: `Token log-ratios of line ${line}` }) });
  const cells = await row.locator('td').allTextContents();
  const [, policyChosen, , referenceChosen] = cells.map(Number);
  const chosenSum = tokens
    .slice(0, (await view.locator('.tr-side').first().locator('.tr-token').count()) || 0)
    .reduce((a, t) => a + t.ratio, 0);
  expect(Math.abs(chosenSum - (policyChosen - referenceChosen))).toBeLessThan(1e-3 * Math.max(1, Math.abs(policyChosen)));
  await expect(page.getByRole('table', { name: 'Largest movers' }).locator('tbody tr')).not.toHaveCount(0);

  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const found = await new AxeBuilder({ page }).include('main').analyze();
    expect(found.violations.map((v) => `${scheme} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
  }
  await view.scrollIntoViewIfNeeded();
  await screenshots(page, 'token-ratios');
});
