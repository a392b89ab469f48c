/** Starting, pausing, resuming and stopping runs, including runs saved by an earlier session. */
import type { RunSpec } from '../../worker/protocol';
import { engine } from '../engine';
import { formatSetting } from '../format';
import type { DPOConfig } from '../../core/dpo/config';
import type { LoraConfig } from '../../core/model/types';
import { datasetFingerprint, readFingerprint, StorageFullError, storedDatasetFiles, type RunRecord } from '../../storage';
import { memoryRefusal, planStudioMemory } from '../memory';
import { applyChanges, type SettingsChange } from '../continue-settings';
import { get, IDLE_TRAINING, MEMORY_BUDGET_KEY, set, type StudioConfig, type StudioState } from '../store';
import { configProblems } from './config';
import { loadDatasetFile } from './dataset';
import { loadModel } from './model';
import { refreshRuns } from './runs';
import { demoModel, message, recordModel, session, setTraining, showStoredRun, storage, storageMessage, storedHubSource } from './session';

/** Why Train is unavailable right now, or null when it can start. */
export function trainBlocker(state = get(), ownPairs = false): string | null {
  if (!state.engine) return 'The training engine is starting.';
  if (state.modelBusy) return 'A model is loading.';
  if (state.datasetBusy) return 'A dataset is loading.';
  if (!state.model) return 'Load a model first.';
  if (!ownPairs && !state.dataset) return 'Load a preference dataset first.';
  if (!ownPairs && state.dataset?.rows === 0) return 'The dataset has no valid pairs.';
  const t = state.training.state;
  if (t === 'preparing' || t === 'running' || t === 'paused') return 'A run is in progress.';
  const n = Object.keys(configProblems(state)).length;
  if (n > 0) return `${n} setting${n === 1 ? '' : 's'} in Configure need${n === 1 ? 's' : ''} fixing.`;
  const refusal = memoryRefusal(memoryInput(state), state.memoryBudget);
  if (refusal) return `Not enough memory: ${refusal}.`;
  return null;
}

function memoryInput(state: StudioState) {
  return { model: state.model!, config: state.config, engine: state.engine, tokenStats: state.tokenStats };
}

/** Sets the memory budget Train is checked against (bytes), and keeps it for the next visit. */
export function setMemoryBudget(bytes: number): void {
  if (!(bytes > 0) || !Number.isFinite(bytes)) return;
  set({ memoryBudget: bytes });
  try {
    localStorage.setItem(MEMORY_BUDGET_KEY, String(bytes));
  } catch {
    // Storage refused (private mode): the budget holds for this visit.
  }
}

function runName(c: StudioConfig, n: number): string {
  const loss = c.dpo.loss_type.join('+');
  return `Run ${n} · ${loss} · β ${c.dpo.beta} · lr ${formatSetting(c.dpo.learning_rate)}`;
}

/**
 * A run the lab asks for: its own settings and, optionally, its own pairs. Neither Configure's settings
 * nor the loaded dataset change.
 */
export interface LabRunSpec {
  name: string;
  dpo: DPOConfig;
  lora: LoraConfig;
  /** The run's pairs, as JSON Lines, under a name of their own; absent: the loaded dataset. */
  dataset?: { text: string; name: string };
}

/** The studio as a lab run sees it: the spec's settings in place of Configure's (which are not changed). */
export function withLabSettings(state: StudioState, lab: LabRunSpec): StudioState {
  return { ...state, config: { ...state.config, dpo: lab.dpo, lora: lab.lora }, parseErrors: {} };
}

/**
 * Starts a new run with the current settings (or starts a prepared duplicate) and shows it in Train.
 * The lab names its runs and keeps its own view (`showTrain: false`); with `lab`, the run takes the
 * spec's settings and pairs instead of Configure's and the loaded dataset's.
 */
