/**
 * The Model panel's catalogue against a stand-in for the Hugging Face Hub (page.route): a download
 * that breaks halfway resumes with a Range request for the rest and keeps the files in the
 * origin-private file system; the stored model loads, shows its size, and deletes; a gated repo
 * answering 401 asks for a token.
 */
import { expect, test, type Page, type Route } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomCheckpoint } from '../../src/core/model/random-checkpoint';
import { serializeSafetensors } from '../../src/core/model/safetensors';
import { cspViolations, goTo, openStudio } from './studio';

const DEMO = fileURLToPath(new URL('../../public/models/demo', import.meta.url));
const REPO = 'HuggingFaceTB/SmolLM2-135M-Instruct';
const GATED = 'google/gemma-3-270m-it';
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'content-range, content-length' };

/** The Model panel's card under this heading. */
function card(page: Page, heading: string) {
  return page.locator('section.card', { has: page.getByRole('heading', { level: 2, name: heading, exact: true }) });
}

/** A tiny random Llama with the demo's byte-level tokenizer (vocabulary 259), as a repo's files. */
function tinyRepo(): Map<string, Buffer> {
  const { configJson, tensors } = randomCheckpoint(
    'LlamaForCausalLM',
    {
      vocab_size: 259,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 128,
      tie_word_embeddings: true,
    },
    11,
  );
  return new Map([
    ['config.json', Buffer.from(JSON.stringify({ ...configJson, eos_token_id: 256, pad_token_id: 256 }))],
    ['tokenizer.json', readFileSync(join(DEMO, 'tokenizer.json'))],
    ['tokenizer_config.json', readFileSync(join(DEMO, 'tokenizer_config.json'))],
    ['model.safetensors', Buffer.from(serializeSafetensors(tensors))],
  ]);
}

