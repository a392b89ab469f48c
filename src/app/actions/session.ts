/**
 * What the actions share: the storage handle, and the session state the store does not show (the
 * loaded model's source, the run the worker holds, the latest dataset request).
 */
import type { ModelSource } from '../../worker/protocol';
import { openStudioStorage, StorageFullError, type RunRecord } from '../../storage';
import { get, IDLE_TRAINING, set } from '../store';

export const storage = openStudioStorage();

export const session = {
  /** The source of the loaded model, as run records remember it (File objects stay out of storage). */
  modelSource: null as ModelSource | null,
  /** The run the worker holds right now (it can pause, resume and stop only that one). */
  workerRunId: null as string | null,
  /** The latest dataset request; replies to older ones are dropped. */
  datasetTicket: 0,
};

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A failed write in plain words: a full storage says what was not saved and how to make room. */
export function storageMessage(e: unknown, what: string): string {
  if (e instanceof StorageFullError) {
    return `Browser storage is full: ${what} could not be saved. Nothing saved earlier is lost; free space by deleting old runs (Runs) or stored models (Model).`;
  }
  return message(e);
}

export function demoModel(): ModelSource {
  return { kind: 'url', id: 'demo', name: 'Demo model', baseUrl: new URL('/models/demo/', location.href).href };
}

export function storedHubSource(key: string, name: string): ModelSource {
  return { kind: 'stored', id: key, name };
}

export function recordModel(source: ModelSource): RunRecord['model'] {
  return { kind: source.kind === 'url' ? 'demo' : source.kind === 'files' ? 'folder' : 'hub', id: source.id, name: source.name };
}

export function setTraining(changes: Partial<ReturnType<typeof get>['training']>): void {
  set((s) => ({ training: { ...s.training, ...changes } }));
}

/** A run from storage in the Train view: its curves, its step, and Resume when it can continue. */
export function showStoredRun(run: RunRecord, options: { keepConfig?: boolean } = {}): void {
  set({
    training: {
      ...IDLE_TRAINING,
      runId: run.id,
      state: run.status === 'running' ? 'interrupted' : run.status,
      step: run.step,
      totalSteps: run.totalSteps,
      history: run.history,
      message:
        run.status === 'running'
          ? `This run was interrupted at step ${run.step}; Resume continues from its last checkpoint.`
          : (run.error ?? null),
    },
    ...(options.keepConfig
      ? {}
      : { config: { ...get().config, dpo: run.config, lora: run.lora, saveSteps: run.saveSteps }, parseErrors: {} }),
  });
}
