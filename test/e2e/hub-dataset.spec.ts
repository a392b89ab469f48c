import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startHubStandIn, type HubStandIn } from '../hub-standin';
import { goTo, openStudio, screenshots } from './studio';

const FORMATS = fileURLToPath(new URL('../fixtures/data/formats/', import.meta.url));
const fixture = (name: string) => new Uint8Array(readFileSync(FORMATS + name));

let hub: HubStandIn;

test.beforeAll(async () => {
  hub = await startHubStandIn(
    {
      'test-org/prefs': { splits: { default: { train: [fixture('pairs.gzip.parquet'), fixture('pairs.gzip.parquet')] } } },
      'test-org/layouts': { splits: { shp: { train: [fixture('shp.parquet')] }, hh: { train: [fixture('hh-rlhf.parquet')] } } },
    },
    { publicUrl: 'https://huggingface.co' },
  );
});

test.afterAll(async () => {
  await hub?.close();
});

test('a Hub dataset by name: downloaded with progress, resumed after a dropped connection, kept, and loaded again without the network', async ({
  page,
}) => {
  const rec = await openStudio(page);
  const asked: string[] = [];
  let cut = false;
  // huggingface.co is the local stand-in; the first file's first answer stops after 700 of its bytes.
  await page.route('https://huggingface.co/**', async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    asked.push(`${url.pathname}${request.headers().range ? ` ${request.headers().range}` : ''}`);
    const answer = await route.fetch({ url: hub.url + url.pathname + url.search, headers: request.headers() });
    const body = await answer.body();
    const headers = { ...answer.headers(), 'access-control-allow-origin': '*' };
    if (!cut && url.pathname.endsWith('/train/0.parquet')) {
      cut = true;
      await route.fulfill({
        status: answer.status(),
        headers: { ...headers, 'content-length': String(body.length) },
        body: body.subarray(0, 700),
      });
      return;
    }
    await route.fulfill({ status: answer.status(), headers, body });
  });

  const form = page.getByRole('region', { name: 'From the Hugging Face Hub' });
  await form.getByLabel('Dataset', { exact: true }).fill('test-org/prefs');
  await form.getByRole('button', { name: 'Download' }).click();
  // Progress while the first file waits to be taken up again.
  await expect(form.getByText(/^downloading test-org\/prefs: file 1 of 2, /)).toBeVisible();
  await expect(page.getByRole('heading', { name: 'test-org/prefs (default/train)' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('valid-rows')).toHaveText('28');
  await expect(page.getByTestId('issue-count')).toHaveText('0');
  // The cut answer was taken up again from byte 700.
  expect(asked).toContain('/api/datasets/test-org/prefs/parquet/default/train/0.parquet bytes=700-');
  const kept = page.getByRole('list', { name: 'Hub datasets kept in this browser' });
  await expect(kept).toContainText('test-org/prefs');
  await expect(kept).toContainText('default/train');
  await screenshots(page, 'dataset-hub');

  // A config must be named where there are several; the message lists them.
  await form.getByLabel('Dataset', { exact: true }).fill('test-org/layouts');
  await form.getByRole('button', { name: 'Download' }).click();
  await expect(form.getByRole('alert')).toHaveText('dataset test-org/layouts has 2 configs ("shp", "hh"); name one of them as the config');
  await form.getByLabel('Config', { exact: true }).fill('shp');
  await form.getByRole('button', { name: 'Download' }).click();
  await expect(page.getByRole('heading', { name: 'test-org/layouts (shp/train)' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('dataset-layout')).toHaveText('SHP');
  await expect(form.getByRole('alert')).toBeHidden();

  // After a reload, with the Hub unreachable, the kept split loads from browser storage.
  await page.unroute('https://huggingface.co/**');
  await page.route('https://huggingface.co/**', (route) => route.abort());
  await page.reload();
  await goTo(page, 'Dataset');
  await page.getByRole('button', { name: 'Load test-org/prefs (default/train)' }).click();
  await expect(page.getByRole('heading', { name: 'test-org/prefs (default/train)' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('valid-rows')).toHaveText('28');
  await page.getByRole('button', { name: 'Delete test-org/layouts (shp/train) from this browser' }).click();
  await expect(kept).not.toContainText('test-org/layouts');
  expect(rec.pageErrors).toEqual([]);
});
