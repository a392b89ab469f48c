import { describe, it, expect, vi, afterEach } from 'vitest';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileListSource, memorySource, readJsonFile, subSource, urlSource, type PickedFile } from '../../../src/core/model/sources';
import { fsSource } from '../../../src/cli/fs-source';

const decoder = new TextDecoder();

function picked(webkitRelativePath: string, content: string, name = webkitRelativePath.split('/').pop()!): PickedFile {
  return {
    name,
    webkitRelativePath,
    arrayBuffer: async () => new TextEncoder().encode(content).buffer as ArrayBuffer,
    text: async () => content,
  };
}

describe('memorySource and subSource', () => {
  const src = memorySource(
    new Map<string, Uint8Array | string>([
      ['config.json', '{"a":1}'],
      ['adapter/adapter_config.json', '{"r":8}'],
      ['adapter/adapter_model.safetensors', new Uint8Array([104, 105])],
    ]),
    'memory',
  );

  it('reads text and bytes either way round, and a missing file as null', async () => {
    expect(await src.readText('config.json')).toBe('{"a":1}');
    expect(Array.from((await src.readBytes('config.json'))!)).toEqual([123, 34, 97, 34, 58, 49, 125]);
    expect(await src.readText('adapter/adapter_model.safetensors')).toBe('hi');
    expect(await src.readBytes('tokenizer.json')).toBeNull();
  });

  it('addresses a subfolder relative to itself and names it', async () => {
    const adapter = subSource(src, 'adapter/');
    expect(adapter.name).toBe('memory/adapter');
    expect(await adapter.readText('adapter_config.json')).toBe('{"r":8}');
    expect(await adapter.readText('config.json')).toBeNull();
    expect(await readJsonFile(adapter, 'adapter_config.json')).toEqual({ r: 8 });
  });

  it('readJsonFile names the file that is not JSON', async () => {
    await expect(readJsonFile(memorySource(new Map([['x.json', '{oops']]), 'models/m/'), 'x.json')).rejects.toThrow(
      /^models\/m\/x\.json is not valid JSON: /,
    );
  });
});

describe('fileListSource', () => {
  it('matches paths below the picked folder', async () => {
    const src = fileListSource(
      [
        picked('SmolLM2/config.json', 'root config'),
        picked('SmolLM2/adapter/config.json', 'adapter config'),
        picked('SmolLM2/adapter/adapter_config.json', 'lora'),
      ],
      'SmolLM2',
    );
    expect(await src.readText('config.json')).toBe('root config');
    expect(await src.readText('adapter/config.json')).toBe('adapter config');
    expect(decoder.decode((await subSource(src, 'adapter').readBytes('adapter_config.json'))!)).toBe('lora');
    // A file missing at the root is not taken from a subfolder, nor the other way round.
    expect(await src.readText('adapter_config.json')).toBeNull();
    expect(await src.readText('adapter/tokenizer.json')).toBeNull();
  });

  it('addresses files from inside the model folder when its parent was picked', async () => {
    const src = fileListSource([picked('models/tiny/config.json', 'c'), picked('models/tiny/adapter/adapter_config.json', 'a')], 'models');
    expect(await src.readText('config.json')).toBe('c');
    expect(await src.readText('adapter/adapter_config.json')).toBe('a');
  });

  it('matches files chosen one by one by bare name, and refuses to guess between several', async () => {
    const loose = fileListSource([picked('', 'c', 'config.json'), picked('', 'a', 'adapter_config.json')], 'chosen files');
    expect(await loose.readText('config.json')).toBe('c');
    expect(await loose.readText('adapter/adapter_config.json')).toBe('a');
    expect(await loose.readText('adapter/adapter_model.safetensors')).toBeNull();

    const twoCheckpoints = fileListSource(
      [picked('out/config.json', 'c'), picked('out/ckpt-1/adapter_config.json', '1'), picked('out/ckpt-2/adapter_config.json', '2')],
      'out',
    );
    await expect(twoCheckpoints.readText('adapter/adapter_config.json')).rejects.toThrow(
      /out: "adapter\/adapter_config\.json" matches several chosen files \(ckpt-1\/adapter_config\.json, ckpt-2\/adapter_config\.json\)/,
    );
  });
});

describe('urlSource', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  function stubFetch(routes: Record<string, { status: number; body: string; type?: string }>) {
    const requested: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      requested.push(url);
      const route = routes[url] ?? { status: 404, body: 'not found' };
      return new Response(route.body, { status: route.status, headers: { 'content-type': route.type ?? 'application/octet-stream' } });
    });
    return requested;
  }

  it('fetches below the base URL, reads 404 and an SPA fallback page as missing, and reports other failures', async () => {
    const requested = stubFetch({
      'https://host/models/m/config.json': { status: 200, body: '{"x":1}', type: 'application/json' },
      'https://host/models/m/adapter/a%20b.bin': { status: 200, body: 'AB' },
      'https://host/models/m/tokenizer.json': { status: 200, body: '<!doctype html>', type: 'text/html; charset=utf-8' },
      'https://host/models/m/broken.json': { status: 500, body: 'oops' },
    });
    const src = urlSource('https://host/models/m/', 'demo model');
    expect(src.name).toBe('demo model');
    expect(await src.readText('config.json')).toBe('{"x":1}');
    expect(decoder.decode((await src.readBytes('adapter/a b.bin'))!)).toBe('AB');
    expect(await src.readText('generation_config.json')).toBeNull();
    expect(await src.readText('tokenizer.json')).toBeNull();
    await expect(src.readText('broken.json')).rejects.toThrow('could not fetch https://host/models/m/broken.json: HTTP 500');
    expect(requested).toContain('https://host/models/m/generation_config.json');
  });
});

describe('fsSource', () => {
  it('reads files below a folder, a missing file as null, and a missing folder as an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-source-'));
    try {
      await mkdir(join(dir, 'adapter'));
      await writeFile(join(dir, 'config.json'), '\ufeff{"a":1}');
      await writeFile(join(dir, 'adapter', 'w.bin'), new Uint8Array([1, 2, 3]));
      const src = fsSource(dir);
      expect(src.name).toBe(dir);
      expect(await src.readText('config.json')).toBe('{"a":1}');
      const bytes = (await src.readBytes('adapter/w.bin'))!;
      expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
      expect(Array.from(bytes)).toEqual([1, 2, 3]);
      expect(await src.readBytes('model.safetensors')).toBeNull();
      expect(await src.readText('config.json/inner')).toBeNull();

      const gone = join(dir, 'no-such-model');
      await expect(fsSource(gone).readText('config.json')).rejects.toThrow(`model folder ${gone} does not exist`);
      await expect(fsSource(join(dir, 'config.json')).readText('config.json')).rejects.toThrow(/config\.json is not a folder/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
