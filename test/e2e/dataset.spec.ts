import { expect, test } from '@playwright/test';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cspViolations, dropFile, fill, goTo, openStudio, savedDownload, screenshots } from './studio';

const FIXTURE = fileURLToPath(new URL('./fixtures/pairs-with-problems.jsonl', import.meta.url));

test('a dropped file keeps its valid rows and lists each broken line with its reason', async ({ page }, testInfo) => {
  const rec = await openStudio(page);
  await dropFile(page, FIXTURE, 'pairs-with-problems.jsonl');
  await expect(page.getByRole('heading', { name: 'pairs-with-problems.jsonl' })).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('5');
  await expect(page.getByTestId('issue-count')).toHaveText('4');
  await expect(page.getByTestId('identical-pairs')).toHaveText('1');
  await expect(page.getByTestId('dataset-format')).toContainText('standard');

  const skipped = page.getByRole('region', { name: 'Rows skipped' }).getByRole('row');
  await expect(skipped).toHaveCount(5); // header + 4
  await expect(skipped.nth(1)).toContainText(/^2\s*—\s*invalid JSON at column 87/);
  await expect(skipped.nth(2)).toContainText('4');
  await expect(skipped.nth(2)).toContainText('rejected');
  await expect(skipped.nth(2)).toContainText('missing field');
  await expect(skipped.nth(3)).toContainText('chosen');
  await expect(skipped.nth(3)).toContainText('must be a string or a list of {role, content} messages, got a number');
  await expect(skipped.nth(4)).toContainText(/^7/);

  // The valid rows are the ones the preview shows, by line.
  const lines = page.getByRole('table', { name: 'Preference pairs' }).locator('.pair-line');
  await expect(lines).toHaveText([/^1/, /^3/, /^5/, /^8/, /^9\s*same/]);
  await expect(page.getByText('BLUE KETTLE!')).toBeVisible();
  // Tokenized with the demo model's tokenizer: lengths and histograms appear.
  await expect(page.getByRole('figure', { name: 'prompt tokens histogram' })).toBeVisible();
  await expect(page.locator('.pair-text .tokens').first()).toHaveText(/\d+ tok/);

  const csv = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Download list (CSV)' }).first().click());
  const text = readFileSync(csv.path, 'utf8');
  expect(text.split('\r\n')[0]).toBe('file,line,field,reason');
  expect(text).toContain('pairs-with-problems.jsonl,4,rejected,missing field');
  expect(text.trim().split('\r\n')).toHaveLength(5);

  await page.evaluate(() => document.querySelector('.main')!.scrollTo(0, 0));
  await screenshots(page, 'dataset-loaded');
  expect(await cspViolations(page)).toEqual([]);
  expect(rec.pageErrors).toEqual([]);
});

test('markup in a dataset row shows as text and runs nothing', async ({ page }) => {
  const rec = await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(FIXTURE);
  await expect(page.getByTestId('valid-rows')).toHaveText('5');
  const table = page.getByRole('table', { name: 'Preference pairs' });
  await expect(table.getByText('<img src=x onerror=alert(1)>!', { exact: true })).toBeVisible();
  await expect(table.getByText('<script>alert(2)</script>', { exact: true })).toBeVisible();
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  await expect(page.locator('#root script')).toHaveCount(0);
  // Also where prompts are offered for sampling.
  await goTo(page, 'Evaluate & sample');
  await expect(
    page.getByRole('group', { name: 'Prompts from the dataset' }).getByText('Shout: <img src=x onerror=alert(1)>'),
  ).toBeVisible();
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(rec.dialogs).toEqual([]);
  expect(rec.pageErrors).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});

