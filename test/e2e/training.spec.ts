import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHARTS } from '../../src/app/metrics';
import { unzipFiles } from '../../src/worker/zip';
import {
  configureSmallRun,
  cspViolations,
  goTo,
  openStudio,
  outsideRequests,
  savedDownload,
  screenshots,
  trainStatus,
  waitForDemo,
  type Recorders,
} from './studio';

/**
 * One page for the whole training story, in order: each WebGPU worker compiles its shaders on its
 * first step, which on SwiftShader takes longer than the steps of the tiny demo model.
 */
test.describe.configure({ mode: 'serial', timeout: 240_000 });

const TRAINING = 180_000;
const STEPS = 4;

let page: Page;
let rec: Recorders;

/** Short pairs (at most 38 tokens with the demo tokenizer) keep SwiftShader's steps quick. */
const PAIRS = fileURLToPath(new URL('./fixtures/shout-whisper.jsonl', import.meta.url));

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  rec = await openStudio(page);
  await page.getByLabel('Preference dataset').setInputFiles(PAIRS);
  await expect(page.getByTestId('valid-rows')).toHaveText('48');
});

test.afterAll(async () => {
  await page?.close();
});

async function startRun(): Promise<void> {
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText(/Preparing|Training/);
}

async function finished(steps: number): Promise<void> {
  await expect(trainStatus(page)).toHaveText(`step ${steps} / ${steps}`, { timeout: TRAINING });
  await expect(page.locator('.state-badge')).toHaveText('Finished', { timeout: 30_000 });
}

async function pairScores(): Promise<number[]> {
  await goTo(page, 'Evaluate & sample');
  await page.getByRole('button', { name: 'Score pairs' }).click();
  const cells = page.getByRole('table', { name: 'Pair log-probs' }).locator('td[data-value]');
  await expect(cells.first()).toBeVisible({ timeout: 60_000 });
  return cells.evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
}

interface Logged {
  step: number;
  [k: string]: number | null;
}

async function metricsJson(testInfo: TestInfo, runName: RegExp): Promise<Logged[]> {
  await goTo(page, 'Export');
  const select = page.getByLabel('Run', { exact: true });
  const value = await select.locator('option', { hasText: runName }).getAttribute('value');
  await select.selectOption(value!);
  await page.getByLabel('Format', { exact: true }).selectOption('json');
  const file = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Download metrics' }).click());
  return JSON.parse(readFileSync(file.path, 'utf8')) as Logged[];
}

test('train the demo model for a few steps, pausing once: every chart gets its points, and no request leaves the page', async ({
  baseURL,
}) => {
  await configureSmallRun(page, { maxSteps: STEPS, saveSteps: 2 });
  await startRun();
  // Pause takes effect after the step in progress, with a checkpoint; Resume goes on from there.
  await expect(trainStatus(page)).toHaveText(new RegExp(`^step 1 / ${STEPS}`), { timeout: TRAINING });
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText('Paused', { timeout: 60_000 });
  const paused = Number((await trainStatus(page).textContent())!.match(/^step (\d+)/)![1]);
  expect(paused).toBeLessThan(STEPS);
  await expect(page.locator('.checkpoint')).toHaveText(`saved at step ${paused}`);
  await page.waitForTimeout(1000);
  await expect(trainStatus(page)).toHaveText(new RegExp(`^step ${paused} / ${STEPS}`));
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  // Live: speed and ETA in the status line while the charts fill in. The line names the last step
  // logged, so while the step after the pause runs it may still show the paused step.
  await expect(trainStatus(page)).toHaveText(new RegExp(`^step (${paused}|${paused + 1}) / ${STEPS} · \\d+ tokens/s · ETA `), {
    timeout: TRAINING,
  });
  // (The "training" screenshots come from studio-screens.spec.ts, whose run is long enough to hold still for them.)
  await finished(STEPS);

  for (const { title } of CHARTS) {
    const chart = page.getByRole('figure', { name: title, exact: true });
    // Charts are drawn when on screen or near it.
    await chart.scrollIntoViewIfNeeded();
    await expect(chart.getByRole('heading', { name: title, exact: true })).toBeVisible();
    await expect(chart).toHaveAttribute('data-points', String(STEPS));
    await expect(chart.locator('.recharts-line-curve').first()).toHaveAttribute('d', /^M[\d.-]+,[\d.-]+L/);
  }
  await expect(page.locator('.checkpoint')).toHaveText(`saved at step ${STEPS}`);
  // The recorder sees the worker's requests too (the model files came through it).
  expect(rec.requests.some((url) => url.includes('/models/demo/model.safetensors'))).toBe(true);
  expect(outsideRequests(rec, baseURL!)).toEqual([]);
});