export async function startTraining(options: { name?: string; showTrain?: boolean; lab?: LabRunSpec } = {}): Promise<void> {
  const current = get();
  const lab = options.lab;
  const draftId = lab ? null : current.draftRunId;
  // A lab run is checked and planned with its own settings.
  const state = lab ? withLabSettings(current, lab) : current;
  if (trainBlocker(state, !!lab?.dataset) || !session.modelSource) return;
  const config = state.config;
  const labFile = lab?.dataset ? new Blob([lab.dataset.text], { type: 'application/jsonl' }) : null;
  const datasetRecord =
    lab?.dataset && labFile
      ? {
          name: lab.dataset.name,
          fingerprint: readFingerprint(await datasetFingerprint(lab.dataset.text), {}),
          pairs: lab.dataset.text.split('\n').filter((l) => l.trim() !== '').length,
        }
      : state.dataset
        ? { name: state.dataset.name, fingerprint: state.dataset.fingerprint, pairs: state.dataset.rows }
        : null;
  if (!datasetRecord) return;
  const plannedBytes = planStudioMemory(memoryInput(state)).total;
  // The bar shows the new run at once, not the last run's end while the record is written.
  set({
    trainError: null,
    // A lab run keeps what the lab just said (e.g. that it loaded the demo model in place of another).
    ...(lab ? {} : { notice: null }),
    scores: null,
    samples: null,
    training: { ...IDLE_TRAINING, state: 'preparing', message: 'Creating the run' },
  });
  let run: RunRecord;
  try {
    const base = {
      config: config.dpo,
      lora: config.lora,
      saveSteps: config.saveSteps,
      model: recordModel(session.modelSource),
      dataset: datasetRecord,
      totalSteps: config.dpo.max_steps > 0 ? config.dpo.max_steps : 0,
      status: 'running' as const,
    };
    run = draftId
      ? await storage.updateRun(draftId, { ...base, history: [], step: 0, error: undefined })
      : await storage.createRun({ ...base, name: lab?.name ?? options.name ?? runName(config, state.runs.length + 1) });
  } catch (e) {
    set({
      trainError:
        e instanceof StorageFullError
          ? `${storageMessage(e, 'the new run')} The run did not start.`
          : `Could not create the run record: ${message(e)}`,
      training: IDLE_TRAINING,
    });
    return;
  }
  set({
    // A lab run leaves a prepared duplicate where it is.
    ...(lab ? {} : { draftRunId: null }),
    training: {
      ...IDLE_TRAINING,
      runId: run.id,
      state: 'preparing',
      plannedBytes,
      totalSteps: run.totalSteps,
      message: 'Preparing: tokenizing the pairs and building the adapter',
    },
    ...(options.showTrain === false ? {} : { section: 'train' as const }),
  });
  await refreshRuns();
  await launch({
    runId: run.id,
    config: config.dpo,
    lora: config.lora,
    saveSteps: config.saveSteps,
    resume: false,
    ...(lab?.dataset && labFile ? { dataset: { file: labFile, name: lab.dataset.name } } : {}),
  });
}

async function launch(spec: RunSpec): Promise<void> {
  // From here the worker owns the run: Stop goes to it even while it is still preparing.
  session.workerRunId = spec.runId;
  try {
    const started = await engine().call('train', { spec });
    setTraining({ totalSteps: started.totalSteps, step: started.startStep });
    await storage.updateRun(spec.runId, { totalSteps: started.totalSteps, status: 'running' });
    await refreshRuns();
  } catch (e) {
    setTraining({ state: 'failed', message: message(e) });
    set({ trainError: message(e) });
    await storage.updateRun(spec.runId, { status: 'failed', error: message(e) }).catch(() => undefined);
    await refreshRuns();
  }
}

export function pauseTraining(): void {
  setTraining({ pausing: true });
  void engine().call('pause', {});
}

