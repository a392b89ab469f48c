import { describe, expect, it } from 'vitest';
import { listParquetFiles } from '../../../src/core/hub/datasets';

/** A fetch that answers the Parquet listing with `index` and records what it was asked. */
function fakeHub(index: unknown) {
  const asked: string[] = [];
  const fetch = (async (url: string) => {
    asked.push(url);
    return new Response(JSON.stringify(index), { headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof globalThis.fetch;
  return { asked, fetch };
}

const file = (config: string, split: string, n: number) =>
  `https://huggingface.co/api/datasets/o/d/parquet/${config}/${split}/${n}.parquet`;

describe('listParquetFiles', () => {
  it('asks the Hub for the Parquet listing and names the files in order', async () => {
    const hub = fakeHub({
      default: { train: [file('default', 'train', 0), file('default', 'train', 1)], test: [file('default', 'test', 0)] },
    });
    const listing = await listParquetFiles({ repo: 'o/d' }, { fetch: hub.fetch });
    expect(hub.asked).toEqual(['https://huggingface.co/api/datasets/o/d/parquet']);
    expect(listing).toEqual({
      config: 'default',
      split: 'train',
      files: [
        { url: file('default', 'train', 0), path: '0000.parquet' },
        { url: file('default', 'train', 1), path: '0001.parquet' },
      ],
    });
    const test = await listParquetFiles({ repo: 'o/d', split: 'test' }, { fetch: hub.fetch });
    expect(test.files.map((f) => f.path)).toEqual(['0000.parquet']);
  });

  it('takes the only config, else "default", else asks for one', async () => {
    expect((await listParquetFiles({ repo: 'o/d' }, { fetch: fakeHub({ en: { train: [file('en', 'train', 0)] } }).fetch })).config).toBe(
      'en',
    );
    const two = fakeHub({ en: { train: [file('en', 'train', 0)] }, default: { train: [file('default', 'train', 0)] } });
    expect((await listParquetFiles({ repo: 'o/d' }, { fetch: two.fetch })).config).toBe('default');
    const none = fakeHub({ en: { train: [] }, fr: { train: [] } });
    await expect(listParquetFiles({ repo: 'o/d' }, { fetch: none.fetch })).rejects.toThrow(
      'dataset o/d has 2 configs ("en", "fr"); name one of them as the config',
    );
  });

  it('refuses a listing with no files, files on another host, and ids that are not owner/name', async () => {
    await expect(listParquetFiles({ repo: 'o/d' }, { fetch: fakeHub({}).fetch })).rejects.toThrow(/has no Parquet files on the Hub/);
    const elsewhere = fakeHub({ default: { train: ['https://evil.example/x.parquet'] } });
    await expect(listParquetFiles({ repo: 'o/d' }, { fetch: elsewhere.fetch })).rejects.toThrow(
      'dataset o/d: the Hub listed a Parquet file on another host (https://evil.example)',
    );
    for (const repo of ['../etc', 'o/d/e', 'o', '']) {
      await expect(listParquetFiles({ repo }, { fetch: fakeHub({}).fetch })).rejects.toThrow(/is not a Hub dataset id/);
    }
  });

  it('asks a mirror or stand-in named by the endpoint, and keeps its files there', async () => {
    const hub = fakeHub({ default: { train: ['http://127.0.0.1:9/api/datasets/o/d/parquet/default/train/0.parquet'] } });
    const listing = await listParquetFiles({ repo: 'o/d' }, { fetch: hub.fetch, endpoint: 'http://127.0.0.1:9/' });
    expect(hub.asked).toEqual(['http://127.0.0.1:9/api/datasets/o/d/parquet']);
    expect(listing.files[0].url).toBe('http://127.0.0.1:9/api/datasets/o/d/parquet/default/train/0.parquet');
  });

  it("a gated dataset's error names its dataset page and how a token is given where it runs", async () => {
    const fetch = (async () => new Response('restricted', { status: 401 })) as unknown as typeof globalThis.fetch;
    await expect(listParquetFiles({ repo: 'o/d' }, { fetch, access: { kind: 'model', tokenHint: 'set it as HF_TOKEN' } })).rejects.toThrow(
      'o/d is gated (HTTP 401): the Hub needs a Hugging Face access token. Accept the license on huggingface.co/datasets/o/d while signed in, create a read token at huggingface.co/settings/tokens, set it as HF_TOKEN, and download again.',
    );
  });
});
