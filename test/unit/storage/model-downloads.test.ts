import { describe, expect, it } from 'vitest';
import { loadModelTensors, serializeSafetensors } from '../../../src/core/model/safetensors';
import { memorySource } from '../../../src/core/model/sources';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import { openStudioStorage, StorageFullError, type StudioStorage } from '../../../src/storage';
import { BLOCK_BYTES } from '../../../src/storage/models';
import { opfsModelSource, stageOpfsModel } from '../../../src/storage/opfs';
import { FakeDirectory } from './fake-opfs';
import { freshStore } from './helpers';

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7) % 251;
  return out;
}

/** Byte equality without the deep-equality walk, which takes seconds on megabytes. */
function expectBytes(actual: Uint8Array | null | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual!.length).toBe(expected.length);
  expect(
    Buffer.from(actual!.buffer, actual!.byteOffset, actual!.length).equals(
      Buffer.from(expected.buffer, expected.byteOffset, expected.length),
    ),
  ).toBe(true);
}

/** Each backend the studio stores downloads in: the file system where there is one, IndexedDB blocks else. */
const BACKENDS: [string, () => { storage: StudioStorage; disk: FakeDirectory | null }][] = [
  [
    'opfs',
    () => {
      const disk = new FakeDirectory();
      return { storage: openStudioStorage(freshStore().store, async () => disk), disk };
    },
  ],
  ['indexeddb', () => ({ storage: openStudioStorage(freshStore().store, async () => null), disk: null })],
];

async function writeAll(storage: StudioStorage, key: string, files: Record<string, Uint8Array>, chunk = 1000): Promise<void> {
  const staging = await storage.stageModel(key);
  for (const [path, data] of Object.entries(files)) {
    const out = await staging.openWriter(path, 0);
    for (let i = 0; i < data.length; i += chunk) await out.write(data.subarray(i, i + chunk));
    await out.close();
  }
  await staging.commit(Object.keys(files));
}

describe.each(BACKENDS)('model downloads kept in %s', (backend, open) => {
  it('stream in chunk by chunk, commit, and read back whole and by range', async () => {
    const { storage } = open();
    const big = bytes(BLOCK_BYTES + 12_345);
    await writeAll(storage, 'hub:o/m', { 'config.json': new TextEncoder().encode('{"a":1}'), 'model.safetensors': big }, 65_536);
    const src = (await storage.modelFileSource('hub:o/m', 'm'))!;
    expect(await src.readText('config.json')).toBe('{"a":1}');
    expectBytes(await src.readBytes('model.safetensors'), big);
    // Across a block boundary, at the end, past the end.
    expect(await src.readRange!('model.safetensors', BLOCK_BYTES - 10, BLOCK_BYTES + 10)).toEqual(
      big.subarray(BLOCK_BYTES - 10, BLOCK_BYTES + 10),
    );
    expectBytes(await src.readRange!('model.safetensors', big.length - 5, big.length + 100), big.subarray(big.length - 5));
    expect(await src.readRange!('missing.bin', 0, 10)).toBeNull();
    const [summary] = await storage.listStoredModels();
    expect(summary).toMatchObject({ key: 'hub:o/m', backend, bytes: big.length + 7, partialBytes: 0 });
    expect(summary.savedAt).toBeTypeOf('number');
  });

  it('an interrupted download keeps its bytes and resumes from them; the previous copy loads until the commit', async () => {
    const { storage, disk } = open();
    await writeAll(storage, 'k', { 'model.safetensors': bytes(3000, 1) });
    const next = bytes(BLOCK_BYTES + 5000, 2);
    const half = BLOCK_BYTES - 777; // a partly filled block, to be completed on resume

    const first = await storage.stageModel('k');
    const out = await first.openWriter('model.safetensors', 0);
    await out.write(next.subarray(0, half));
    await out.close(); // the connection broke here
    expectBytes(await (await storage.modelFileSource('k'))!.readBytes('model.safetensors'), bytes(3000, 1));
    expect((await storage.listStoredModels())[0]).toMatchObject({ key: 'k', bytes: 3000, partialBytes: half });

    // A new attempt (after a reload) finds the same download and what it kept.
    const again = await storage.stageModel('k');
    expect(await again.keptBytes('model.safetensors')).toBe(half);
    expect(await again.keptBytes('config.json')).toBe(0);
    // IndexedDB blocks only append to what is kept (the file system could truncate anywhere).
    if (backend === 'indexeddb') await expect(again.openWriter('model.safetensors', half - 1)).rejects.toThrow(/append at/);
    const rest = await again.openWriter('model.safetensors', half);
    await rest.write(next.subarray(half));
    await rest.close();
    await again.commit(['model.safetensors']);
    expectBytes(await (await storage.modelFileSource('k'))!.readBytes('model.safetensors'), next);
    expect(await storage.listStoredModels()).toMatchObject([{ key: 'k', bytes: next.length, partialBytes: 0 }]);
    if (disk) {
      // Only the manifest and the new generation remain.
      const files = Object.keys(disk.tree()).map((p) => p.split('/').slice(2).join('/'));
      expect(files.sort()).toEqual([expect.stringMatching(/^[0-9a-f-]+\/model.safetensors.0$/), 'manifest.json']);
    }
  });

  it('writing a file from 0 again drops what was kept of it', async () => {
    const { storage } = open();
    const staging = await storage.stageModel('k');
    const a = await staging.openWriter('x.bin', 0);
    await a.write(bytes(BLOCK_BYTES + 10));
    await a.close();
    const b = await staging.openWriter('x.bin', 0);
    await b.write(bytes(5, 3));
    await b.close();
    expect(await staging.keptBytes('x.bin')).toBe(5);
    await staging.commit(['x.bin']);
    expectBytes(await (await storage.modelFileSource('k'))!.readBytes('x.bin'), bytes(5, 3));
  });

  it('delete frees the stored copy and an unfinished download', async () => {
    const { storage, disk } = open();
    await writeAll(storage, 'k', { 'a.bin': bytes(100) });
    const staging = await storage.stageModel('k');
    const out = await staging.openWriter('a.bin', 0);
    await out.write(bytes(50));
    await out.close();
    await writeAll(storage, 'other', { 'b.bin': bytes(10) });
    await storage.deleteModelFiles('k');
    expect(await storage.modelFileSource('k')).toBeUndefined();
    expect((await storage.listStoredModels()).map((m) => m.key)).toEqual(['other']);
    expect(await (await storage.stageModel('k')).keptBytes('a.bin')).toBe(0);
    if (disk)
      expect(
        Object.keys(disk.tree())
          .filter((p) => p.startsWith('models/k/'))
          .filter((p) => !p.endsWith('pending.json')),
      ).toEqual([]);
  });

  it('a tiny model stored this way loads tensor by tensor through ranged reads', async () => {
    const { storage } = open();
    const { configJson, tensors } = randomCheckpoint(
      'LlamaForCausalLM',
      { vocab_size: 64, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1 },
      3,
    );
    const weights = serializeSafetensors(tensors);
    await writeAll(storage, 'tiny', { 'config.json': new TextEncoder().encode(JSON.stringify(configJson)), 'model.safetensors': weights });
    const src = (await storage.modelFileSource('tiny'))!;
    expect(await loadModelTensors(src)).toEqual(await loadModelTensors(memorySource(new Map([['model.safetensors', weights]]), 'm')));
  });
});

