/**
 * The corruption exercise as a sequence: a clean run on the colour task, the same pairs with
 * rejected := chosen on a fraction of them, the same run again, and the per-pair slope and gradient
 * under the corrupted run's adapter. Each run carries its own settings and pairs (the lab run API):
 * Configure and the loaded dataset stay as the person left them. Its state outlives the tab.
 */
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { PreferenceRow } from '../../core/data/types';
import { corruptPairs } from '../../core/demo/datasets';
import { DEMO_PRESET } from '../../core/demo/preset';
import type { DPOConfig } from '../../core/dpo/config';
import type { LogEntry } from '../../core/dpo/trainer';
import { demoDatasetRows, ensureDemoModel, labPairs, measurePairGradients, trainLabRun, type LabRunEnd } from '../actions/lab';
import { message } from '../actions/session';
import { stopTraining } from '../actions/training';
import type { MeasuredPair } from './lab-report';
import { labStorage } from '../lab-storage';

export const CLEAN_FILE = 'colors-train.jsonl';
export const FRACTIONS = [1, 0.75, 0.5, 0.25] as const;
/** Pairs of each kind in the per-pair table. */
const TABLE_PAIRS = 4;

export interface ExerciseSettings {
  fraction: number;
  steps: number;
  batchSize: number;
}

export interface ExerciseRun {
  runId: string;
  name: string;
  history: LogEntry[];
  state: LabRunEnd['state'];
  config: DPOConfig;
}

export interface CorruptedRun extends ExerciseRun {
  fraction: number;
  datasetName: string;
  corruptedCount: number;
  totalPairs: number;
}

export type ExerciseStep = 'clean' | 'corrupt' | 'corrupted' | 'measure';
export type StepStatus = 'waiting' | 'running' | 'done' | 'reused' | 'failed';

interface CorruptionState {
  settings: ExerciseSettings;
  running: boolean;
  steps: Record<ExerciseStep, StepStatus>;
  /** The run being trained now, so the charts can follow it live. */
  live: { role: 'clean' | 'corrupted'; runId: string; name: string } | null;
  clean: (ExerciseRun & { key: string }) | null;
  corrupted: CorruptedRun | null;
  table: { policy: string; pairs: MeasuredPair[] } | null;
  error: string | null;
}

const IDLE_STEPS: Record<ExerciseStep, StepStatus> = { clean: 'waiting', corrupt: 'waiting', corrupted: 'waiting', measure: 'waiting' };

/** The exercise's settings and results survive a reload; a step under way at the reload shows as not run. */
export const useCorruption = create<CorruptionState>()(
  persist(
    (): CorruptionState => ({
      settings: { fraction: 1, steps: DEMO_PRESET.dpo.max_steps, batchSize: DEMO_PRESET.dpo.per_device_train_batch_size },
      running: false,
      steps: IDLE_STEPS,
      live: null,
      clean: null,
      corrupted: null,
      table: null,
      error: null,
    }),
    {
      name: 'dpo-studio-lab-corruption',
      storage: labStorage,
      partialize: (s) => ({
        settings: s.settings,
        steps: s.running ? IDLE_STEPS : s.steps,
        clean: s.clean,
        corrupted: s.running ? null : s.corrupted,
        table: s.running ? null : s.table,
      }),
    },
  ),
);

const set = useCorruption.setState;
const get = useCorruption.getState;

export function updateSettings(changes: Partial<ExerciseSettings>): void {
  set((s) => ({ settings: { ...s.settings, ...changes } }));
}

function step(name: ExerciseStep, status: StepStatus): void {
  set((s) => ({ steps: { ...s.steps, [name]: status } }));
}

export function corruptedDatasetName(fraction: number): string {
  return `${CLEAN_FILE.replace(/\.jsonl$/, '')} · ${Math.round(fraction * 100)}% corrupted`;
}

/** The demo preset with the exercise's steps and batch size: both runs train with exactly this. */
function exerciseConfig(settings: ExerciseSettings): DPOConfig {
  return { ...DEMO_PRESET.dpo, max_steps: settings.steps, per_device_train_batch_size: settings.batchSize };
}