test('export the adapter and metrics: the adapter reloads and gives the same eval log-probs', async ({ baseURL }, testInfo) => {
  await goTo(page, 'Export');
  const csv = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Download metrics' }).click());
  const rows = readFileSync(csv.path, 'utf8').trim().split('\r\n');
  expect(rows).toHaveLength(STEPS + 1);
  for (const name of [
    'step',
    'loss',
    'rewards/chosen',
    'rewards/rejected',
    'rewards/margins',
    'rewards/accuracies',
    'entropy',
    'mean_token_accuracy',
    'num_tokens',
    'grad_norm',
    'learning_rate',
    'elapsed_seconds',
    'peak_memory_mb',
  ]) {
    expect(rows[0].split(',')).toContain(name);
  }
  // num_tokens counts every training batch so far: it grows with each logged step.
  const column = rows[0].split(',').indexOf('num_tokens');
  const counts = rows.slice(1).map((r) => Number(r.split(',')[column]));
  expect(counts.every((n, i) => n > (i === 0 ? 0 : counts[i - 1]))).toBe(true);
  // The first step scores a fresh adapter (LoRA B = 0: policy = reference): exact zeros, as TRL logs,
  // and a tie does not count as a win.
  const header = rows[0].split(',');
  const first = Object.fromEntries(rows[1].split(',').map((v, i) => [header[i], v]));
  expect(first.step).toBe('1');
  for (const name of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies']) expect(first[name], name).toBe('0');

  const trained = await pairScores();
  expect(trained.length).toBeGreaterThan(0);
  await expect(page.getByTestId('scored-policy')).toContainText(`step ${STEPS}`);

  await goTo(page, 'Export');
  const zip = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Export adapter' }).click());
  const files = await unzipFiles(new Uint8Array(readFileSync(zip.path)), zip.name);
  expect([...files.keys()].sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  // The demo model is named by its folder (public/models/demo), as a folder or Hub model would be.
  expect(zip.name).toBe('demo-dpo-adapter.zip');
  expect(JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')))).toMatchObject({
    base_model_name_or_path: 'demo',
    peft_type: 'LORA',
    r: 16,
    lora_alpha: 32,
  });

  await goTo(page, 'Model');
  await page.getByLabel('PEFT adapter').setInputFiles(zip.path);
  await expect(page.locator('.adapter-box').getByText(zip.name)).toBeVisible({ timeout: 30_000 });
  const reloaded = await pairScores();
  await expect(page.getByTestId('scored-policy')).toHaveText(zip.name);
  expect(reloaded).toHaveLength(trained.length);
  reloaded.forEach((v, i) =>
    expect(Math.abs(v - trained[i]), `value ${i}: reloaded ${v}, trained ${trained[i]}`).toBeLessThanOrEqual(1e-4),
  );
  // The base model scores differently: the comparison above is not trivially true.
  const policyChosen = trained[0];
  const referenceChosen = Number(
    await page.getByRole('table', { name: 'Pair log-probs' }).locator('tbody tr').first().locator('td').nth(3).textContent(),
  );
  expect(policyChosen).not.toBe(referenceChosen);

  // The TRL script carries the same hyperparameters, with the pairs and the demo model beside it.
  await goTo(page, 'Export');
  const trl = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Export TRL script' }).click());
  const trlFiles = await unzipFiles(new Uint8Array(readFileSync(trl.path)), trl.name);
  await goTo(page, 'Dataset');
  const pairs = Number((await page.getByTestId('train-pairs').textContent())!.replace(/,/g, ''));
  expect(new TextDecoder().decode(trlFiles.get('train.jsonl')).trim().split('\n')).toHaveLength(pairs);
  expect(trlFiles.has('model/model.safetensors')).toBe(true);
  const script = new TextDecoder().decode(trlFiles.get('train_dpo.py'));
  expect(script).toContain('DPOConfig(');
  expect(script).toMatch(/beta=0\.1\b/);
  expect(script).toMatch(new RegExp(`max_steps=${STEPS}\\b`));
  expect(script).toMatch(/per_device_train_batch_size=2\b/);

  // The merged model loads as a plain model and scores like base + adapter.
  await goTo(page, 'Export');
  const merged = await savedDownload(page, testInfo, () => page.getByRole('button', { name: 'Export merged model' }).click());
  const mergedFiles = await unzipFiles(new Uint8Array(readFileSync(merged.path)), merged.name);
  expect([...mergedFiles.keys()].sort()).toEqual(
    expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']),
  );
  const folder = testInfo.outputPath('merged');
  mkdirSync(folder, { recursive: true });
  for (const [name, bytes] of mergedFiles) writeFileSync(join(folder, name), bytes);
  await goTo(page, 'Model');
  await page.getByLabel('Model files').setInputFiles([...mergedFiles.keys()].map((name) => join(folder, name)));
  await expect(page.getByRole('heading', { level: 2, name: 'picked model files' })).toBeVisible({ timeout: 30_000 });
  const fromMerged = await pairScores();
  await expect(page.getByTestId('scored-policy')).toHaveText('base model (no adapter)');
  fromMerged.forEach((v, i) =>
    expect(Math.abs(v - trained[i]), `value ${i}: merged ${v}, base + adapter ${trained[i]}`).toBeLessThanOrEqual(2e-3),
  );

  expect(outsideRequests(rec, baseURL!)).toEqual([]);
});

test('samples: the policy and the reference answer the same prompt side by side', async () => {
  await goTo(page, 'Evaluate & sample');
  const prompts = page.getByRole('group', { name: 'Prompts from the dataset' }).getByRole('checkbox');
  await expect(prompts).toHaveCount(12);
  await prompts.nth(1).uncheck();
  await page.getByLabel('max new tokens').fill('3');
  await page.getByRole('button', { name: 'Generate' }).click();
  const sample = page.locator('.sample');
  await expect(sample).toHaveCount(1, { timeout: 60_000 });
  const firstPrompt = (await page.locator('.prompt-choice .clip').first().textContent())!;
  await expect(sample.locator('.sample-prompt')).toHaveText(firstPrompt);
  await expect(sample.getByRole('heading', { name: 'Policy' })).toBeVisible();
  await expect(sample.getByRole('heading', { name: 'Reference' })).toBeVisible();
  await expect(sample.locator('.sample-text')).toHaveCount(2);
});

test('a reload mid-run: Resume continues from the saved step and ends where the uninterrupted run ended', async ({ baseURL }, testInfo) => {
  // The same settings again (the adapter loaded above would change the start: load the demo model afresh).
  await goTo(page, 'Model');
  await page.getByRole('button', { name: 'Load demo model' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Demo model' })).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('.adapter-box')).toContainText('None: training creates a fresh LoRA adapter');
  await startRun();
  await expect(page.locator('.checkpoint')).toHaveText('saved at step 2', { timeout: TRAINING });
  // Step 3 logged, after the checkpoint of step 2: the reload must keep it too.
  await expect(trainStatus(page)).toHaveText(new RegExp(`^step 3 / ${STEPS}`), { timeout: TRAINING });

  await page.reload();
  await waitForDemo(page);
  await expect(page.locator('.state-badge')).toHaveText('Interrupted');
  await expect(trainStatus(page)).toHaveText(`step 3 / ${STEPS}`);
  await goTo(page, 'Train');
  await expect(page.getByRole('figure', { name: 'loss', exact: true })).toHaveAttribute('data-points', '3');
  await goTo(page, 'Runs');
  const run2 = page.getByRole('row').filter({ has: page.getByRole('button', { name: /^Run 2 / }) });
  await expect(run2.locator('.status-pill')).toHaveText('interrupted');
  await screenshots(page, 'runs-interrupted');
  await goTo(page, 'Train');
  const resume = page.getByRole('button', { name: 'Resume', exact: true });
  await expect(resume).toBeEnabled();
  await resume.click();
  // It trains on from the checkpoint, not from step 0.
  await expect(page.locator('.state-badge')).toHaveText('Training', { timeout: 60_000 });
  expect(await trainStatus(page).textContent()).toMatch(new RegExp(`^step [2-${STEPS}] / ${STEPS}`));
  await finished(STEPS);
  await goTo(page, 'Train');
  await expect(page.getByRole('figure', { name: 'loss', exact: true })).toHaveAttribute('data-points', String(STEPS));

  const uninterrupted = await metricsJson(testInfo, /^Run 1 /);
  const resumed = await metricsJson(testInfo, /^Run 2 /);
  const steps = Array.from({ length: STEPS }, (_, i) => i + 1);
  expect(uninterrupted.map((e) => e.step)).toEqual(steps);
  expect(resumed.map((e) => e.step)).toEqual(steps);
  for (const key of [
    'loss',
    'rewards/chosen',
    'rewards/rejected',
    'rewards/margins',
    'rewards/accuracies',
    'logps/chosen',
    'logps/rejected',
    'grad_norm',
    'learning_rate',
  ]) {
    resumed.forEach((entry, i) => {
      const a = entry[key] as number;
      const b = uninterrupted[i][key] as number;
      expect(Math.abs(a - b), `${key} at step ${entry.step}: resumed ${a}, uninterrupted ${b}`).toBeLessThanOrEqual(
        1e-5 * Math.max(1, Math.abs(b)),
      );
    });
  }
  expect(outsideRequests(rec, baseURL!)).toEqual([]);
});

test('runs side by side: a copy with another beta trains, gets renamed, and its curves overlay the first run', async ({ baseURL }) => {
  await goTo(page, 'Runs');
  await expect(page.getByRole('row')).toHaveCount(3);
  await page.getByRole('button', { name: /^Duplicate Run 1 / }).click();
  const form = page.getByRole('form', { name: /^Duplicate Run 1 / });
  await form.getByLabel('name').fill('copy');
  await form.getByLabel('copy beta').fill('0');
  await expect(form.getByRole('alert')).toHaveText('beta must be greater than 0, got 0');
  await expect(form.getByRole('button', { name: 'Create copy' })).toBeDisabled();
  await form.getByLabel('copy beta').fill('0.5');
  await form.getByRole('button', { name: 'Create copy' }).click();
  // The copy's settings are in Configure, and Train starts that run.
  await expect(page.getByText('Editing copy, a copy that has not run yet')).toBeVisible();
  await expect(page.getByLabel('beta', { exact: true })).toHaveValue('0.5');
  await expect(page.getByLabel('max steps', { exact: true })).toHaveValue(String(STEPS));
  await startRun();
  await finished(STEPS);

  await goTo(page, 'Runs');
  await expect(page.getByRole('row')).toHaveCount(4);
  await page.getByRole('button', { name: 'Rename copy' }).click();
  await page.getByLabel('New name for copy').fill('β 0.5 · sigmoid');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByLabel(/^Compare Run 1 /).check();
  await page.getByLabel('Compare β 0.5 · sigmoid').check();
  await expect(page.getByRole('heading', { name: 'Comparing 2 runs' })).toBeVisible();
  // In numbers: the one setting changed, and each run's final loss with the lower one marked.
  const settings = page.getByRole('table', { name: 'Settings that differ between the compared runs' });
  await expect(settings.locator('tbody tr')).toHaveCount(1);
  await expect(settings.getByRole('row', { name: /^beta/ }).getByRole('cell')).toHaveText(['0.1', '0.5']);
  const lossCells = page.getByRole('table', { name: 'Final and best metrics of the compared runs' }).locator('tr[data-metric="loss"] td');
  const finals = (await lossCells.evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-final'))))) as number[];
  expect(finals.every(Number.isFinite)).toBe(true);
  await expect(lossCells.and(page.locator('[data-leader]'))).toHaveCount(finals[0] === finals[1] ? 2 : 1);
  const leader = finals.indexOf(Math.min(...finals));
  await expect(lossCells.nth(leader)).toHaveAttribute('data-leader', 'true');
  await page.getByRole('heading', { name: 'Comparing 2 runs' }).scrollIntoViewIfNeeded();
  await screenshots(page, 'runs-compared-table');
  for (const { title, keys } of CHARTS) {
    const chart = page.getByRole('figure', { name: title, exact: true });
    await chart.scrollIntoViewIfNeeded();
    await expect(chart.locator('.recharts-line-curve')).toHaveCount(2 * keys.length);
  }
  await screenshots(page, 'runs-compared');
  expect(outsideRequests(rec, baseURL!)).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
  expect(rec.pageErrors).toEqual([]);
});

test('a hidden tab checkpoints after the step in progress, between the periodic checkpoints', async () => {
  await configureSmallRun(page, { maxSteps: 40, saveSteps: 100 });
  await startRun();
  await expect(trainStatus(page)).toHaveText(/^step 2 \/ 40/, { timeout: TRAINING });
  await expect(page.locator('.checkpoint')).toHaveCount(0);
  // What the browser does when the person switches tabs or minimises the window.
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expect(page.locator('.checkpoint')).toHaveText(/^saved at step ([3-9]|[1-3]\d)$/, { timeout: 60_000 });
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
  });
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(page.locator('.state-badge')).toHaveText(/Stopped/, { timeout: 60_000 });
});