describe('model downloads in the file system', () => {
  it('a full disk is a StorageFullError, and what was written before stays kept', async () => {
    const disk = new FakeDirectory();
    const storage = openStudioStorage(freshStore().store, async () => disk);
    const staging = await storage.stageModel('k');
    const out = await staging.openWriter('w.bin', 0);
    await out.write(bytes(100));
    const models = await disk.getDirectoryHandle('models');
    const dir = await models.getDirectoryHandle(encodeURIComponent('k'));
    const generation = [...dir.entries.keys()].find((n) => n !== 'pending.json')!;
    const file = await (await dir.getDirectoryHandle(generation)).getFileHandle('w.bin.0');
    file.failNextWrite = new DOMException('full', 'QuotaExceededError');
    await expect(out.write(bytes(100))).rejects.toBeInstanceOf(StorageFullError);
    await out.close();
    expect(await staging.keptBytes('w.bin')).toBe(100);
  });

  it('a ranged read reads only its slice of the file', async () => {
    const disk = new FakeDirectory();
    const storage = openStudioStorage(freshStore().store, async () => disk);
    await writeAll(storage, 'k', { 'w.bin': bytes(10_000) });
    const src = (await storage.modelFileSource('k'))!;
    expectBytes(await src.readRange!('w.bin', 9000, 9010), bytes(10_000).subarray(9000, 9010));
  });

  it('a model kept in IndexedDB by an earlier version still loads, lists and deletes', async () => {
    const disk = new FakeDirectory();
    const { store } = freshStore();
    const storage = openStudioStorage(store, async () => disk);
    await storage.putModelFiles('hub:old/model', new Map([['config.json', '{}']]));
    expect(await (await storage.modelFileSource('hub:old/model'))!.readText('config.json')).toBe('{}');
    expect(await storage.listStoredModels()).toMatchObject([{ key: 'hub:old/model', backend: 'indexeddb', bytes: 2 }]);
    await storage.deleteModelFiles('hub:old/model');
    expect(await storage.listStoredModels()).toEqual([]);
  });

  it('keeps big files in segments, so a tab closed mid-file loses only the segment under way', async () => {
    const disk = new FakeDirectory();
    const data = bytes(3500, 9);
    const first = await stageOpfsModel(disk, 'k', 1000);
    const out = await first.openWriter('w.bin', 0);
    for (let i = 0; i < 3500; i += 700) await out.write(data.subarray(i, i + 700));
    // The tab closes here: the open segment's stream is never closed.
    const resumed = await stageOpfsModel(disk, 'k', 1000);
    expect(await resumed.keptBytes('w.bin')).toBe(3000);
    const rest = await resumed.openWriter('w.bin', 3000);
    await rest.write(data.subarray(3000));
    await rest.close();
    await resumed.commit(['w.bin']);
    const src = (await opfsModelSource(disk, 'k'))!;
    expectBytes(await src.readBytes('w.bin'), data);
    expectBytes(await src.readRange!('w.bin', 950, 2050), data.subarray(950, 2050));
    const segments = Object.keys(disk.tree()).filter((p) => p.includes('w.bin'));
    expect(segments.map((p) => p.split('/').at(-1)).sort()).toEqual(['w.bin.0', 'w.bin.1', 'w.bin.2', 'w.bin.3']);

    // Resuming inside a segment keeps its start; stale segments past it go.
    const again = await stageOpfsModel(disk, 'k', 1000);
    const w = await again.openWriter('w.bin', 0);
    await w.write(data.subarray(0, 2500));
    await w.close();
    const back = await again.openWriter('w.bin', 1500);
    await back.write(bytes(10, 4));
    await back.close();
    expect(await again.keptBytes('w.bin')).toBe(1510);
    await again.commit(['w.bin']);
    const got = (await (await opfsModelSource(disk, 'k'))!.readBytes('w.bin'))!;
    expectBytes(got.subarray(0, 1500), data.subarray(0, 1500));
    expectBytes(got.subarray(1500), bytes(10, 4));
  });
});
