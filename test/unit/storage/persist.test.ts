import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { openStudioStorage } from '../../../src/storage';
import type { DatasetSession } from '../../../src/worker/dataset-session';
import { storeDataset } from '../../../src/worker/persist';
import { quotaError } from './helpers';

const realPut = IDBObjectStore.prototype.put;

afterEach(() => {
  IDBObjectStore.prototype.put = realPut;
});

function dataset(fingerprint: string): DatasetSession {
  return {
    fingerprint,
    name: 'pairs.jsonl',
    content: [new Blob(['{"prompt": "p", "chosen": "c", "rejected": "r"}\n'])],
    options: {},
  } as unknown as DatasetSession;
}

describe('storeDataset (the worker keeping a run’s file)', () => {
  it('keeps the file in browser storage once', async () => {
    expect(await storeDataset(dataset('f1'))).toBeNull();
    expect(await openStudioStorage().getDataset('f1')).toMatchObject({ name: 'pairs.jsonl', fingerprint: 'f1' });
    // Already there: no second write.
    IDBObjectStore.prototype.put = () => {
      throw new Error('written twice');
    };
    expect(await storeDataset(dataset('f1'))).toBeNull();
  });

  it('with storage full, lets training go on and says what that costs', async () => {
    IDBObjectStore.prototype.put = () => {
      throw quotaError();
    };
    const warning = await storeDataset(dataset('f2'));
    expect(warning).toBe(
      'Browser storage is full, so pairs.jsonl could not be kept there. Training goes on; to resume this run after a reload, drop the same file again first.',
    );
    IDBObjectStore.prototype.put = realPut;
    expect(await openStudioStorage().getDataset('f2')).toBeUndefined();
  });

  it('passes on any other failure', async () => {
    IDBObjectStore.prototype.put = () => {
      throw new Error('disk on fire');
    };
    await expect(storeDataset(dataset('f3'))).rejects.toThrow('disk on fire');
  });
});
