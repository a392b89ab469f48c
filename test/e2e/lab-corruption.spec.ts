import { expect, test, type Locator, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { openStudio, savedDownload, screenshots, waitForDemo } from './studio';

/**
 * The corruption exercise end to end on the demo model: a clean run, the same pairs with
 * rejected := chosen, the same run again, and the per-pair slopes and gradients. Runs are a few
 * steps of two pairs so SwiftShader gets through them.
 */
test.describe.configure({ mode: 'serial', timeout: 420_000 });

const LN2 = Math.log(2);
const STEPS = 3;
const BETA = 0.1;

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await openStudio(page);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Lab/ }).click();
  await expect(page.getByRole('tab', { name: 'Corruption exercise' })).toHaveAttribute('aria-selected', 'true');
});

test.afterAll(async () => {
  await page?.close();
});

async function runExercise(fraction: string): Promise<void> {
  await page.getByLabel('Corrupted pairs').selectOption({ label: fraction });
  await page.getByLabel('Steps', { exact: true }).fill(String(STEPS));
  await page.getByLabel('Batch size', { exact: true }).fill('2');
  await page.getByRole('button', { name: 'Run the exercise' }).click();
  const steps = page.getByRole('list', { name: 'Exercise steps' }).getByRole('listitem');
  await expect(steps.nth(3)).toHaveAttribute('data-status', 'done', { timeout: 360_000 });
  await expect(page.locator('.error-text')).toHaveCount(0);
}

/** Logged values of one run, from the table behind the charts. */
async function logged(run: 'clean' | 'corrupted'): Promise<Record<string, number>[]> {
  const details = page.locator('details.cx-numbers');
  if (!(await details.evaluate((d: HTMLDetailsElement) => d.open))) await details.locator('summary').click();
  const rows = page.getByRole('table', { name: 'Logged steps' }).locator(`tr[data-run="${run}"]`);
  return rows.evaluateAll((trs) =>
    trs.map((tr) =>
      Object.fromEntries(
        [...tr.querySelectorAll('td[data-key]')].map((td) => [td.getAttribute('data-key'), Number(td.getAttribute('data-value'))]),
      ),
    ),
  );
}

async function values(rows: Locator, field: string): Promise<number[]> {
  return rows.locator(`td[data-field="${field}"]`).evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
}

/** What the person set up, as the sidebar shows it: the loaded dataset and Configure's settings. */
async function setup(): Promise<string[]> {
  const nav = page.getByRole('navigation', { name: 'Sections' });
  return [
    await nav.getByRole('button', { name: /^Dataset/ }).innerText(),
    await nav.getByRole('button', { name: /^Configure/ }).innerText(),
  ];
}

