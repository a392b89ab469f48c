import { expect, test } from '@playwright/test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureSmallRun, cspViolations, goTo, openStudio, screenshots, waitForDemo } from './studio';

const DEMO = fileURLToPath(new URL('../../public/models/demo', import.meta.url));
const REPO = 'test-org/tiny-dpo';

test('a model folder opens from the folder picker', async ({ page }) => {
  const rec = await openStudio(page);
  await goTo(page, 'Model');
  await page.getByLabel('Open model folder').setInputFiles(DEMO);
  await expect(page.getByRole('heading', { level: 2, name: 'demo', exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('#loaded-heading + .chip')).toHaveText(/ForCausalLM|LMHeadModel/);
  await expect(page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: /^Model/ })).toContainText('demo');
  // The dataset is tokenized again with this model's tokenizer.
  await goTo(page, 'Dataset');
  await expect(page.getByRole('heading', { name: 'Token lengths' })).toBeVisible();
  expect(rec.pageErrors).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});

test('a Hugging Face repo downloads once with progress, then loads from browser storage with no network', async ({ page }) => {
  const files = readdirSync(DEMO).filter((f) => statSync(join(DEMO, f)).isFile());
  const hub: string[] = [];
  // The weights wait until the test has seen the download's progress bar.
  let releaseWeights = () => {};
  const weightsGate = new Promise<void>((resolve) => (releaseWeights = resolve));
  // A stand-in for the Hub: the listing API and the resolve URLs, serving the demo model's files.
  await page.route('https://huggingface.co/**', async (route) => {
    const url = new URL(route.request().url());
    hub.push(url.pathname);
    if (url.pathname === `/api/models/${REPO}`) {
      await route.fulfill({ json: { id: REPO, siblings: files.map((f) => ({ rfilename: f, size: statSync(join(DEMO, f)).size })) } });
      return;
    }
    const prefix = `/${REPO}/resolve/main/`;
    if (url.pathname.startsWith(prefix)) {
      const name = decodeURIComponent(url.pathname.slice(prefix.length));
      if (files.includes(name)) {
        if (name === 'model.safetensors') await weightsGate;
        await route.fulfill({ body: readFileSync(join(DEMO, name)), headers: { 'access-control-allow-origin': '*' } });
        return;
      }
    }
    await route.fulfill({ status: 404, body: 'not found' });
  });
  await openStudio(page);
  await goTo(page, 'Model');
  const repo = page.getByLabel('Hugging Face repo');
  await repo.fill('not a repo');
  await expect(page.getByRole('button', { name: 'Download', exact: true })).toBeDisabled();
  await repo.fill(REPO);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  const bar = page.getByRole('progressbar', { name: /^downloading / });
  await expect(bar).toBeVisible();
  expect(Number(await bar.getAttribute('aria-valuenow'))).toBeLessThan(100);
  releaseWeights();
  await expect(page.getByRole('heading', { level: 2, name: REPO })).toBeVisible({ timeout: 30_000 });
  expect(hub).toContain(`/api/models/${REPO}`);
  expect(hub).toContain(`/${REPO}/resolve/main/model.safetensors`);
  const stored = page.getByRole('list', { name: 'Models kept in this browser' });
  await expect(stored).toContainText(REPO);

  // After a reload, the Hub is unreachable: the stored copy is enough.
  await page.unroute('https://huggingface.co/**');
  const blocked: string[] = [];
  await page.route('https://huggingface.co/**', (route) => {
    blocked.push(route.request().url());
    return route.abort();
  });
  await page.reload();
  await waitForDemo(page);
  await goTo(page, 'Model');
  await page.getByRole('list', { name: 'Models kept in this browser' }).getByRole('button', { name: 'Load' }).click();
  await expect(page.getByRole('heading', { level: 2, name: REPO })).toBeVisible({ timeout: 30_000 });
  expect(blocked).toEqual([]);

  // A repo that is not there says so.
  await repo.fill('test-org/missing');
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  const missing = page.getByText(/could not reach the Hugging Face Hub|not found on the Hub/);
  await expect(missing).toBeVisible();
  // A model folder loaded after it makes that error stale: it goes.
  await page.getByLabel('Open model folder').setInputFiles(DEMO);
  await expect(page.getByRole('heading', { level: 2, name: 'demo', exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(missing).toBeHidden();
  expect(await cspViolations(page)).toEqual([]);
});

test('the memory plan shows its parts beside the device limits, and a plan over the budget disables Train with the reason', async ({
  page,
}) => {
  const rec = await openStudio(page);
  await goTo(page, 'Model');
  const plan = page.getByTestId('memory-plan');
  await expect(plan).toBeVisible();
  const parts = plan.getByRole('table', { name: 'Memory plan' });
  for (const part of ['weights (float32)', 'adapter, gradient, AdamW moments', 'LM head', 'largest single buffer: ']) {
    await expect(parts).toContainText(part);
  }
  await expect(plan).toContainText(/binds at most [\d.]+ [MG]B per buffer \(maxStorageBufferBindingSize\)/);
  const train = page.getByRole('button', { name: 'Train', exact: true });
  await expect(train).toBeEnabled();
  // A budget of 1 MiB: the demo model's plan needs more, so Train is off and says why and what to change.
  const budget = page.getByLabel('Memory budget (GiB)');
  await budget.fill('0.001');
  await budget.press('Enter');
  await expect(plan.getByTestId('memory-refusal')).toContainText(
    // A first visit's demo preset keeps activations (gradient_checkpointing off), so turning it on is offered too.
    /^Train is off: training needs about \d+ MiB \(weights .*\), over the 1 MiB memory budget: lower per_device_train_batch_size \(\d+\) or max_length \(.+\), or turn gradient_checkpointing on, or raise the memory budget in Model\.$/,
  );
  await expect(train).toBeDisabled();
  await expect(train).toHaveAttribute('title', /^Not enough memory: training needs about \d+ MiB/);
  await expect(page.locator('.trainbar-note')).toContainText('Not enough memory: training needs about');
  await plan.scrollIntoViewIfNeeded();
  await screenshots(page, 'model-memory-refused');
  // Configure says so beside the step count.
  await goTo(page, 'Configure');
  await expect(page.getByTestId('config-memory')).toContainText(/^memory plan [\d.]+ [KMG]?B \(budget 1\.1 MB, Model shows the parts\)$/);
  await expect(page.locator('.config-summary')).toContainText('Not enough memory: training needs about');
  // The budget is kept for the next visit; back at 4 GiB Train is offered again.
  await page.reload();
  await waitForDemo(page);
  await goTo(page, 'Model');
  await expect(page.getByLabel('Memory budget (GiB)')).toHaveValue('0.001');
  await page.getByLabel('Memory budget (GiB)').fill('4');
  await page.getByLabel('Memory budget (GiB)').press('Enter');
  await expect(page.getByRole('button', { name: 'Train', exact: true })).toBeEnabled();
  // A run reports the tensor memory the worker measured beside the plan's estimate.
  await configureSmallRun(page, { maxSteps: 1, saveSteps: 1 });
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  const measured = page.getByTestId('memory-measured');
  await expect(measured).toContainText(/^Memory: measured peak [\d.]+ [KMG]?B of tensors \(planned [\d.]+ [KMG]?B\)/, { timeout: 120_000 });
  console.log(await measured.textContent());
  expect(rec.pageErrors).toEqual([]);
});
