/**
 * Run records: every run the studio has started or prepared, with its config and metric history.
 * Changes go through read-modify-write transactions, so a rename in the page and a checkpoint in the
 * worker cannot overwrite each other's fields.
 */
import type { DPOConfig } from '../core/dpo/config';
import type { LogEntry } from '../core/dpo/trainer';
import type { LoraConfig } from '../core/model/types';
import { keysWithPrefix, newId, read, request, segment, valuesWithPrefix, write, type UseStore } from './db';

export type RunStatus = 'running' | 'paused' | 'stopped' | 'finished' | 'failed';

/** Optimizer steps between checkpoints when a run does not say (TrainingArguments' save_steps, scaled to tiny runs). */
export const DEFAULT_SAVE_STEPS = 10;

export interface RunRecord {
  id: string;
  name: string;
  /** Milliseconds since the epoch (Date.now()). */
  createdAt: number;
  updatedAt: number;
  /**
   * As last saved. After a reload, a run still marked 'running' was interrupted: it resumes from its
   * latest checkpoint. A 'stopped' run at step 0 (e.g. a fresh duplicate) has not started.
   */
  status: RunStatus;
  config: DPOConfig;
  lora: LoraConfig;
  /** Checkpoint every this many optimizer steps (and on pause and stop); a resumed run keeps it. */
  saveSteps: number;
  model: { kind: 'demo' | 'folder' | 'hub'; id: string; name: string };
  dataset: { name: string; fingerprint: string; pairs: number };
  history: LogEntry[];
  totalSteps: number;
  step: number;
  error?: string;
  /** Settings changed when the run continued from a checkpoint: "at step 3: per_device_train_batch_size 4 → 2, …". */
  continuedWith?: string[];
}

/** What createRun needs; the rest starts empty (saveSteps at DEFAULT_SAVE_STEPS when not given). */
export type NewRun = Pick<RunRecord, 'name' | 'config' | 'lora' | 'model' | 'dataset' | 'totalSteps'> & {
  status?: RunStatus;
  saveSteps?: number;
};

/** Fields updateRun may change. */
export type RunChanges = Partial<Omit<RunRecord, 'id' | 'createdAt' | 'updatedAt'>>;

/** What a duplicate changes: a new name, and settings merged over the original's. */
export interface DuplicateChanges {
  name?: string;
  config?: Partial<DPOConfig>;
  lora?: Partial<LoraConfig>;
  saveSteps?: number;
}

export const runKey = (id: string) => `run/${segment(id)}`;

function describeRun(id: string): string {
  return `run "${id}"`;
}

/** A record as stored by any version of the studio, brought to the current shape (fields added since get their defaults). */
export function upgradeRun(stored: RunRecord): RunRecord {
  const saveSteps = Number.isInteger(stored.saveSteps) && stored.saveSteps >= 1 ? stored.saveSteps : DEFAULT_SAVE_STEPS;
  return stored.saveSteps === saveSteps ? stored : { ...stored, saveSteps };
}

export function listRuns(store: UseStore): Promise<RunRecord[]> {
  return read(store, async (s) => {
    const runs = (await valuesWithPrefix<RunRecord>(s, 'run/')).map(upgradeRun);
    return runs.sort((a, b) => b.createdAt - a.createdAt);
  });
}

export function getRun(store: UseStore, id: string): Promise<RunRecord | undefined> {
  return read(store, async (s) => {
    const run = (await request(s.get(runKey(id)))) as RunRecord | undefined;
    return run === undefined ? undefined : upgradeRun(run);
  });
}

export function putRun(store: UseStore, run: RunRecord): Promise<void> {
  if (!run.id) throw new Error('putRun: the run has no id');
  return write(store, `record of ${describeRun(run.id)}`, async (s) => {
    await request(s.put(run, runKey(run.id)));
  });
}

export async function createRun(store: UseStore, init: NewRun): Promise<RunRecord> {
  const now = Date.now();
  const run: RunRecord = {
    ...init,
    saveSteps: init.saveSteps ?? DEFAULT_SAVE_STEPS,
    id: newId(),
    createdAt: now,
    updatedAt: now,
    status: init.status ?? 'stopped',
    history: [],
    step: 0,
  };
  await putRun(store, run);
  return run;
}

/** Applies `change` to the stored run in one transaction; throws when the run does not exist. */
export function modifyRun(store: UseStore, id: string, what: string, change: (run: RunRecord) => RunRecord): Promise<RunRecord> {
  return write(store, what, async (s) => {
    const stored = (await request(s.get(runKey(id)))) as RunRecord | undefined;
    if (stored === undefined) throw new Error(`${describeRun(id)} does not exist (it may have been deleted)`);
    const run = upgradeRun(stored);
    const next = { ...change(run), id: run.id, createdAt: run.createdAt, updatedAt: Date.now() };
    await request(s.put(next, runKey(id)));
    return next;
  });
}

export function updateRun(store: UseStore, id: string, changes: RunChanges): Promise<RunRecord> {
  return modifyRun(store, id, `changes to ${describeRun(id)}`, (run) => ({ ...run, ...changes }));
}

export function renameRun(store: UseStore, id: string, name: string): Promise<RunRecord> {
  if (name.trim() === '') throw new Error('a run needs a name');
  return updateRun(store, id, { name });
}

/** The run, its checkpoints and its pointer, in one transaction. Datasets and models are shared, so they stay. */
export function deleteRun(store: UseStore, id: string): Promise<void> {
  return write(store, `deletion of ${describeRun(id)}`, async (s) => {
    const checkpoints = await keysWithPrefix(s, `ckpt/${segment(id)}/`);
    for (const key of checkpoints) s.delete(key);
    s.delete(`ckpt-latest/${segment(id)}`);
    await request(s.delete(runKey(id)));
  });
}

/** A new run with the original's model and data and the changed settings; no history, no checkpoint. */
export async function duplicateRun(store: UseStore, id: string, changes: DuplicateChanges = {}): Promise<RunRecord> {
  const source = await getRun(store, id);
  if (source === undefined) throw new Error(`cannot duplicate ${describeRun(id)}: it does not exist`);
  const config = { ...source.config, ...changes.config };
  return createRun(store, {
    name: changes.name ?? `${source.name} (copy)`,
    config,
    lora: { ...source.lora, ...changes.lora },
    saveSteps: changes.saveSteps ?? source.saveSteps,
    model: { ...source.model },
    dataset: { ...source.dataset },
    // A step count fixed by max_steps is known now; one derived from epochs is set when the run starts.
    totalSteps: config.max_steps > 0 ? config.max_steps : source.totalSteps,
  });
}