test('all pairs corrupted: loss pinned at ln 2, zero margins, accuracy and grad_norm; slope β/2 with zero gradient per corrupted pair', async ({}, testInfo) => {
  const before = await setup();
  await runExercise('all pairs (100%)');
  // The runs carried their own settings and pairs: the loaded dataset and Configure are as they were.
  expect(await setup()).toEqual(before);

  const corrupted = await logged('corrupted');
  expect(corrupted).toHaveLength(STEPS);
  for (const [i, e] of corrupted.entries()) {
    expect(Math.abs(e.loss - LN2), `loss at step ${i + 1}: ${e.loss}`).toBeLessThanOrEqual(1e-4);
    expect(e.grad_norm, `grad_norm at step ${i + 1}`).toBeLessThanOrEqual(1e-6);
    expect(e['rewards/margins'], `margins at step ${i + 1}`).toBe(0);
    expect(e['rewards/accuracies'], `accuracy at step ${i + 1}`).toBe(0);
  }
  const clean = await logged('clean');
  expect(clean).toHaveLength(STEPS);
  // The clean run gets a gradient from the first step: the corrupted run's zeros are not the model's.
  for (const e of clean) expect(e.grad_norm).toBeGreaterThan(1e-4);

  const explain = page.getByRole('complementary', { name: 'What the runs show' });
  await expect(explain.locator('.cx-check.ok')).toHaveCount(4);

  const table = page.getByRole('table', { name: 'Per-pair slope and gradient' });
  const bad = table.locator('tbody tr[data-kind="corrupted"]');
  const good = table.locator('tbody tr[data-kind="clean"]');
  await expect(bad).toHaveCount(4);
  await expect(good).toHaveCount(4);
  for (const g of await values(bad, 'grad')) expect(g).toBe(0);
  for (const s of await values(bad, 'slope')) expect(Math.abs(s - BETA / 2)).toBeLessThanOrEqual(1e-6);
  for (const g of await values(good, 'grad')) expect(g).toBeGreaterThan(1e-6);
  // The corrupted run hardly moved the adapter (AdamW turns its ~1e-7 rounding gradients into tiny steps), so
  // the clean originals sit near Δ = 0: nearly the same slope as their corrupted twins, yet a gradient.
  for (const s of await values(good, 'slope')) expect(Math.abs(s - BETA / 2)).toBeLessThanOrEqual(1e-3 * BETA);

  await page.mouse.move(1, 1);
  await page.locator('#cx-runs-title').evaluate((h) => h.scrollIntoView({ block: 'start' }));
  await screenshots(page, 'lab-corruption');
  await page.locator('#cx-pairs-title').evaluate((h) => h.scrollIntoView({ block: 'start' }));
  await screenshots(page, 'lab-corruption-pairs');
  await page.locator('.main').evaluate((main) => main.scrollTo(0, 0));
  await screenshots(page, 'lab-corruption-setup');

  const report = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Download report' }).click());
  expect(report.name).toBe('dpo-corruption-report.md');
  const text = readFileSync(report.path, 'utf8');
  expect(text).toContain('## Setup');
  expect(text).toContain('rejected := chosen on 288 of 288 pairs (100%');
  expect(text).toMatch(new RegExp(`\\| Steps \\| ${STEPS} of batch 2 \\|`));
  expect(text).toMatch(/\| final loss \| [\d.]+ \| 0\.693147 \|/);
  const gradRange = text.match(/\| grad_norm min – max \| ([\d.e-]+) – ([\d.e-]+) \| ([\d.e-]+) – ([\d.e-]+) \|/);
  expect(gradRange, 'the grad_norm row of the report').not.toBeNull();
  expect(Number(gradRange![2])).toBeGreaterThan(1e-4);
  expect(Number(gradRange![4])).toBeLessThanOrEqual(1e-6);
  expect(text.match(/\| corrupted \|/g)).toHaveLength(4);
  expect(text).toContain('## What it implies about gradient magnitudes');

  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Runs/ }).click();
  await expect(page.getByRole('button', { name: 'Lab · clean · colors-train.jsonl', exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Lab · 100% corrupted', exact: true })).toBeVisible();
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Lab/ }).click();
});

test('half the pairs corrupted: the clean run is reused, clean pairs move and send gradient, corrupted pairs send none', async () => {
  await runExercise('half the pairs (50%)');
  const steps = page.getByRole('list', { name: 'Exercise steps' }).getByRole('listitem');
  await expect(steps.nth(0)).toHaveAttribute('data-status', 'reused');

  const corrupted = await logged('corrupted');
  expect(corrupted).toHaveLength(STEPS);
  // Half the pairs still differ: the run gets gradient at every step.
  for (const e of corrupted) expect(e.grad_norm).toBeGreaterThan(1e-6);

  const table = page.getByRole('table', { name: 'Per-pair slope and gradient' });
  const bad = table.locator('tbody tr[data-kind="corrupted"]');
  const good = table.locator('tbody tr[data-kind="clean"]');
  await expect(bad).toHaveCount(4);
  await expect(good).toHaveCount(4);
  for (const d of await values(good, 'delta')) expect(Math.abs(d), 'a clean pair’s margin moved off 0').toBeGreaterThan(1e-6);
  for (const g of await values(good, 'grad')) expect(g).toBeGreaterThan(1e-6);
  for (const d of await values(bad, 'delta')) expect(d).toBe(0);
  for (const g of await values(bad, 'grad')) expect(g).toBe(0);
  await expect(page.getByRole('complementary', { name: 'What the runs show' })).toContainText(
    'corrupted pairs add no gradient but still count in the batch mean',
  );
  await page.mouse.move(1, 1);
  await page.locator('#cx-runs-title').evaluate((h) => h.scrollIntoView({ block: 'start' }));
  await screenshots(page, 'lab-corruption-half');

  // The exercise's results outlive a reload: its steps, its table, its runs' curves.
  await page.reload();
  await waitForDemo(page);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Lab/ }).click();
  await expect(page.getByRole('list', { name: 'Exercise steps' }).getByRole('listitem').nth(3)).toHaveAttribute('data-status', 'done');
  await expect(page.getByRole('table', { name: 'Per-pair slope and gradient' }).locator('tbody tr')).toHaveCount(8);
  expect(await logged('corrupted')).toHaveLength(STEPS);
});
