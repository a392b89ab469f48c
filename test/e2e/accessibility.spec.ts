import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { configureSmallRun, goTo, openStudio, screenshots, trainStatus } from './studio';

const FORMATS = fileURLToPath(new URL('../fixtures/data/formats/', import.meta.url));
const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));

/** axe's findings on the page (or within `scope`), in both themes, as "theme rule: target (help)" lines. */
async function violations(page: Page, scope?: string): Promise<string[]> {
  const found: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(250);
    const builder = new AxeBuilder({ page });
    const result = await (scope ? builder.include(scope) : builder).analyze();
    for (const v of result.violations) for (const n of v.nodes) found.push(`${scheme} ${v.id}: ${n.target.join(' ')} (${v.help})`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

test('every section and Lab tab as a first visit finds it passes axe in both themes', async ({ page }) => {
  await openStudio(page);
  const found: string[] = [];
  for (const section of ['Dataset', 'Model', 'Configure', 'Train', 'Runs', 'Evaluate & sample', 'Export'] as const) {
    await goTo(page, section);
    found.push(...(await violations(page)).map((v) => `${section}: ${v}`));
  }
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Lab/ }).click();
  for (const tab of await page.getByRole('tab').all()) {
    await tab.click();
    await expect(tab).toHaveAttribute('aria-selected', 'true');
    const name = await tab.innerText();
    found.push(...(await violations(page)).map((v) => `Lab ${name}: ${v}`));
  }
  expect(found).toEqual([]);
});

test('the Dataset view passes axe in both themes: loaded, mid-word note, token view, column picker, rating filter', async ({ page }) => {
  await openStudio(page);
  const input = page.getByLabel('Preference dataset');
  await input.setInputFiles(FORMATS + 'hh-rlhf.parquet');
  await expect(page.getByTestId('mid-word-prompts')).toBeVisible();
  await page.getByRole('button', { name: 'Tokens of line 1' }).click();
  await expect(page.getByRole('region', { name: 'Line 1 as the model sees it' })).toBeVisible();
  expect(await violations(page, 'main')).toEqual([]);

  await input.setInputFiles(FORMATS + 'argilla-dpo-mix.parquet');
  await expect(page.getByRole('form', { name: 'Rating margin' })).toBeVisible();
  await page.getByLabel('Search pairs').fill('add');
  await expect(page.getByTestId('pair-matches')).toContainText('“add”');
  expect(await violations(page, 'main')).toEqual([]);

  await input.setInputFiles({ name: 'mine.csv', mimeType: 'text/csv', buffer: Buffer.from('q,a,b\nx,y,z\n') });
  await expect(page.getByRole('form', { name: 'Map the columns' })).toBeVisible();
  expect(await violations(page, 'main')).toEqual([]);
});

test('keyboard: a skip link leads to the section, and choosing a section moves focus to it', async ({ page }) => {
  await openStudio(page);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to the section' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await screenshots(page, 'skip-link');
  await page.keyboard.press('Enter');
  await expect(page.locator('#main')).toBeFocused();
  await page
    .getByRole('navigation', { name: 'Sections' })
    .getByRole('button', { name: /^Configure/ })
    .focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 2, name: 'Configure', exact: true })).toBeVisible();
  await expect(page.locator('#main')).toBeFocused();
  await expect(page.locator('#main')).toContainText('Configure');
});

test('keyboard: the Lab tabs follow the tabs pattern, and the charts carry their names', async ({ page }) => {
  await openStudio(page);
  // The histograms' surfaces (tab stops whose arrow keys move between bins) are named.
  for (const part of ['prompt', 'chosen', 'rejected']) {
    await expect(page.getByRole('application', { name: `${part} tokens histogram` })).toBeVisible();
  }
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Lab/ }).click();
  const tabs = page.getByRole('tablist', { name: 'Lab experiments' });
  const tab = (name: string) => tabs.getByRole('tab', { name });
  await tab('Corruption exercise').focus();
  const expectChosen = async (name: string) => {
    await expect(tab(name)).toBeFocused();
    await expect(tab(name)).toHaveAttribute('aria-selected', 'true');
    // One tab stop: the chosen tab.
    await expect(tabs.locator('[role="tab"][tabindex="0"]')).toHaveCount(1);
    await expect(tab(name)).toHaveAttribute('tabindex', '0');
    await expect(page.getByRole('tabpanel', { name })).toBeVisible();
  };
  await page.keyboard.press('ArrowRight');
  await expectChosen('β / loss sweep');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await expectChosen('Make pairs');
  await page.keyboard.press('Home');
  await expectChosen('Corruption exercise');
  await page.keyboard.press('End');
  await expectChosen('Make pairs');
  await page.keyboard.press('ArrowRight');
  await expectChosen('Corruption exercise');
});

test('after a run, the Train view with every chart group, the compared runs and the scored pairs pass axe in both themes', async ({
  page,
}) => {
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 1280, height: 800 });
  await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  await configureSmallRun(page, { maxSteps: 3, saveSteps: 100 });
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(trainStatus(page)).toHaveText('step 3 / 3', { timeout: 180_000 });
  await expect(page.locator('.state-badge')).toHaveText('Finished', { timeout: 30_000 });
  const found: string[] = [];
  await goTo(page, 'Train');
  for (const group of ['Rewards', 'Tokens', 'Optimizer', 'Speed and memory']) {
    await expect(page.getByRole('region', { name: group })).toBeVisible();
  }
  await expect(page.getByRole('figure', { name: 'entropy', exact: true })).toHaveAttribute('data-points', '3');
  found.push(...(await violations(page)).map((v) => `Train: ${v}`));
  await page.screenshot({ path: 'test-results/screenshots/train-finished-full.png', fullPage: true });

  await goTo(page, 'Runs');
  await page.getByLabel(/^Compare Run 1 /).check();
  await expect(page.getByRole('heading', { name: 'Comparing 1 run' })).toBeVisible();
  found.push(...(await violations(page)).map((v) => `Runs: ${v}`));

  await goTo(page, 'Evaluate & sample');
  await page.getByRole('button', { name: 'Score pairs' }).click();
  await expect(page.getByRole('table', { name: 'Pair log-probs' }).locator('td[data-value]').first()).toBeVisible({ timeout: 60_000 });
  found.push(...(await violations(page)).map((v) => `Evaluate: ${v}`));

  await goTo(page, 'Export');
  found.push(...(await violations(page)).map((v) => `Export: ${v}`));
  expect(found).toEqual([]);
});
