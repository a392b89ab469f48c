import { expect, test, type Locator, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { checkAnswer } from '../../src/core/demo/colors';
import { openStudio, savedDownload, screenshots } from './studio';

const PROMPTS = 6;
const K = 4;
const SAMPLING = 600_000;

test.describe.configure({ timeout: 900_000 });

interface Pair {
  prompt: { role: string; content: string }[];
  chosen: { role: string; content: string }[];
  rejected: { role: string; content: string }[];
}

async function openMakePairs(page: Page): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Lab/ }).click();
  await page.getByRole('tab', { name: 'Make pairs' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Make pairs' })).toBeVisible();
}

/** The answer texts of one prompt's group, in order ('' for an answer shown as a whitespace note). */
function answerTexts(group: Locator): Promise<string[]> {
  return group.locator('tbody .answer-text').evaluateAll((spans) => spans.map((s) => (s.hasAttribute('data-note') ? '' : s.textContent!)));
}

test('make pairs: sample k answers per prompt, rank with the checker, overrule it by hand, save and load as the dataset', async ({
  page,
}, testInfo) => {
  await openStudio(page);
  await openMakePairs(page);
  await page.getByLabel('number of dataset prompts').fill(String(PROMPTS));
  await expect(page.getByLabel('answers per prompt')).toHaveValue(String(K));
  await expect(page.getByLabel('temperature')).toHaveValue('1.0');
  await page.getByLabel('max new tokens').fill('10');
  await page.getByRole('button', { name: 'Sample answers' }).click();
  await expect(page.locator('.lab-make-pairs').getByRole('progressbar')).toBeVisible();
  await expect(page.getByRole('heading', { level: 2, name: `${PROMPTS} prompts × ${K} answers` })).toBeVisible({ timeout: SAMPLING });

  const groups = page.locator('fieldset.mp-prompt');
  await expect(groups).toHaveCount(PROMPTS);
  const prompts: string[] = [];
  for (let i = 0; i < PROMPTS; i++) {
    const group = groups.nth(i);
    prompts.push((await group.locator('legend').textContent())!.replace(/^\d+\s*/, ''));
    await expect(group.getByRole('radio', { name: /is the best$/ })).toHaveCount(K);
    await expect(group.getByRole('radio', { name: /is the worst$/ })).toHaveCount(K);
    await expect(group.locator('.grade-mark')).toHaveCount(K);
  }
  await expect(page.getByTestId('made-pairs')).toHaveAttribute('data-count', '0');

  // The checker: in every prompt it pairs, best is a preferred answer and worst is not.
  await page.getByRole('button', { name: 'Rank with checker' }).click();
  const report = (await page.locator('.mp-checker').textContent())!;
  const paired = Number(report.match(/paired (\d+) of (\d+) prompts/)![1]);
  expect(report).toContain(`of ${PROMPTS} prompts`);
  await expect(page.getByTestId('made-pairs')).toHaveAttribute('data-count', String(paired));
  const checkerPrompts = new Set<string>();
  for (let i = 0; i < PROMPTS; i++) {
    const group = groups.nth(i);
    const best = group.locator('tr.best');
    if ((await best.count()) === 0) {
      await expect(group.locator('.mp-skip')).toContainText('No pair from the checker');
      continue;
    }
    checkerPrompts.add(prompts[i]);
    await expect(best.locator('.grade-mark')).toHaveAttribute('data-preferred', 'true');
    await expect(group.locator('tr.worst .grade-mark')).toHaveAttribute('data-preferred', 'false');
    await expect(best.getByRole('radio', { name: /is the best$/ })).toBeChecked();
  }
  expect(checkerPrompts.size).toBe(paired);
  expect(paired, 'the demo model should give both kinds of answer to some prompts').toBeGreaterThan(0);
  await page.getByRole('heading', { level: 2, name: `${PROMPTS} prompts × ${K} answers` }).scrollIntoViewIfNeeded();
  await screenshots(page, 'lab-make-pairs');

  // By hand: overrule the checker on the first prompt it paired, picking its rejected as best and its chosen as worst.
  const overruled = [...Array(PROMPTS).keys()].find((i) => checkerPrompts.has(prompts[i]))!;
  const group = groups.nth(overruled);
  const texts = await answerTexts(group);
  const rowClasses = await group.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.className));
  const [best, worst] = [rowClasses.indexOf('best'), rowClasses.indexOf('worst')];
  await group.getByRole('radio', { name: `answer ${worst + 1} is the best` }).check();
  await group.getByRole('radio', { name: `answer ${best + 1} is the worst` }).check();
  await expect(group.locator('tr.best .grade-mark')).toHaveAttribute('data-preferred', 'false');
  const hand = { prompt: prompts[overruled], chosen: texts[worst], rejected: texts[best] };
  const total = paired;
  await expect(page.getByTestId('made-pairs')).toHaveAttribute('data-count', String(total));

  // The file: conversational pairs; the checker's chosen pass the checker and their rejected do not; the overruled pair is reversed.
  const file = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Download JSONL' }).click());
  expect(file.name).toBe('made-pairs.jsonl');
  const pairs = readFileSync(file.path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Pair);
  expect(pairs).toHaveLength(total);
  for (const pair of pairs) {
    expect(pair.prompt).toHaveLength(1);
    expect(pair.prompt[0].role).toBe('user');
    expect(pair.chosen[0].role).toBe('assistant');
    const prompt = pair.prompt[0].content;
    if (prompt === hand.prompt) {
      expect([pair.chosen[0].content.trim(), pair.rejected[0].content.trim()]).toEqual([hand.chosen.trim(), hand.rejected.trim()]);
      expect(checkAnswer(prompt, pair.chosen[0].content)).toBe(false);
      continue;
    }
    expect(checkerPrompts.has(prompt)).toBe(true);
    expect(checkAnswer(prompt, pair.chosen[0].content), `chosen ${JSON.stringify(pair.chosen[0].content)}`).toBe(true);
    expect(checkAnswer(prompt, pair.rejected[0].content), `rejected ${JSON.stringify(pair.rejected[0].content)}`).toBe(false);
  }

  // Use as dataset: the pairs become the current dataset.
  await page.getByRole('button', { name: 'Use as dataset' }).click();
  await expect(page.locator('.mp-loaded')).toContainText(`made-pairs.jsonl, ${total} pairs`, { timeout: 60_000 });
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await expect(nav.getByRole('button', { name: /Dataset/ })).toContainText(`${total} pairs · made-pairs.jsonl`);
  await page.locator('.mp-loaded').getByRole('button', { name: 'See it in Dataset' }).click();
  await expect(page.getByTestId('valid-rows')).toHaveText(String(total));
});
