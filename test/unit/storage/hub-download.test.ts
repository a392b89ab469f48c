import { describe, expect, it } from 'vitest';
import { DownloadStopped, downloadFile, downloadHubModel, HubAccessError, type HubProgress } from '../../../src/app/hub';
import { openStudioStorage } from '../../../src/storage';
import { FakeDirectory } from './fake-opfs';
import { freshStore } from './helpers';

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 17 + seed) % 256;
  return out;
}

interface Seen {
  path: string;
  range: string | null;
  authorization: string | null;
}

/**
 * A stand-in for the Hub: the listing API and resolve URLs with Range support. `cut` breaks the
 * body of a file's first `times` answers after `after` bytes: 'error' as a dropped connection,
 * 'close' as one that ends early.
 */
function fakeHub(
  repo: string,
  files: Record<string, Uint8Array>,
  options: {
    cut?: { path: string; after: number; how: 'error' | 'close'; times?: number };
    status?: number;
    ranges?: boolean;
    /** Leave out Content-Range, as a CDN that does not expose it to CORS reads. */
    hideContentRange?: boolean;
  } = {},
) {
  const seen: Seen[] = [];
  let cuts = options.cut?.times ?? 1;
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    seen.push({ path: url.pathname, range: headers.get('range'), authorization: headers.get('authorization') });
    if (url.pathname === `/api/models/${repo}`) {
      return Response.json({ siblings: Object.entries(files).map(([rfilename, b]) => ({ rfilename, size: b.length })) });
    }
    const name = decodeURIComponent(url.pathname.slice(`/${repo}/resolve/main/`.length));
    if (options.status) return new Response('no', { status: options.status });
    const data = files[name];
    if (!data) return new Response('not found', { status: 404 });
    const range = headers.get('range');
    const start = range && options.ranges !== false ? Number(/^bytes=(\d+)-$/.exec(range)![1]) : 0;
    const body = data.subarray(start);
    const cut = options.cut?.path === name && cuts > 0 ? options.cut : null;
    if (cut) cuts--;
    const end = cut ? Math.min(cut.after, body.length) : body.length;
    let at = 0;
    // One chunk a pull, as a network stream delivers them: an error comes after what was read.
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // A stopped fetch errors its body, as a browser's does.
        if (init?.signal?.aborted) controller.error(new DOMException('The user aborted a request.', 'AbortError'));
        else if (at < end) {
          controller.enqueue(body.slice(at, Math.min(at + 1000, end)));
          at += 1000;
        } else if (cut?.how === 'error') controller.error(new TypeError('network error'));
        else controller.close();
      },
    });
    return start > 0
      ? new Response(stream, {
          status: 206,
          headers: options.hideContentRange ? {} : { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` },
        })
      : new Response(stream, { status: 200 });
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}

const noWait = async () => {};

function storages() {
  const disk = new FakeDirectory();
  return openStudioStorage(freshStore().store, async () => disk);
}

describe('Hub downloads resume with a Range request from the bytes already kept', () => {
  const repo = 'org/tiny';
  const files = { 'config.json': bytes(300, 2), 'tokenizer.json': bytes(500, 3), 'model.safetensors': bytes(50_000, 4) };

  it.each([
    ['error', false],
    ['close', false],
    ['error', true],
  ] as const)('a connection that breaks mid-file (%s; Content-Range hidden: %s) resumes from where it broke', async (how, hide) => {
    const storage = storages();
    const hub = fakeHub(repo, files, { cut: { path: 'model.safetensors', after: 20_000, how }, hideContentRange: hide });
    const progress: HubProgress[] = [];
    await downloadHubModel(repo, await storage.stageModel(`hub:${repo}`), (p) => progress.push(p), { fetch: hub.fetch, sleep: noWait });
    const weights = hub.seen.filter((s) => s.path.endsWith('/model.safetensors'));
    expect(weights.map((s) => s.range)).toEqual([null, 'bytes=20000-']);
    const src = (await storage.modelFileSource(`hub:${repo}`))!;
    expect(Buffer.from((await src.readBytes('model.safetensors'))!).equals(Buffer.from(files['model.safetensors']))).toBe(true);
    expect(await src.readRange!('config.json', 10, 20)).toEqual(files['config.json'].subarray(10, 20));
    // Progress never goes back: the resumed bytes count from what was kept.
    const loaded = progress.map((p) => p.loaded);
    expect(loaded).toEqual([...loaded].sort((a, b) => a - b));
    expect(progress.at(-1)).toMatchObject({ loaded: 50_800, total: 50_800 });
  });

  it('gives up after its retries, keeps what arrived, and the next download asks only for the rest', async () => {
    const storage = storages();
    const failing = fakeHub(repo, files, { cut: { path: 'model.safetensors', after: 3000, how: 'error', times: 3 } });
    const staging = await storage.stageModel(`hub:${repo}`);
    await expect(downloadHubModel(repo, staging, () => {}, { fetch: failing.fetch, sleep: noWait, retries: 2 })).rejects.toThrow(
      /broke off after 9000 bytes/,
    );
    expect(await storage.modelFileSource(`hub:${repo}`)).toBeUndefined();
    expect(await storage.listStoredModels()).toMatchObject([{ key: `hub:${repo}`, bytes: 0, partialBytes: 300 + 500 + 9000 }]);

    // Later (a new page): the download finds the kept bytes; config and tokenizer are not fetched again.
    const hub = fakeHub(repo, files);
    await downloadHubModel(repo, await storage.stageModel(`hub:${repo}`), () => {}, { fetch: hub.fetch, sleep: noWait });
    expect(hub.seen.map((s) => [s.path, s.range])).toEqual([
      [`/api/models/${repo}`, null],
      [`/${repo}/resolve/main/model.safetensors`, 'bytes=9000-'],
    ]);
    expect(await storage.listStoredModels()).toMatchObject([{ key: `hub:${repo}`, bytes: 50_800, partialBytes: 0 }]);
  });

  it('a server that ignores Range sends the whole file, which replaces the kept part', async () => {
    const storage = storages();
    const staging = await storage.stageModel('k');
    const hub = fakeHub(repo, files, { ranges: false, cut: { path: 'model.safetensors', after: 7000, how: 'close' } });
    const kept: number[] = [];
    await downloadFile(
      { repo, path: 'model.safetensors', size: 50_000, staging, onKept: (n) => kept.push(n) },
      { fetch: hub.fetch, sleep: noWait },
    );
    expect(await staging.keptBytes('model.safetensors')).toBe(50_000);
    await staging.commit(['model.safetensors']);
    const got = await (await storage.modelFileSource('k'))!.readBytes('model.safetensors');
    expect(Buffer.from(got!).equals(Buffer.from(files['model.safetensors']))).toBe(true);
  });

  it('a gated repo answering 401 says so and asks for a token; the token goes as a Bearer header', async () => {
    const storage = storages();
    const gated = fakeHub(repo, files, { status: 401 });
    const error = await downloadHubModel(repo, await storage.stageModel('k'), () => {}, { fetch: gated.fetch, sleep: noWait }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HubAccessError);
    expect((error as Error).message).toMatch(/is gated \(HTTP 401\).*access token/);
    expect(gated.seen).toHaveLength(2); // no retries

    const refused = fakeHub(repo, files, { status: 403 });
    const withToken = await downloadHubModel(repo, await storage.stageModel('k'), () => {}, {
      fetch: refused.fetch,
      token: 'hf_secret',
    }).catch((e: unknown) => e);
    expect((withToken as Error).message).toMatch(/no access yet \(HTTP 403\).*accept the license/);
    expect(refused.seen.every((s) => s.authorization === 'Bearer hf_secret')).toBe(true);
  });

  it('a shard index is read back from storage to find its shards, also on a resumed download', async () => {
    const storage = storages();
    const index = new TextEncoder().encode(
      JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }),
    );
    const sharded = {
      'config.json': bytes(10),
      'tokenizer.json': bytes(10),
      'model.safetensors.index.json': index,
      'model-00001-of-00002.safetensors': bytes(4000, 5),
      'model-00002-of-00002.safetensors': bytes(3000, 6),
    };
    const broken = fakeHub(repo, sharded, { cut: { path: 'model-00002-of-00002.safetensors', after: 1000, how: 'error', times: 9 } });
    await expect(
      downloadHubModel(repo, await storage.stageModel('k'), () => {}, { fetch: broken.fetch, sleep: noWait, retries: 0 }),
    ).rejects.toThrow(/broke off/);
    const hub = fakeHub(repo, sharded);
    const paths = await downloadHubModel(repo, await storage.stageModel('k'), () => {}, { fetch: hub.fetch, sleep: noWait });
    expect(paths).toEqual([
      'config.json',
      'tokenizer.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    expect(hub.seen.slice(1).map((s) => [s.path.split('/').at(-1), s.range])).toEqual([
      ['model-00002-of-00002.safetensors', 'bytes=1000-'],
    ]);
  });

  it('a stopped download is not retried, keeps what arrived, and resumes from it', async () => {
    const storage = storages();
    const hub = fakeHub(repo, files);
    const stop = new AbortController();
    const error = await downloadHubModel(
      repo,
      await storage.stageModel('k'),
      (p) => {
        if (p.file === 'model.safetensors' && p.loaded > 800 + 5000) stop.abort();
      },
      { fetch: hub.fetch, sleep: noWait, signal: stop.signal },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadStopped);
    expect(hub.seen.filter((s) => s.path.endsWith('model.safetensors'))).toHaveLength(1);
    const kept = (await storage.listStoredModels())[0].partialBytes - 800;
    expect(kept).toBeGreaterThan(5000);
    const again = fakeHub(repo, files);
    await downloadHubModel(repo, await storage.stageModel('k'), () => {}, { fetch: again.fetch, sleep: noWait });
    expect(again.seen.at(-1)!.range).toBe(`bytes=${kept}-`);
    const got = await (await storage.modelFileSource('k'))!.readBytes('model.safetensors');
    expect(Buffer.from(got!).equals(Buffer.from(files['model.safetensors']))).toBe(true);
  });
});
