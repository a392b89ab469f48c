import { describe, expect, it } from 'vitest';
import { openStudioStorage, StorageFullError } from '../../../src/storage';
import { loadModelConfig } from '../../../src/core/model/config';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import { loadModelTensors, serializeSafetensors } from '../../../src/core/model/safetensors';
import { memorySource } from '../../../src/core/model/sources';
import { allKeys, failingStore, freshStore, quotaError } from './helpers';

function tinyModelFiles(seed: number): Map<string, Uint8Array | string> {
  const { configJson, tensors } = randomCheckpoint(
    'LlamaForCausalLM',
    { vocab_size: 20, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 },
    seed,
  );
  return new Map<string, Uint8Array | string>([
    ['config.json', JSON.stringify(configJson)],
    ['model.safetensors', serializeSafetensors(tensors)],
    ['tokenizer.json', '{"model": {"type": "BPE"}, "note": "ünïcode"}'],
  ]);
}

const fileKeys = async (store: Parameters<typeof allKeys>[0]) => (await allKeys(store)).filter((k) => k.startsWith('model-file/'));

describe('stored model files', () => {
  it('come back as stored, and load as a model through a FileSource with no network', async () => {
    const storage = openStudioStorage(freshStore().store);
    const files = tinyModelFiles(1);
    await storage.putModelFiles('hub:HuggingFaceTB/tiny@main', files);
    expect(await storage.getModelFiles('hub:HuggingFaceTB/tiny@main')).toEqual(files);

    const src = (await storage.modelFileSource('hub:HuggingFaceTB/tiny@main'))!;
    expect(src.name).toBe('browser storage: hub:HuggingFaceTB/tiny@main');
    expect((await loadModelConfig(src)).architecture).toBe('LlamaForCausalLM');
    expect(await loadModelTensors(src)).toEqual(await loadModelTensors(memorySource(files, 'memory')));
    // Text stored as text reads as UTF-8 bytes too, and bytes as text.
    expect(new TextDecoder().decode((await src.readBytes('tokenizer.json'))!)).toBe(files.get('tokenizer.json'));
    expect(await src.readText('/tokenizer.json')).toBe(files.get('tokenizer.json'));
    expect(await src.readBytes('adapter/adapter_config.json')).toBeNull();
  });

  it('are undefined for a key never stored, and listed with their sizes', async () => {
    const storage = openStudioStorage(freshStore().store);
    expect(await storage.getModelFiles('nope')).toBeUndefined();
    expect(await storage.modelFileSource('nope')).toBeUndefined();
    await storage.putModelFiles(
      'm',
      new Map<string, Uint8Array | string>([
        ['a.txt', 'hé'],
        ['b.bin', new Uint8Array([1, 2, 3])],
      ]),
    );
    const [manifest] = await storage.listModelFiles();
    expect(manifest).toMatchObject({
      key: 'm',
      files: [
        { path: 'a.txt', size: 2 },
        { path: 'b.bin', size: 3 },
      ],
    });
  });

  it('replacing a model removes the old files; keys sharing a prefix stay apart', async () => {
    const { store } = freshStore();
    const storage = openStudioStorage(store);
    await storage.putModelFiles(
      'owner/name',
      new Map<string, Uint8Array | string>([
        ['config.json', 'v1'],
        ['old.bin', new Uint8Array([9])],
      ]),
    );
    await storage.putModelFiles('owner', new Map([['config.json', 'other']]));
    await storage.putModelFiles('owner/name', new Map([['config.json', 'v2']]));
    expect(await storage.getModelFiles('owner/name')).toEqual(new Map([['config.json', 'v2']]));
    expect(await fileKeys(store)).toHaveLength(2);

    await storage.deleteModelFiles('owner');
    expect(await storage.getModelFiles('owner')).toBeUndefined();
    expect(await storage.getModelFiles('owner/name')).toEqual(new Map([['config.json', 'v2']]));
  });

  it('a save that runs out of space part-way keeps the previous model whole and leaves no partial files', async () => {
    const { store } = freshStore();
    await openStudioStorage(store).putModelFiles('m', tinyModelFiles(1));
    const before = await fileKeys(store);
    let puts = 0;
    const full = openStudioStorage(failingStore(store, (op) => (op === 'put' && ++puts === 2 ? quotaError() : null)));

    const error = await full.putModelFiles('m', tinyModelFiles(2)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageFullError);
    expect((error as Error).message).toContain('could not save the file "model.safetensors" of model "m"');
    expect(await openStudioStorage(store).getModelFiles('m')).toEqual(tinyModelFiles(1));
    expect(await fileKeys(store)).toEqual(before);
  });

  it('stores a Uint8Array view with only its own bytes', async () => {
    const storage = openStudioStorage(freshStore().store);
    const buffer = new Uint8Array(4096).fill(5);
    await storage.putModelFiles('m', new Map([['x.bin', buffer.subarray(100, 104)]]));
    const stored = (await storage.getModelFiles('m'))!.get('x.bin') as Uint8Array;
    expect(stored).toEqual(new Uint8Array([5, 5, 5, 5]));
    expect(stored.buffer.byteLength).toBe(4);
  });
});
