import { createHash } from 'node:crypto';
import { createStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import {
  datasetFingerprint,
  fileFingerprint,
  openStudioStorage,
  readFingerprint,
  StorageFullError,
  storedDatasetFiles,
} from '../../../src/storage';
import { failingStore, freshStore, quotaError } from './helpers';

describe('datasetFingerprint', () => {
  it('is the hex SHA-256 of the UTF-8 text', async () => {
    expect(await datasetFingerprint('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await datasetFingerprint('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const text = '{"prompt": "¿Qué?", "chosen": " 😀", "rejected": " no"}\n';
    expect(await datasetFingerprint(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    const parquet = new Uint8Array([0x50, 0x41, 0x52, 0x31, 0, 255, 0x50, 0x41, 0x52, 0x31]);
    expect(await datasetFingerprint(parquet)).toBe(createHash('sha256').update(parquet).digest('hex'));
  });
});

const utf8 = (text: string) => new TextEncoder().encode(text);
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('fileFingerprint (files read on demand, hashed a 16 MiB piece at a time)', () => {
  it("is the SHA-256 of the size and the pieces' SHA-256s, one per line; several files, of their fingerprints", async () => {
    const piece = 16 * 2 ** 20;
    const bytes = Uint8Array.from({ length: piece + 1234 }, (_, i) => (i * 2654435761) >>> 24);
    const expected = sha256([`${bytes.length} bytes`, sha256(bytes.subarray(0, piece)), sha256(bytes.subarray(piece))].join('\n'));
    expect(await fileFingerprint([new Blob([bytes])])).toBe(expected);
    const small = utf8('{"prompt": "a", "chosen": "b", "rejected": "c"}\n');
    const smallPrint = sha256([`${small.length} bytes`, sha256(small)].join('\n'));
    expect(await fileFingerprint([new Blob([small])])).toBe(smallPrint);
    expect(await fileFingerprint([new Blob([bytes]), new Blob([small])])).toBe(sha256(`${expected}\n${smallPrint}`));
    expect(await fileFingerprint([new Blob([])])).toBe(sha256('0 bytes'));
  });
});

describe('stored datasets', () => {
  it('saved before bytes were kept (text records) still load as files', async () => {
    expect(await storedDatasetFiles({ fingerprint: 'f', name: 'old.jsonl', text: '{"a": 1}\n', savedAt: 0 })[0].text()).toBe('{"a": 1}\n');
  });

  it('come back after a reload, so a run can resume without the file', async () => {
    const { store, dbName } = freshStore();
    const bytes = new Uint8Array([0x50, 0x41, 0x52, 0x31, 1, 2, 3, 0x50, 0x41, 0x52, 0x31]);
    const fingerprint = await datasetFingerprint(bytes);
    await openStudioStorage(store).putDataset(fingerprint, { name: 'pairs.parquet', bytes });
    const reloaded = openStudioStorage(createStore(dbName, 'kv'));
    const stored = await reloaded.getDataset(fingerprint);
    expect(stored).toMatchObject({ fingerprint, name: 'pairs.parquet' });
    expect(new Uint8Array(await storedDatasetFiles(stored!)[0].arrayBuffer())).toEqual(bytes);
    expect(await reloaded.getDataset('0'.repeat(64))).toBeUndefined();
    await reloaded.deleteDataset(fingerprint);
    expect(await reloaded.getDataset(fingerprint)).toBeUndefined();
  });

  it('read another way (prompt split, column mapping) are kept apart, each with how it was read', async () => {
    const { store, dbName } = freshStore();
    const bytes = utf8('{"chosen": "Human: Q\\n\\nAssistant: Yes.", "rejected": "Human: Q\\n\\nAssistant: No."}\n');
    const content = await datasetFingerprint(bytes);
    expect(readFingerprint(content)).toBe(content);
    expect(readFingerprint(content, { promptSplit: 'common_prefix' })).toBe(content);
    const turn = readFingerprint(content, { promptSplit: 'last_turn' });
    const mapped = readFingerprint(content, { columns: { chosen: 'a', rejected: 'b' } });
    expect(new Set([content, turn, mapped]).size).toBe(3);
    await openStudioStorage(store).putDataset(content, { name: 'hh.jsonl', bytes, options: {} });
    await openStudioStorage(store).putDataset(turn, { name: 'hh.jsonl', bytes, options: { promptSplit: 'last_turn' } });
    const reloaded = openStudioStorage(createStore(dbName, 'kv'));
    expect((await reloaded.getDataset(content))?.options).toBeUndefined();
    expect((await reloaded.getDataset(turn))?.options).toEqual({ promptSplit: 'last_turn' });
  });

  it('a table of several Parquet files (a Hub split) is kept as its files, in order, under the hash of their hashes', async () => {
    const { store, dbName } = freshStore();
    const parts = [utf8('first file'), utf8('second file')];
    const fingerprint = await datasetFingerprint(parts);
    const hashes = [createHash('sha256').update('first file').digest('hex'), createHash('sha256').update('second file').digest('hex')];
    expect(fingerprint).toBe(createHash('sha256').update(hashes.join('\n')).digest('hex'));
    expect(await datasetFingerprint([parts[1], parts[0]])).not.toBe(fingerprint);
    await openStudioStorage(store).putDataset(fingerprint, { name: 'o/d (default/train)', bytes: parts });
    const stored = await openStudioStorage(createStore(dbName, 'kv')).getDataset(fingerprint);
    expect(await Promise.all(storedDatasetFiles(stored!).map((b) => b.text()))).toEqual(['first file', 'second file']);
  });

  it('a file read on demand is kept as the Blob it is, and comes back whole', async () => {
    const { store, dbName } = freshStore();
    const blob = new Blob([utf8('{"prompt": "a", "chosen": "b", "rejected": "c"}\n')]);
    await openStudioStorage(store).putDataset('large', { name: 'large.jsonl', bytes: blob });
    const stored = await openStudioStorage(createStore(dbName, 'kv')).getDataset('large');
    expect(await storedDatasetFiles(stored!)[0].text()).toBe(await blob.text());
  });

  it('a full disk rejects with StorageFullError and keeps what was stored', async () => {
    const { store } = freshStore();
    await openStudioStorage(store).putDataset('old', { name: 'old.jsonl', bytes: utf8('old') });
    const full = openStudioStorage(failingStore(store, () => quotaError()));
    await expect(full.putDataset('new', { name: 'big.jsonl', bytes: utf8('x'.repeat(1000)) })).rejects.toThrow(
      'Browser storage is full: could not save the dataset "big.jsonl". Everything saved earlier is intact.',
    );
    await expect(full.putDataset('old', { name: 'old.jsonl', bytes: utf8('replacement') })).rejects.toBeInstanceOf(StorageFullError);
    const storage = openStudioStorage(store);
    expect(await storage.getDataset('new')).toBeUndefined();
    expect(await storedDatasetFiles((await storage.getDataset('old'))!)[0].text()).toBe('old');
  });
});