test('settings that cannot run are explained next to their field and block Train', async ({ page }) => {
  await openStudio(page);
  const train = page.getByRole('button', { name: 'Train', exact: true });
  await goTo(page, 'Configure');
  await page.getByRole('button', { name: "Use TRL's defaults" }).click();
  // TRL's defaults, with a LoRA learning rate.
  await expect(page.getByLabel('beta', { exact: true })).toHaveValue('0.1');
  await expect(page.getByLabel('loss type', { exact: true })).toHaveValue('sigmoid');
  await expect(page.getByLabel('learning rate', { exact: true })).toHaveValue('0.00005');
  await expect(page.getByLabel('max steps', { exact: true })).toHaveValue('-1');

  const beta = page.getByLabel('beta', { exact: true });
  await beta.fill('-1');
  await expect(page.getByText('beta must be greater than 0')).toBeVisible();
  await expect(beta).toHaveAttribute('aria-invalid', 'true');
  await expect(train).toBeDisabled();
  await beta.fill('abc');
  await expect(page.getByText('beta must be a number')).toBeVisible();
  await expect(train).toBeDisabled();
  await beta.fill('0.5');
  await expect(page.getByText('Ready to train')).toBeVisible();
  await expect(train).toBeEnabled();

  // Every loss type has its one-line explanation; exo_pair needs label smoothing.
  const loss = page.getByLabel('loss type', { exact: true });
  await loss.selectOption('ipo');
  await expect(page.getByText(/^IPO: squared gap/)).toBeVisible();
  await loss.selectOption('exo_pair');
  await expect(page.getByText('exo_pair needs label_smoothing > 0 (e.g. 1e-3)')).toBeVisible();
  await expect(train).toBeDisabled();
  await page.getByLabel('label smoothing', { exact: true }).fill('0.001');
  await expect(train).toBeEnabled();

  const rpo = page.getByLabel('RPO alpha (SFT weight)', { exact: true });
  await rpo.fill('-1');
  await expect(page.getByText('RPO alpha must be ≥ 0 (0 is off)')).toBeVisible();
  await expect(train).toBeDisabled();
  await rpo.fill('0');
  await expect(train).toBeEnabled();

  await page.getByLabel('max length', { exact: true }).fill('100000');
  await expect(page.getByText(/max_length 100000 is longer than the model's \d+ positions/)).toBeVisible();
  await expect(train).toBeDisabled();
});

test('a large file is parsed in the worker with a progress bar while the page stays usable', async ({ page }, testInfo) => {
  const rows = 150_000;
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const word = `item ${i} ${'x'.repeat(i % 40)}`;
    lines.push(JSON.stringify({ prompt: `Shout: ${word}\n`, chosen: `${word.toUpperCase()}!`, rejected: `${word}.` }));
  }
  lines[7] = '{"prompt": "broken';
  const path = testInfo.outputPath('large.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');
  expect(statSync(path).size).toBeGreaterThan(16 * 2 ** 20);

  const rec = await openStudio(page);
  // Every progress label the page shows, as it shows them.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { progressSeen: string[] }).progressSeen = seen;
    new MutationObserver(() => {
      for (const bar of document.querySelectorAll('[role="progressbar"]')) {
        const label = `${bar.getAttribute('aria-label')} @ ${bar.getAttribute('aria-valuenow') ?? '?'}`;
        if (seen[seen.length - 1] !== label) seen.push(label);
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  await page.getByLabel('Preference dataset').setInputFiles(path);
  await expect(page.getByRole('progressbar', { name: /^(reading|parsing) large\.jsonl/ })).toBeVisible();
  // The page answers while the worker parses (staying in Dataset, where the progress bar is drawn).
  const demo = page.getByLabel('Demo dataset');
  const other = (await demo.locator('option').nth(1).getAttribute('value'))!;
  await demo.selectOption(other);
  await expect(demo).toHaveValue(other);
  await expect(page.getByTestId('valid-rows')).toHaveText((rows - 1).toLocaleString('en-US'), { timeout: 60_000 });
  await expect(page.getByRole('region', { name: 'Rows skipped' }).getByRole('row').nth(1)).toContainText(/^8\s*—\s*invalid JSON/);
  const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
  const parsing = seen.filter((s) => s.startsWith('parsing large.jsonl:'));
  expect(parsing.length, seen.join('\n')).toBeGreaterThanOrEqual(2);
  expect(rec.pageErrors).toEqual([]);
});

test('a long list of broken lines is paged and downloads whole', async ({ page }, testInfo) => {
  // 45 lines: every ninth one valid, the rest broken in turn by bad JSON, a missing field and a wrong type.
  const lines = Array.from({ length: 45 }, (_, i) => {
    if (i % 9 === 0) return JSON.stringify({ prompt: `Shout: item ${i}\n`, chosen: `ITEM ${i}!`, rejected: `item ${i}.` });
    if (i % 3 === 0) return `{"prompt": "cut ${i}`;
    if (i % 3 === 1) return JSON.stringify({ prompt: `p ${i}`, chosen: `c ${i}` });
    return JSON.stringify({ prompt: `p ${i}`, chosen: i, rejected: `r ${i}` });
  });
  const path = testInfo.outputPath('many-problems.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');

  await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(path);
  await expect(page.getByTestId('valid-rows')).toHaveText('5');
  await expect(page.getByTestId('issue-count')).toHaveText('40');
  const region = page.getByRole('region', { name: 'Rows skipped' });
  const rows = region.getByRole('row');
  const pager = region.getByRole('navigation', { name: 'rows skipped pages' });
  await expect(rows).toHaveCount(16); // header + a page of 15
  await expect(pager).toContainText('1–15 of 40');
  const firstLine = () => rows.nth(1).getByRole('cell').first();
  await expect(firstLine()).toHaveText('2');
  await pager.getByRole('button', { name: 'next page of rows skipped' }).click();
  await expect(pager).toContainText('16–30 of 40');
  await expect(firstLine()).toHaveText('18');
  await pager.getByRole('button', { name: 'last page of rows skipped' }).click();
  await expect(pager).toContainText('31–40 of 40');
  await expect(rows).toHaveCount(11);
  await expect(rows.nth(10).getByRole('cell').first()).toHaveText('45');

  const csv = await savedDownload(page, testInfo, () => region.getByRole('button', { name: 'Download list (CSV)' }).click());
  const records = readFileSync(csv.path, 'utf8').trim().split('\r\n');
  expect(records).toHaveLength(41);
  expect(records[1]).toMatch(/^many-problems\.jsonl,2,/);
  expect(records[40]).toMatch(/^many-problems\.jsonl,45,/);
});

const FORMATS = fileURLToPath(new URL('../fixtures/data/formats/', import.meta.url));

test('Parquet and CSV files load in the worker with their layout; other files and files without a valid pair are refused, the loaded set kept', async ({
  page,
}) => {
  const rec = await openStudio(page);
  const input = page.getByLabel('Preference dataset');
  await input.setInputFiles(FORMATS + 'shp.parquet');
  await expect(page.getByRole('heading', { name: 'shp.parquet' })).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('2');
  await expect(page.getByTestId('dataset-layout')).toHaveText('SHP');
  // labels 0: B was preferred, so the chosen answer is B's.
  await expect(page.getByText('About nine minutes.')).toBeVisible();
  await screenshots(page, 'dataset-parquet-shp');

  await input.setInputFiles(FORMATS + 'pairs.csv');
  await expect(page.getByRole('heading', { name: 'pairs.csv' })).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('14');
  await expect(page.getByTestId('issue-count')).toHaveText('0');

  await input.setInputFiles({ name: 'pairs.xlsx', mimeType: 'application/octet-stream', buffer: Buffer.from([0x50, 0x4b, 3, 4, 0, 1]) });
  await expect(page.getByRole('alert')).toContainText('pairs.xlsx: .xlsx files are not read. DPO Studio reads JSON Lines');
  await expect(page.getByRole('heading', { name: 'pairs.csv' })).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('14');

  await input.setInputFiles({ name: 'columns.csv', mimeType: 'text/csv', buffer: Buffer.from('question,answer\nQ,A\n') });
  await expect(page.getByRole('alert')).toContainText('columns.csv has no valid pair, so it was not loaded');
  await expect(page.getByRole('alert')).toContainText('unrecognised row');
  await expect(page.getByRole('heading', { name: 'pairs.csv' })).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('14');
  expect(rec.pageErrors).toEqual([]);
});

test('implicit prompts: the page counts prompts cut mid-word, and splitting at the last assistant turn reads the file again', async ({
  page,
}) => {
  const rec = await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(FORMATS + 'hh-rlhf.parquet');
  await expect(page.getByRole('heading', { name: 'hh-rlhf.parquet' })).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('2');
  const split = page.getByLabel('Implicit prompt split');
  await expect(split).toHaveValue('common_prefix');
  const note = page.getByTestId('mid-word-prompts');
  await expect(note).toContainText('1 prompt ends in the middle of a word: where both answers');
  await expect(note).toContainText(/\(line 2: …t\.\s+Assistant: A \| n apple\.\)/);
  // TRL's common prefix: "…Assistant: A" | "n apple." / " chair."
  const pairs = page.getByRole('table', { name: 'Preference pairs' });
  const chosenText = (text: string) => pairs.locator('.pair-text.chosen .text-body').getByText(text, { exact: true });
  await expect(chosenText('n apple.')).toBeVisible();
  await screenshots(page, 'dataset-mid-word');

  await note.getByRole('button', { name: 'Split at the last assistant turn instead' }).click();
  await expect(split).toHaveValue('last_turn');
  await expect(note).toBeHidden();
  await expect(chosenText('An apple.')).toBeVisible();
  await expect(chosenText('It is yellow.')).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('2');

  // Back to TRL's split from the menu.
  await split.selectOption('common_prefix');
  await expect(note).toBeVisible();
  await expect(chosenText('n apple.')).toBeVisible();

  // A split no row survives is refused, and the dataset read before stays.
  await page.getByLabel('Preference dataset').setInputFiles({
    name: 'no-turns.jsonl',
    mimeType: 'application/json',
    buffer: Buffer.from('{"chosen": "The sky is blue.", "rejected": "The sky is green."}\n'),
  });
  await expect(page.getByRole('heading', { name: 'no-turns.jsonl' })).toBeVisible();
  await split.selectOption('last_turn');
  await expect(page.getByRole('alert')).toContainText('no-turns.jsonl has no valid pair, so it was not loaded');
  await expect(page.getByRole('alert')).toContainText('no "Assistant:" turn to split at');
  await expect(split).toHaveValue('common_prefix');
  await expect(page.getByTestId('valid-rows')).toHaveText('1');
  expect(rec.pageErrors).toEqual([]);
});

test('the pairs can be searched, and one pair shown as the model sees it, with the truncation cut marked', async ({ page }) => {
  const rec = await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url)));
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
  const pairs = page.getByRole('table', { name: 'Preference pairs' });
  await page.getByLabel('Search pairs').fill('silver LAMP');
  await expect(page.getByTestId('pair-matches')).toHaveText(/^\d+ pairs? holds? “silver LAMP”$/);
  await expect(pairs.getByRole('row')).toHaveCount(2);
  await expect(pairs).toContainText('SILVER LAMP!');

  await page.getByRole('button', { name: 'Tokens of line 1' }).click();
  const view = page.getByRole('region', { name: 'Line 1 as the model sees it' });
  await expect(view).toBeVisible();
  // The demo tokenizer has a token a character: "SILVER LAMP!" and the end-of-text token.
  await expect(view.getByTestId('tokens-chosen')).toContainText('13 of 13 chosen tokens kept');
  await expect(view.locator('.cut-mark')).toHaveCount(0);

  // A shorter max_length cuts the answers: the view follows, and marks the cut.
  await goTo(page, 'Configure');
  await fill(page, 'max length', '25');
  await goTo(page, 'Dataset');
  await expect(view.getByTestId('tokens-chosen')).toContainText('19 of 19 prompt tokens and 6 of 13 chosen tokens kept');
  await expect(view.getByTestId('tokens-chosen')).not.toContainText('13 of 13');
  await expect(view.locator('.cut-mark')).toHaveCount(2);
  await expect(view.locator('.token.dropped').first()).toBeVisible();
  await view.scrollIntoViewIfNeeded();
  await screenshots(page, 'dataset-pair-tokens');

  await page.getByLabel('Search pairs').fill('');
  await expect(pairs.getByRole('row')).toHaveCount(9);
  await expect(page.getByTestId('pair-matches')).toContainText('Shown as plain text');
  expect(rec.pageErrors).toEqual([]);
});

test('a table with columns of its own is refused with a column picker, and read again with the columns mapped', async ({ page }) => {
  const rec = await openStudio(page);
  const csv = 'id,question,good,bad\n1,Say hi.,hi,go away\n2,"Count to two.","1, 2","2, 1"\n';
  await page.getByLabel('Preference dataset').setInputFiles({ name: 'mine.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await expect(page.getByRole('alert')).toContainText('mine.csv has no valid pair, so it was not loaded');
  const picker = page.getByRole('form', { name: 'Map the columns' });
  await expect(picker.getByLabel('chosen column').locator('option')).toHaveText(['choose a column', 'id', 'question', 'good', 'bad']);
  const read = picker.getByRole('button', { name: 'Read mine.csv with these columns' });
  await expect(read).toBeDisabled();
  await picker.getByLabel('prompt column').selectOption('question');
  await picker.getByLabel('chosen column').selectOption('good');
  await picker.getByLabel('rejected column').selectOption('bad');
  await screenshots(page, 'dataset-column-picker');
  await read.click();
  await expect(page.getByRole('heading', { name: 'mine.csv' })).toBeVisible();
  await expect(page.getByTestId('valid-rows')).toHaveText('2');
  await expect(page.getByTestId('dataset-layout')).toHaveText('column mapping');
  await expect(picker).toBeHidden();
  const pairs = page.getByRole('table', { name: 'Preference pairs' });
  await expect(pairs.locator('.pair-text.chosen .text-body')).toHaveText(['hi', '1, 2']);
  await expect(pairs.locator('.pair-text.rejected .text-body')).toHaveText(['go away', '2, 1']);
  expect(rec.pageErrors).toEqual([]);
});

test('rows with ratings can be kept by their margin; the others are listed as skipped', async ({ page }) => {
  const rec = await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(FORMATS + 'argilla-dpo-mix.parquet');
  await expect(page.getByTestId('valid-rows')).toHaveText('2');
  const filter = page.getByRole('form', { name: 'Rating margin' });
  await expect(filter).toContainText('Keep pairs whose chosen_rating − rejected_rating is at least');
  await filter.getByLabel('Minimum rating margin').fill('3.25');
  await filter.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('valid-rows')).toHaveText('1');
  await expect(page.getByTestId('issue-count')).toHaveText('1');
  await expect(page.getByRole('region', { name: 'Rows skipped' })).toContainText(
    'rating margin 3 (chosen_rating 5 − rejected_rating 2) is below the minimum 3.25',
  );
  await expect(page.getByTestId('rating-filter')).toHaveText('rows below 3.25 are listed under Rows skipped');
  await screenshots(page, 'dataset-rating-margin');
  await filter.getByLabel('Minimum rating margin').fill('');
  await filter.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('valid-rows')).toHaveText('2');
  expect(rec.pageErrors).toEqual([]);
});

test("a first visit trains the demo preset; another dataset switches to TRL's defaults, saying so, with a way back", async ({ page }) => {
  await openStudio(page);
  await goTo(page, 'Configure');
  const note = page.getByTestId('preset-note');
  await expect(note).toContainText('The demo preset');
  await expect(page.getByLabel('learning rate', { exact: true })).toHaveValue('0.001');
  await expect(page.getByLabel('max steps', { exact: true })).toHaveValue('40');
  await expect(page.getByText('40 steps', { exact: true })).toBeVisible();
  await screenshots(page, 'configure-demo-preset');
  // Train on a first visit runs the preset's 40 steps.
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(page.getByRole('status')).toHaveText(/^step \d+ \/ 40/, { timeout: 120_000 });
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText('Stopped', { timeout: 60_000 });

  await goTo(page, 'Dataset');
  await page.getByLabel('Preference dataset').setInputFiles(FORMATS + 'pairs.jsonl');
  await expect(page.getByRole('heading', { level: 2, name: 'pairs.jsonl' })).toBeVisible();
  await goTo(page, 'Configure');
  await expect(note).toContainText("Switched from the demo preset to TRL's defaults when pairs.jsonl loaded");
  await screenshots(page, 'configure-preset-left');
  await expect(page.getByLabel('learning rate', { exact: true })).toHaveValue('0.00005');
  await expect(page.getByLabel('max steps', { exact: true })).toHaveValue('-1');
  await page.getByRole('button', { name: 'Back to the demo preset' }).click();
  await expect(page.getByLabel('learning rate', { exact: true })).toHaveValue('0.001');
  await expect(note).toContainText('The demo preset');
  // Settings the person changed are theirs: another dataset leaves them alone.
  await fill(page, 'beta', '0.2');
  await expect(note).toHaveCount(0);
  await goTo(page, 'Dataset');
  await page.getByLabel('Preference dataset').setInputFiles(FORMATS + 'chat.jsonl');
  await expect(page.getByRole('heading', { level: 2, name: 'chat.jsonl' })).toBeVisible();
  await goTo(page, 'Configure');
  await expect(page.getByLabel('learning rate', { exact: true })).toHaveValue('0.001');
  await expect(page.getByLabel('beta', { exact: true })).toHaveValue('0.2');
});