/** A finished run must have finished: a stopped or failed one ends the exercise with its reason. */
function finishedRun(end: LabRunEnd, name: string, config: DPOConfig): ExerciseRun {
  if (end.state !== 'finished')
    throw new Error(end.state === 'stopped' ? `${name} was stopped` : `${name} failed: ${end.message ?? 'unknown error'}`);
  return { runId: end.runId, name, history: end.history, state: end.state, config };
}

/**
 * Pairs for the table: some the corrupted run saw corrupted and some it saw clean, or, when every pair
 * was corrupted, the clean originals of the same prompts.
 */
function tablePairs(clean: PreferenceRow[], corrupted: PreferenceRow[]): { row: PreferenceRow; originalOf: number | null }[] {
  const hit = corrupted.filter((r, i) => r !== clean[i]).slice(0, TABLE_PAIRS);
  const kept = corrupted.filter((r, i) => r === clean[i]).slice(0, TABLE_PAIRS);
  if (kept.length > 0) return [...kept, ...hit].sort((a, b) => a.line - b.line).map((row) => ({ row, originalOf: null }));
  return hit.flatMap((row) => [
    { row: clean.find((r) => r.line === row.line)!, originalOf: row.line },
    { row, originalOf: null },
  ]);
}

/** Runs every step of the exercise, reusing the clean run when its settings have not changed. */
export async function runCorruptionExercise(): Promise<void> {
  if (get().running) return;
  const settings = get().settings;
  const config = exerciseConfig(settings);
  const key = JSON.stringify({ config, lora: DEMO_PRESET.lora });
  set({ running: true, error: null, steps: IDLE_STEPS, live: null, corrupted: null, table: null });
  let current: ExerciseStep = 'clean';
  try {
    const reuse = get().clean?.key === key;
    if (reuse) {
      await ensureDemoModel();
      step('clean', 'reused');
    } else {
      step('clean', 'running');
      set({ clean: null });
      await ensureDemoModel();
      const name = `Lab · clean · ${CLEAN_FILE}`;
      const spec = { name, dpo: config, lora: DEMO_PRESET.lora, dataset: labPairs(await demoDatasetRows(CLEAN_FILE), CLEAN_FILE) };
      const end = await trainLabRun(spec, (runId) => set({ live: { role: 'clean', runId, name } }));
      set({ live: null, clean: { ...finishedRun(end, name, config), key } });
      step('clean', 'done');
    }

    current = 'corrupt';
    step('corrupt', 'running');
    const rows = await demoDatasetRows(CLEAN_FILE);
    const corrupted = corruptPairs(rows, settings.fraction, config.seed);
    const datasetName = corruptedDatasetName(settings.fraction);
    step('corrupt', 'done');

    current = 'corrupted';
    step('corrupted', 'running');
    const name = `Lab · ${Math.round(settings.fraction * 100)}% corrupted`;
    const spec = { name, dpo: config, lora: DEMO_PRESET.lora, dataset: labPairs(corrupted, datasetName) };
    const end = await trainLabRun(spec, (runId) => set({ live: { role: 'corrupted', runId, name } }));
    const run = finishedRun(end, name, config);
    const corruptedCount = corrupted.filter((r, i) => r !== rows[i]).length;
    set({ live: null, corrupted: { ...run, fraction: settings.fraction, datasetName, corruptedCount, totalPairs: rows.length } });
    step('corrupted', 'done');

    current = 'measure';
    step('measure', 'running');
    const chosen = tablePairs(rows, corrupted);
    const measured = await measurePairGradients({ rows: chosen.map((c) => c.row), config, lora: DEMO_PRESET.lora });
    // The worker names the policy by run id; the exercise knows the run by name.
    const policy = measured.policy.startsWith(`run ${run.runId}`)
      ? `the adapter of “${name}” after ${settings.steps} steps`
      : measured.policy;
    set({ table: { policy, pairs: chosen.map((c, i) => ({ ...c, measured: measured.pairs[i] })) } });
    step('measure', 'done');
  } catch (e) {
    step(current, 'failed');
    set({ error: message(e) });
  } finally {
    set({ running: false, live: null });
  }
}

/** Stops the run in progress; the exercise ends after it. */
export function stopCorruptionExercise(): void {
  if (get().live) stopTraining();
}