test('a catalogue model downloads, resumes a broken download from the bytes kept, loads from storage and deletes', async ({ page }) => {
  const files = tinyRepo();
  const weights = files.get('model.safetensors')!;
  const half = Math.floor(weights.length / 2);
  const weightRequests: (string | null)[] = [];
  let servedWeights = 0;
  await page.route('https://huggingface.co/**', async (route: Route) => {
    const url = new URL(route.request().url());
    if (url.pathname === `/api/models/${REPO}`) {
      const siblings = [...files].map(([rfilename, b]) => ({ rfilename, size: b.length }));
      await route.fulfill({ json: { id: REPO, siblings }, headers: CORS });
      return;
    }
    const prefix = `/${REPO}/resolve/main/`;
    const name = url.pathname.startsWith(prefix) ? decodeURIComponent(url.pathname.slice(prefix.length)) : '';
    const body = files.get(name);
    if (!body) return route.fulfill({ status: 404, body: 'not found', headers: CORS });
    if (name !== 'model.safetensors') return route.fulfill({ body, headers: CORS });
    const range = route.request().headers()['range'] ?? null;
    weightRequests.push(range);
    if (weightRequests.length === 1) {
      // The first answer breaks off halfway: the connection closes after half the file.
      servedWeights += half;
      return route.fulfill({ body: body.subarray(0, half), headers: CORS });
    }
    const start = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0);
    servedWeights += body.length - start;
    return route.fulfill({
      status: start > 0 ? 206 : 200,
      body: body.subarray(start),
      headers: { ...CORS, ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) },
    });
  });

  const rec = await openStudio(page);
  await goTo(page, 'Model');
  const catalogue = page.getByRole('table', { name: 'Model catalogue' });
  await expect(catalogue.getByRole('row')).toHaveCount(7);
  await expect(catalogue.getByRole('row', { name: /SmolLM2-135M-Instruct/ })).toContainText('134.52M');
  await expect(catalogue.getByRole('row', { name: /Llama-3.2-1B-Instruct/ })).toContainText('gated');
  await card(page, 'Model catalogue').screenshot({ path: 'test-results/screenshots/model-catalogue.png' });

  await catalogue.getByRole('button', { name: `Download ${REPO}` }).click();
  await expect(page.getByRole('heading', { level: 2, name: REPO })).toBeVisible({ timeout: 60_000 });
  // The resume asked for the rest only: the bytes kept from the broken answer were not fetched again.
  expect(weightRequests).toEqual([null, `bytes=${half}-`]);
  expect(servedWeights).toBe(weights.length);

  const stored = page.getByRole('list', { name: 'Models kept in this browser' });
  const total = [...files.values()].reduce((n, b) => n + b.length, 0);
  await expect(stored).toContainText(REPO);
  await expect(stored.getByTestId('stored-size')).toContainText(`${Math.round(total / 1000)} KB · file system`);
  await expect(page.getByTestId('storage-usage')).toContainText(/This site uses .* of the .* the browser allows it/);
  await expect(catalogue.getByRole('button', { name: `Load ${REPO}` })).toBeVisible();
  // The files are in the origin-private file system, as a manifest and one generation.
  const onDisk = await page.evaluate(async () => {
    const models = await (await navigator.storage.getDirectory()).getDirectoryHandle('models');
    const names: string[] = [];
    for await (const name of (models as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(decodeURIComponent(name));
    return names;
  });
  expect(onDisk).toEqual([`hub:${REPO}`]);
  await card(page, 'Kept in this browser').screenshot({ path: 'test-results/screenshots/model-stored.png' });

  // Loaded again from storage: no request to the Hub.
  const before = weightRequests.length;
  await goTo(page, 'Model');
  await page.getByRole('button', { name: 'Load demo model' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Demo model' })).toBeVisible({ timeout: 60_000 });
  await stored.getByRole('button', { name: 'Load' }).click();
  await expect(page.getByRole('heading', { level: 2, name: REPO })).toBeVisible({ timeout: 60_000 });
  expect(weightRequests.length).toBe(before);

  await stored.getByRole('button', { name: `Delete ${REPO} from browser storage` }).click();
  await expect(page.getByText('No downloaded models yet.')).toBeVisible();
  await expect(catalogue.getByRole('button', { name: `Download ${REPO}` })).toBeVisible();
  const left = await page.evaluate(async () => {
    const models = await (await navigator.storage.getDirectory()).getDirectoryHandle('models');
    const names: string[] = [];
    for await (const name of (models as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names;
  });
  expect(left).toEqual([]);
  expect(rec.pageErrors).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});

test('a download that keeps failing stops with its bytes kept; after a reload, Resume asks for the rest', async ({ page }) => {
  const files = tinyRepo();
  const weights = files.get('model.safetensors')!;
  const half = Math.floor(weights.length / 2);
  const ranges: (string | null)[] = [];
  let hubDown = true;
  await page.route('https://huggingface.co/**', async (route: Route) => {
    const url = new URL(route.request().url());
    if (url.pathname === `/api/models/${REPO}`) {
      const siblings = [...files].map(([rfilename, b]) => ({ rfilename, size: b.length }));
      return route.fulfill({ json: { id: REPO, siblings }, headers: CORS });
    }
    const name = decodeURIComponent(url.pathname.slice(`/${REPO}/resolve/main/`.length));
    const body = files.get(name);
    if (!body) return route.fulfill({ status: 404, body: 'not found', headers: CORS });
    if (name !== 'model.safetensors') return route.fulfill({ body, headers: CORS });
    const range = route.request().headers()['range'] ?? null;
    ranges.push(range);
    // Half the file, then the Hub is down (HTTP 503) for every retry.
    if (ranges.length === 1) return route.fulfill({ body: body.subarray(0, half), headers: CORS });
    if (hubDown) return route.fulfill({ status: 503, body: 'busy', headers: CORS });
    const start = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0);
    return route.fulfill({
      status: 206,
      body: body.subarray(start),
      headers: { ...CORS, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` },
    });
  });
  await openStudio(page);
  await goTo(page, 'Model');
  const catalogue = page.getByRole('table', { name: 'Model catalogue' });
  await catalogue.getByRole('button', { name: `Download ${REPO}` }).click();
  await expect(page.getByRole('alert')).toContainText('HTTP 503', { timeout: 30_000 });
  await expect(page.getByRole('alert')).toContainText('What arrived is kept');
  expect(ranges).toEqual([null, `bytes=${half}-`, `bytes=${half}-`, `bytes=${half}-`]);

  // The kept bytes survive a reload.
  await page.reload();
  await goTo(page, 'Model');
  const kept = [...files.values()].reduce((n, b) => n + b.length, 0) - weights.length + half;
  const resume = catalogue.getByRole('button', { name: `Resume ${REPO}` });
  await expect(resume).toContainText(`Resume (${Math.round(kept / 1000)} KB kept)`);
  await expect(page.getByRole('list', { name: 'Models kept in this browser' })).toContainText('not complete');
  await card(page, 'Kept in this browser').screenshot({ path: 'test-results/screenshots/model-stored-partial.png' });

  hubDown = false;
  await resume.click();
  await expect(page.getByRole('heading', { level: 2, name: REPO })).toBeVisible({ timeout: 60_000 });
  expect(ranges.at(-1)).toBe(`bytes=${half}-`);
  expect(ranges).toHaveLength(5);
  await expect(catalogue.getByRole('button', { name: `Load ${REPO}` })).toBeVisible();
});

test('a gated repo answering 401 asks for a Hugging Face token, sends it, and forgets it', async ({ page }) => {
  const files = tinyRepo();
  const auth: (string | null)[] = [];
  await page.route('https://huggingface.co/**', async (route: Route) => {
    const url = new URL(route.request().url());
    if (route.request().method() === 'OPTIONS') {
      return route.fulfill({ status: 204, headers: { ...CORS, 'access-control-allow-headers': 'authorization, range' } });
    }
    if (url.pathname === `/api/models/${GATED}`) {
      const siblings = [...files].map(([rfilename, b]) => ({ rfilename, size: b.length }));
      return route.fulfill({ json: { id: GATED, gated: 'manual', siblings }, headers: CORS });
    }
    auth.push(route.request().headers()['authorization'] ?? null);
    return route.fulfill({ status: auth.at(-1) ? 403 : 401, body: 'gated', headers: CORS });
  });
  await openStudio(page);
  await goTo(page, 'Model');
  await page
    .getByRole('table', { name: 'Model catalogue' })
    .getByRole('button', { name: `Download ${GATED}` })
    .click();
  await expect(page.getByRole('alert')).toContainText(`${GATED} is gated (HTTP 401)`);
  const form = page.getByRole('form', { name: 'Hugging Face token' });
  await expect(form).toBeVisible();
  await card(page, 'Model catalogue').screenshot({ path: 'test-results/screenshots/model-token-prompt.png' });

  await form.getByLabel('Hugging Face access token (read)').fill('hf_test_token');
  await form.getByRole('button', { name: 'Save token and retry' }).click();
  await expect(page.getByRole('alert')).toContainText('no access yet (HTTP 403)');
  expect(auth).toEqual([null, 'Bearer hf_test_token']);
  expect(await page.evaluate(() => localStorage.getItem('dpo-studio.hf-token'))).toBe('hf_test_token');

  // Nothing was kept for a repo that refused: the list stays empty.
  await expect(page.getByText('No downloaded models yet.')).toBeVisible();
  await page.getByRole('button', { name: 'Forget token' }).click();
  expect(await page.evaluate(() => localStorage.getItem('dpo-studio.hf-token'))).toBeNull();
  await expect(page.getByRole('button', { name: 'Forget token' })).toHaveCount(0);
  // The gated repo still asks for one.
  await expect(form.getByLabel('Hugging Face access token (read)')).toHaveValue('');
});
