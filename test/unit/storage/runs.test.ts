import { promisifyRequest } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';
import { DEFAULT_SAVE_STEPS, openStudioStorage, type NewRun, type RunRecord } from '../../../src/storage';
import { allKeys, freshStore, trainerState } from './helpers';

const NEW_RUN: NewRun = {
  name: 'sigmoid β=0.1',
  config: { ...DEFAULT_DPO_CONFIG, max_steps: -1, num_train_epochs: 2 },
  lora: { r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
  model: { kind: 'hub', id: 'HuggingFaceTB/SmolLM2-135M', name: 'SmolLM2-135M' },
  dataset: { name: 'hh.jsonl', fingerprint: 'a'.repeat(64), pairs: 40 },
  totalSteps: 10,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('runs', () => {
  it('creates a run with a fresh id, no history and step 0, and reads it back after a reload', async () => {
    const { store, dbName } = freshStore();
    const run = await openStudioStorage(store).createRun(NEW_RUN);
    expect(run).toMatchObject({ ...NEW_RUN, status: 'stopped', step: 0, history: [], saveSteps: DEFAULT_SAVE_STEPS });
    expect(run.id).toMatch(/^[0-9a-f-]{36}$/);
    const { createStore } = await import('idb-keyval');
    const reloaded = openStudioStorage(createStore(dbName, 'kv'));
    expect(await reloaded.getRun(run.id)).toEqual(run);
    expect(await reloaded.getRun('missing')).toBeUndefined();
  });

  it('lists runs newest first', async () => {
    const storage = openStudioStorage(freshStore().store);
    const first = await storage.createRun({ ...NEW_RUN, name: 'first' });
    await sleep(2);
    const second = await storage.createRun({ ...NEW_RUN, name: 'second' });
    expect((await storage.listRuns()).map((r) => r.id)).toEqual([second.id, first.id]);
  });

  it('putRun stores the record as given', async () => {
    const storage = openStudioStorage(freshStore().store);
    const run: RunRecord = {
      ...NEW_RUN,
      id: 'r1',
      createdAt: 1,
      updatedAt: 2,
      status: 'failed',
      history: [{ step: 1, epoch: 0.1, loss: 0.69 }],
      step: 1,
      saveSteps: 5,
      error: 'non-finite loss at step 2',
    };
    await storage.putRun(run);
    expect(await storage.getRun('r1')).toEqual(run);
  });

  it('updateRun changes the given fields, keeps id and creation time, and moves updatedAt', async () => {
    const storage = openStudioStorage(freshStore().store);
    const run = await storage.createRun(NEW_RUN);
    await sleep(2);
    const updated = await storage.updateRun(run.id, { status: 'running', step: 3 });
    expect(updated).toMatchObject({ ...NEW_RUN, id: run.id, createdAt: run.createdAt, status: 'running', step: 3 });
    expect(updated.updatedAt).toBeGreaterThan(run.updatedAt);
    expect(await storage.getRun(run.id)).toEqual(updated);
    await expect(storage.updateRun('gone', { step: 1 })).rejects.toThrow('run "gone" does not exist');
  });

  it('renames, refusing an empty name', async () => {
    const storage = openStudioStorage(freshStore().store);
    const run = await storage.createRun(NEW_RUN);
    expect((await storage.renameRun(run.id, 'ipo β=0.5')).name).toBe('ipo β=0.5');
    expect(() => storage.renameRun(run.id, '  ')).toThrow('a run needs a name');
    expect((await storage.getRun(run.id))!.name).toBe('ipo β=0.5');
  });

  it('deletes a run with its checkpoints, leaving other runs and shared datasets alone', async () => {
    const { store } = freshStore();
    const storage = openStudioStorage(store);
    const doomed = await storage.createRun(NEW_RUN);
    const kept = await storage.createRun(NEW_RUN);
    await storage.putDataset(NEW_RUN.dataset.fingerprint, { name: 'hh.jsonl', bytes: new TextEncoder().encode('{}') });
    await storage.saveCheckpoint(doomed.id, { step: 2, state: trainerState(2), history: [] });
    await storage.saveCheckpoint(kept.id, { step: 3, state: trainerState(3), history: [] });

    await storage.deleteRun(doomed.id);
    expect(await storage.getRun(doomed.id)).toBeUndefined();
    expect(await storage.loadLatestCheckpoint(doomed.id)).toBeUndefined();
    expect((await allKeys(store)).filter((k) => k.includes(doomed.id))).toEqual([]);
    expect((await storage.loadLatestCheckpoint(kept.id))!.step).toBe(3);
    expect(await storage.getDataset(NEW_RUN.dataset.fingerprint)).toBeDefined();
  });

  it('duplicates with changes: new id, settings merged, model and data kept, no history or checkpoint', async () => {
    const storage = openStudioStorage(freshStore().store);
    const source = await storage.createRun(NEW_RUN);
    await storage.saveCheckpoint(source.id, { step: 4, state: trainerState(4), history: [{ step: 4, epoch: 0.4, loss: 0.6 }] });

    const copy = await storage.duplicateRun(source.id, { config: { beta: 0.5, loss_type: ['ipo'] }, lora: { r: 16 } });
    expect(copy.saveSteps).toBe(DEFAULT_SAVE_STEPS);
    expect(copy.id).not.toBe(source.id);
    expect(copy).toMatchObject({
      name: 'sigmoid β=0.1 (copy)',
      config: { ...NEW_RUN.config, beta: 0.5, loss_type: ['ipo'] },
      lora: { ...NEW_RUN.lora, r: 16 },
      model: NEW_RUN.model,
      dataset: NEW_RUN.dataset,
      totalSteps: 10,
      history: [],
      step: 0,
      status: 'stopped',
    });
    expect(await storage.loadLatestCheckpoint(copy.id)).toBeUndefined();
    expect((await storage.getRun(source.id))!.config.beta).toBe(0.1);

    const fixedSteps = await storage.duplicateRun(source.id, { name: 'short', config: { max_steps: 3 } });
    expect(fixedSteps).toMatchObject({ name: 'short', totalSteps: 3 });
    await expect(storage.duplicateRun('gone')).rejects.toThrow('cannot duplicate run "gone": it does not exist');
  });

  it('keeps the checkpoint interval: given at creation, carried by a duplicate unless changed', async () => {
    const storage = openStudioStorage(freshStore().store);
    const source = await storage.createRun({ ...NEW_RUN, saveSteps: 3 });
    expect((await storage.getRun(source.id))!.saveSteps).toBe(3);
    expect((await storage.updateRun(source.id, { step: 2 })).saveSteps).toBe(3);
    expect((await storage.duplicateRun(source.id)).saveSteps).toBe(3);
    expect((await storage.duplicateRun(source.id, { saveSteps: 7 })).saveSteps).toBe(7);
  });

  it('reads a record saved before the checkpoint interval was stored with the default interval, and writes it back whole', async () => {
    const { store } = freshStore();
    const storage = openStudioStorage(store);
    const { saveSteps: _, ...current } = await storage.createRun({ ...NEW_RUN, saveSteps: 4 });
    const old = { ...current, id: 'old' };
    expect('saveSteps' in old).toBe(false);
    await store('readwrite', (s) => promisifyRequest(s.put(old, 'run/old')));

    expect(await storage.getRun('old')).toEqual({ ...old, saveSteps: DEFAULT_SAVE_STEPS });
    expect((await storage.listRuns()).find((r) => r.id === 'old')!.saveSteps).toBe(DEFAULT_SAVE_STEPS);
    expect((await storage.duplicateRun('old')).saveSteps).toBe(DEFAULT_SAVE_STEPS);
    // A change rewrites the record in the current shape.
    await storage.updateRun('old', { name: 'renamed' });
    const raw = (await store('readonly', (s) => promisifyRequest(s.get('run/old')))) as RunRecord;
    expect(raw).toMatchObject({ name: 'renamed', saveSteps: DEFAULT_SAVE_STEPS });
  });
});