export function stopTraining(): void {
  if (get().training.runId === session.workerRunId) {
    void engine().call('stop', {});
    return;
  }
  // A run from an earlier session is not in the worker: stopping it only changes its record.
  const id = get().training.runId;
  if (!id) return;
  setTraining({ state: 'stopped', message: null });
  void storage.updateRun(id, { status: 'stopped' }).then(refreshRuns);
}

/** Whether the run in the Train view can continue: paused here, or saved by an earlier session and not done. */
export function canResume(state = get()): boolean {
  const t = state.training;
  if (!t.runId || !state.engine) return false;
  // A run the GPU failed continues from its last checkpoint (on a lost device only after a reload).
  if (t.state === 'failed') {
    const saved = t.runId === session.workerRunId ? t.checkpoint !== null : t.step > 0;
    return saved && state.gpuLost === null && t.step < t.totalSteps;
  }
  if (t.state === 'paused' && t.runId === session.workerRunId) return true;
  const resumable = t.state === 'interrupted' || t.state === 'paused' || (t.state === 'stopped' && t.step > 0);
  return resumable && t.runId !== session.workerRunId && t.step < t.totalSteps;
}

export async function resumeTraining(): Promise<void> {
  const t = get().training;
  if (!t.runId) return;
  if (t.runId === session.workerRunId && t.state === 'paused') {
    await engine().call('resume', {});
    return;
  }
  await resumeStoredRun(t.runId);
}

/**
 * Continues a failed run from its last checkpoint with settings that need less memory (see
 * continue-settings.ts); the run's record keeps the new settings and says what changed, at which step.
 */
export async function continueWithChanges(picked: SettingsChange[]): Promise<void> {
  const t = get().training;
  if (!t.runId || !canResume()) return;
  const run = await storage.getRun(t.runId);
  if (!run) {
    set({ trainError: 'This run is no longer in browser storage.' });
    return;
  }
  const { config, changes } = applyChanges(run.config, picked);
  // From the checkpoint the run continues from: the worker's latest save, or the stored run's step.
  const from = t.runId === session.workerRunId && t.checkpoint ? t.checkpoint.step : run.step;
  const note = `at step ${from}: ${changes.join(', ')}`;
  await storage.updateRun(run.id, { config, continuedWith: [...(run.continuedWith ?? []), note] });
  await refreshRuns();
  await resumeStoredRun(run.id);
}

/**
 * Continues a run saved by an earlier session: loads its model and dataset when they are not the
 * ones loaded, then restores its latest checkpoint in the worker.
 */
export async function resumeStoredRun(runId: string): Promise<void> {
  set({ trainError: null });
  const run = await storage.getRun(runId);
  if (!run) {
    set({ trainError: 'This run is no longer in browser storage.' });
    return;
  }
  showStoredRun(run);
  setTraining({ state: 'preparing', message: 'Loading the checkpoint' });
  const fail = (text: string) => {
    setTraining({ state: run.status === 'running' ? 'interrupted' : run.status, message: text });
    set({ trainError: text });
  };
  if (get().model?.id !== run.model.id) {
    if (run.model.kind === 'folder')
      return fail(`This run trained ${run.model.name}, a model folder: open that folder in Model, then Resume.`);
    const ok = await loadModel(run.model.kind === 'demo' ? demoModel() : storedHubSource(run.model.id, run.model.name));
    if (!ok) return fail(`Could not load ${run.model.name} to resume: ${get().modelError}`);
  }
  if (get().dataset?.fingerprint !== run.dataset.fingerprint) {
    const stored = await storage.getDataset(run.dataset.fingerprint);
    if (!stored)
      return fail(`The dataset of this run (${run.dataset.name}) is not in browser storage; drop the same file again, then Resume.`);
    await loadDatasetFile(storedDatasetFiles(stored), stored.name, stored.options);
    if (get().dataset?.fingerprint !== run.dataset.fingerprint) return fail(`Could not reload ${run.dataset.name}: ${get().datasetError}`);
  }
  await launch({ runId: run.id, config: run.config, lora: run.lora, saveSteps: run.saveSteps, resume: true });
}
