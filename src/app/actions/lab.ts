/**
 * What lab experiments start from (the demo model, the colour task and the demo preset) and what they
 * run through: named runs awaited one after another, datasets built in the page, per-pair gradients.
 */
import { parsePreferenceFile } from '../../core/data/read';
import type { PreferenceRow } from '../../core/data/types';
import { toJsonl } from '../../core/demo/datasets';
import { DEMO_PRESET } from '../../core/demo/preset';
import type { LogEntry } from '../../core/dpo/trainer';
import type { PairGradientRequest, PairGradientTable } from '../../worker/protocol';
import { engine } from '../engine';
import { get, set, useStudio, type StudioState } from '../store';
import { DEMO_DATASETS, loadDemoDataset, scheduleTokenStats } from './dataset';
import { loadDemoModel } from './model';
import { startTraining, trainBlocker, withLabSettings, type LabRunSpec } from './training';

/** The demo preset's settings, keeping the current checkpoint interval. */
export function applyDemoPreset(): void {
  set((s) => ({
    config: { ...s.config, dpo: { ...DEMO_PRESET.dpo }, lora: { ...DEMO_PRESET.lora } },
    parseErrors: {},
    draftRunId: null,
    presetSwitch: null,
  }));
  scheduleTokenStats();
}

/** Loads the demo model (unless it is loaded) and the named demo dataset, then applies the preset. */
export async function prepareDemoExperiment(datasetFile = 'colors-train.jsonl'): Promise<void> {
  const demo = DEMO_DATASETS.find((d) => d.name === datasetFile);
  if (!demo) throw new Error(`no demo dataset named ${datasetFile}`);
  if (get().model?.id !== 'demo') await loadDemoModel();
  if (get().dataset?.name !== demo.name) await loadDemoDataset(demo.url, demo.name);
  applyDemoPreset();
}

/** How a lab run ended, with the metric history the worker logged for it. */
export interface LabRunEnd {
  runId: string;
  state: 'finished' | 'stopped' | 'failed';
  history: LogEntry[];
  message: string | null;
}

const ENDED = ['finished', 'stopped', 'failed'] as const;

/**
 * Resolves when the run shown in the Train view ends. A run that is no longer shown (deleted, or
 * replaced by another) counts as stopped.
 */
export function runEnd(runId: string): Promise<LabRunEnd> {
  return new Promise((resolve) => {
    let unsubscribe: (() => void) | null = null;
    const check = (s: StudioState): boolean => {
      const t = s.training;
      const shown = t.runId === runId;
      if (shown && !(ENDED as readonly string[]).includes(t.state)) return false;
      unsubscribe?.();
      const state = shown ? (t.state as LabRunEnd['state']) : 'stopped';
      resolve({ runId, state, history: shown ? t.history : [], message: shown ? (s.trainError ?? t.message) : null });
      return true;
    };
    if (!check(get())) unsubscribe = useStudio.subscribe((s) => void check(s));
  });
}

/**
 * Trains one run of a lab experiment from its spec: its name, settings and (optionally) its own pairs.
 * A run like any other (it shows in Runs) while the lab stays in view; Configure's settings and the
 * loaded dataset are left as they are. `onStarted` hears its id once it runs; the promise resolves
 * when it ends.
 */
export async function trainLabRun(spec: LabRunSpec, onStarted?: (runId: string) => void): Promise<LabRunEnd> {
  const blocker = trainBlocker(withLabSettings(get(), spec), spec.dataset !== undefined);
  if (blocker) throw new Error(blocker);
  const before = get().training.runId;
  await startTraining({ lab: spec, showTrain: false });
  const t = get().training;
  if (!t.runId || t.runId === before) throw new Error(get().trainError ?? 'the run could not be created');
  onStarted?.(t.runId);
  return runEnd(t.runId);
}

/** Loads the demo model unless it is loaded, saying which model it replaced; throws what went wrong. */
export async function ensureDemoModel(): Promise<void> {
  const before = get().model;
  if (before?.id === 'demo') return;
  await loadDemoModel();
  if (get().model?.id !== 'demo') throw new Error(`the demo model did not load: ${get().modelError ?? 'unknown error'}`);
  if (before)
    set({ notice: `The Lab loaded the demo model in place of ${before.name}: load yours again from Model when you return to it.` });
}

/** The rows of a demo dataset file, parsed as the worker parses a dropped file. */
export async function demoDatasetRows(file: string): Promise<PreferenceRow[]> {
  const demo = DEMO_DATASETS.find((d) => d.name === file);
  if (!demo) throw new Error(`no demo dataset named ${file}`);
  const response = await fetch(demo.url);
  if (!response.ok) throw new Error(`could not fetch ${demo.url}: HTTP ${response.status}`);
  const parsed = parsePreferenceFile(await response.text(), file);
  if (parsed.rows.length === 0) throw new Error(`${file} holds no valid rows`);
  return parsed.rows;
}

/** A lab run's own pairs: `rows` as JSON Lines under `name` (the loaded dataset stays as it is). */
export function labPairs(rows: PreferenceRow[], name: string): NonNullable<LabRunSpec['dataset']> {
  return { text: toJsonl(rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }))), name };
}

/** Per pair: the loss's slope and the LoRA gradient it sends, under the latest run's adapter. */
export function measurePairGradients(request: PairGradientRequest): Promise<PairGradientTable> {
  return engine().call('pairGradients', request);
}
