import { describe, expect, it } from 'vitest';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';
import { openStudioStorage, StorageFullError, type NewRun } from '../../../src/storage';
import { allKeys, failingStore, freshStore, quotaError, trainerState } from './helpers';

const NEW_RUN: NewRun = {
  name: 'beta 0.1',
  config: DEFAULT_DPO_CONFIG,
  lora: { r: 8, lora_alpha: 16, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
  model: { kind: 'demo', id: 'demo', name: 'Demo model' },
  dataset: { name: 'pairs.jsonl', fingerprint: 'f'.repeat(64), pairs: 12 },
  totalSteps: 10,
};

const history = (step: number) => Array.from({ length: step / 2 }, (_, i) => ({ step: 2 * (i + 1), epoch: i / 10, loss: 0.69 - i * 0.01 }));

const checkpointKeys = async (store: Parameters<typeof allKeys>[0]) => (await allKeys(store)).filter((k) => k.startsWith('ckpt/'));

describe('saveCheckpoint / loadLatestCheckpoint', () => {
  it('round-trips the trainer state exactly, Float32Arrays included, and records step and history on the run', async () => {
    const { store } = freshStore();
    const storage = openStudioStorage(store);
    const run = await storage.createRun(NEW_RUN);
    const state = trainerState(4);
    await storage.saveCheckpoint(run.id, { step: 4, state, history: history(4) });

    const loaded = (await storage.loadLatestCheckpoint(run.id))!;
    expect(loaded).toMatchObject({ runId: run.id, step: 4, history: history(4) });
    expect(loaded.state).toEqual(state);
    expect(loaded.state.adapter[0]).toBeInstanceOf(Float32Array);
    expect(loaded.state.optimizer.v[1]).toBeInstanceOf(Float32Array);
    expect(await storage.getRun(run.id)).toMatchObject({ name: 'beta 0.1', step: 4, history: history(4) });
  });

  it('is undefined for a run that never saved one', async () => {
    const storage = openStudioStorage(freshStore().store);
    expect(await storage.loadLatestCheckpoint('nothing-here')).toBeUndefined();
  });

  it('keeps only the latest checkpoint, also when two saves share a step (pause right after a periodic save)', async () => {
    const { store } = freshStore();
    const storage = openStudioStorage(store);
    await storage.saveCheckpoint('r', { step: 2, state: trainerState(2), history: history(2) });
    await storage.saveCheckpoint('r', { step: 4, state: trainerState(4), history: history(4) });
    await storage.saveCheckpoint('r', { step: 4, state: trainerState(4, 99), history: history(4) });
    expect(await checkpointKeys(store)).toHaveLength(1);
    expect((await storage.loadLatestCheckpoint('r'))!.state).toEqual(trainerState(4, 99));
  });

  it('stores a view into a larger buffer with only its own bytes', async () => {
    const { store } = freshStore();
    const storage = openStudioStorage(store);
    const state = trainerState(2);
    const big = new Float32Array(1000).fill(7);
    state.adapter[0] = big.subarray(10, 18);
    await storage.saveCheckpoint('r', { step: 2, state, history: [] });
    const stored = (await storage.loadLatestCheckpoint('r'))!.state.adapter[0];
    expect(stored).toEqual(new Float32Array(8).fill(7));
    expect(stored.buffer.byteLength).toBe(32);
  });

  it('refuses a step that disagrees with the state', async () => {
    const storage = openStudioStorage(freshStore().store);
    await expect(storage.saveCheckpoint('r', { step: 5, state: trainerState(4), history: [] })).rejects.toThrow(
      "step 5 does not match the trainer state's globalStep 4",
    );
  });

  it('does not touch checkpoints of a run whose id extends another’s', async () => {
    const storage = openStudioStorage(freshStore().store);
    await storage.saveCheckpoint('a/b', { step: 2, state: trainerState(2), history: [] });
    await storage.saveCheckpoint('a', { step: 4, state: trainerState(4), history: [] });
    expect((await storage.loadLatestCheckpoint('a/b'))!.step).toBe(2);
  });

  it('a rename in the page and a checkpoint in the worker at the same moment both land', async () => {
    const { store } = freshStore();
    const page = openStudioStorage(store);
    const worker = openStudioStorage(store);
    const run = await page.createRun(NEW_RUN);
    await Promise.all([
      page.renameRun(run.id, 'renamed'),
      worker.saveCheckpoint(run.id, { step: 2, state: trainerState(2), history: history(2) }),
    ]);
    expect(await page.getRun(run.id)).toMatchObject({ name: 'renamed', step: 2, history: history(2) });
  });
});

describe('a failed save leaves the previous checkpoint loadable', () => {
  async function withSavedStep2() {
    const { store } = freshStore();
    const storage = openStudioStorage(store);
    const run = await storage.createRun(NEW_RUN);
    await storage.saveCheckpoint(run.id, { step: 2, state: trainerState(2), history: history(2) });
    return { store, run };
  }

  async function expectStep2(store: Parameters<typeof openStudioStorage>[0], runId: string) {
    const storage = openStudioStorage(store);
    const loaded = (await storage.loadLatestCheckpoint(runId))!;
    expect(loaded.step).toBe(2);
    expect(loaded.state).toEqual(trainerState(2));
    expect(loaded.history).toEqual(history(2));
    expect(await storage.getRun(runId)).toMatchObject({ step: 2, history: history(2) });
  }

  it('when writing the new checkpoint fails', async () => {
    const { store, run } = await withSavedStep2();
    const broken = failingStore(store, (op, key) => (op === 'put' && key.startsWith('ckpt/') ? new Error('disk went away') : null));
    await expect(
      openStudioStorage(broken).saveCheckpoint(run.id, { step: 4, state: trainerState(4), history: history(4) }),
    ).rejects.toThrow('disk went away');
    await expectStep2(store, run.id);
    expect(await checkpointKeys(store)).toHaveLength(1);
  });

  it('when the tab dies mid-write (the transaction aborts after the request was issued)', async () => {
    const { store, run } = await withSavedStep2();
    const broken = failingStore(store, (op, key) => (op === 'put' && key.startsWith('ckpt/') ? new Error('tab closed') : null), 'abort');
    await expect(
      openStudioStorage(broken).saveCheckpoint(run.id, { step: 4, state: trainerState(4), history: history(4) }),
    ).rejects.toThrow();
    await expectStep2(store, run.id);
  });

  it('when switching the pointer fails: the new checkpoint is dropped again', async () => {
    const { store, run } = await withSavedStep2();
    const broken = failingStore(store, (op, key) => (op === 'put' && key.startsWith('ckpt-latest/') ? new Error('switch failed') : null));
    await expect(
      openStudioStorage(broken).saveCheckpoint(run.id, { step: 4, state: trainerState(4), history: history(4) }),
    ).rejects.toThrow('switch failed');
    await expectStep2(store, run.id);
    expect(await checkpointKeys(store)).toHaveLength(1);
  });

  it('when the switch fails after deleting the older checkpoint: the deletion is rolled back with it', async () => {
    const { store, run } = await withSavedStep2();
    // The run record is written last in the switch transaction.
    const broken = failingStore(store, (op, key) => (op === 'put' && key.startsWith('run/') ? new Error('late failure') : null));
    await expect(
      openStudioStorage(broken).saveCheckpoint(run.id, { step: 4, state: trainerState(4), history: history(4) }),
    ).rejects.toThrow('late failure');
    await expectStep2(store, run.id);
  });

  it('when even the cleanup fails: the leftover is removed by the next successful save', async () => {
    const { store, run } = await withSavedStep2();
    const broken = failingStore(store, (op, key) =>
      (op === 'put' && key.startsWith('ckpt-latest/')) || op === 'delete' ? new Error('storage unavailable') : null,
    );
    await expect(
      openStudioStorage(broken).saveCheckpoint(run.id, { step: 4, state: trainerState(4), history: history(4) }),
    ).rejects.toThrow();
    await expectStep2(store, run.id);
    expect(await checkpointKeys(store)).toHaveLength(2);

    await openStudioStorage(store).saveCheckpoint(run.id, { step: 6, state: trainerState(6), history: history(6) });
    expect(await checkpointKeys(store)).toHaveLength(1);
    expect((await openStudioStorage(store).loadLatestCheckpoint(run.id))!.step).toBe(6);
  });
});

describe('a full disk', () => {
  for (const mode of ['throw', 'abort'] as const) {
    it(`turns QuotaExceededError (${mode === 'throw' ? 'thrown by the request' : 'reported on the transaction'}) into StorageFullError and loses nothing`, async () => {
      const { store } = freshStore();
      const storage = openStudioStorage(store);
      const run = await storage.createRun(NEW_RUN);
      await storage.saveCheckpoint(run.id, { step: 2, state: trainerState(2), history: history(2) });
      const full = openStudioStorage(failingStore(store, (op) => (op === 'put' ? quotaError() : null), mode));

      const error = await full.saveCheckpoint(run.id, { step: 4, state: trainerState(4), history: history(4) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageFullError);
      expect((error as StorageFullError).name).toBe('StorageFullError');
      expect((error as StorageFullError).message).toBe(
        `Browser storage is full: could not save the checkpoint of run "${run.id}" at step 4. Everything saved earlier is intact. ` +
          'Free space by deleting old runs or stored models, or allow this site more storage.',
      );
      const loaded = (await storage.loadLatestCheckpoint(run.id))!;
      expect(loaded.step).toBe(2);
      expect(loaded.state).toEqual(trainerState(2));
      expect(await storage.getRun(run.id)).toMatchObject({ name: 'beta 0.1', step: 2, history: history(2) });

      await expect(full.renameRun(run.id, 'other')).rejects.toBeInstanceOf(StorageFullError);
      expect((await storage.getRun(run.id))!.name).toBe('beta 0.1');
    });
  }
});
