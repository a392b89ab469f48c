import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { openStudio } from './studio';

const FORMATS = fileURLToPath(new URL('../fixtures/data/formats/', import.meta.url));

/** axe's findings on the Dataset view, in both themes, as "rule: target" lines. */
async function violations(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(250);
    const result = await new AxeBuilder({ page }).include('main').analyze();
    for (const v of result.violations) for (const n of v.nodes) found.push(`${scheme} ${v.id}: ${n.target.join(' ')} (${v.help})`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

test('the Dataset view passes axe in both themes: loaded, mid-word note, token view, column picker, rating filter', async ({ page }) => {
  await openStudio(page);
  const input = page.getByLabel('Preference dataset');
  await input.setInputFiles(FORMATS + 'hh-rlhf.parquet');
  await expect(page.getByTestId('mid-word-prompts')).toBeVisible();
  await page.getByRole('button', { name: 'Tokens of line 1' }).click();
  await expect(page.getByRole('region', { name: 'Line 1 as the model sees it' })).toBeVisible();
  expect(await violations(page)).toEqual([]);

  await input.setInputFiles(FORMATS + 'argilla-dpo-mix.parquet');
  await expect(page.getByRole('form', { name: 'Rating margin' })).toBeVisible();
  await page.getByLabel('Search pairs').fill('add');
  await expect(page.getByTestId('pair-matches')).toContainText('“add”');
  expect(await violations(page)).toEqual([]);

  await input.setInputFiles({ name: 'mine.csv', mimeType: 'text/csv', buffer: Buffer.from('q,a,b\nx,y,z\n') });
  await expect(page.getByRole('form', { name: 'Map the columns' })).toBeVisible();
  expect(await violations(page)).toEqual([]);
});
