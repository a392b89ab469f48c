/**
 * The β / loss-type sweep: short runs one after another on the loaded model and dataset, with the
 * Configure settings except β (or the loss type) and the step count, all with the same seed. Each is
 * an ordinary stored run. Its state outlives the tab.
 */
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import { labStorage } from '../lab-storage';
import type { LossType } from '../../core/dpo/config';
import type { LogEntry } from '../../core/dpo/trainer';
import { trainLabRun } from '../actions/lab';
import { message } from '../actions/session';
import { stopTraining } from '../actions/training';
import { get as studio } from '../store';

export type SweepMode = 'beta' | 'loss';

/** Loss types a sweep offers: each runs with the Configure settings alone (no extra parameter needed). */
export const SWEEP_LOSSES: { type: LossType; about: string }[] = [
  { type: 'sigmoid', about: '−log σ(βΔ): keeps pushing the margin up, ever more weakly' },
  { type: 'ipo', about: '(Δ per token − 1/(2β))²: pulls the margin to a target, no further' },
  { type: 'hinge', about: 'max(0, 1 − βΔ): pushes until βΔ = 1, then stops' },
  { type: 'bco_pair', about: 'chosen up and rejected down, each against 0' },
  { type: 'apo_zero', about: 'raises chosen and lowers rejected, each on its own' },
  { type: 'sppo_hard', about: 'pulls each log-ratio to ±1/(2β)' },
];

export interface SweepSettings {
  mode: SweepMode;
  /** As typed: numbers separated by commas or spaces. */
  betas: string;
  losses: LossType[];
  steps: number;
}

export interface SweepRun {
  label: string;
  beta: number;
  lossType: LossType[];
  status: 'waiting' | 'running' | 'finished' | 'stopped' | 'failed';
  runId: string | null;
  name: string;
  history: LogEntry[];
}

interface SweepState {
  settings: SweepSettings;
  running: boolean;
  runs: SweepRun[];
  /** What the sweep varied, for the charts' captions. */
  varied: SweepMode | null;
  error: string | null;
  stopRequested: boolean;
}

/** The sweep's settings and runs survive a reload; a run under way at the reload shows as stopped. */
export const useSweep = create<SweepState>()(
  persist(
    (): SweepState => ({
      settings: { mode: 'beta', betas: '0.05, 0.1, 0.3, 0.5', losses: ['sigmoid', 'ipo', 'hinge'], steps: 10 },
      running: false,
      runs: [],
      varied: null,
      error: null,
      stopRequested: false,
    }),
    {
      name: 'dpo-studio-lab-sweep',
      storage: labStorage,
      partialize: (s) => ({
        settings: s.settings,
        varied: s.varied,
        runs: s.runs.map((r) => (r.status === 'running' || r.status === 'waiting' ? { ...r, status: 'stopped' as const } : r)),
      }),
    },
  ),
);

const set = useSweep.setState;
const get = useSweep.getState;

export function updateSweepSettings(changes: Partial<SweepSettings>): void {
  set((s) => ({ settings: { ...s.settings, ...changes } }));
}

/** The β values typed, or why they cannot be used. */
export function parseBetas(text: string): number[] | string {
  const parts = text.split(/[\s,;]+/).filter((p) => p !== '');
  if (parts.length === 0) return 'type at least one β';
  const values = parts.map(Number);
  const bad = parts.find((_, i) => !(Number.isFinite(values[i]) && values[i] > 0));
  if (bad !== undefined) return `“${bad}” is not a β > 0`;
  if (new Set(values).size !== values.length) return 'each β once';
  return values;
}

/** The runs a sweep with these settings makes, before any has started. */
export function plannedRuns(settings: SweepSettings, base: { beta: number; loss_type: LossType[] }): SweepRun[] | string {
  const blank = { status: 'waiting' as const, runId: null, history: [] };
  if (settings.mode === 'beta') {
    const betas = parseBetas(settings.betas);
    if (typeof betas === 'string') return betas;
    const loss = base.loss_type.join('+');
    return betas.map((beta) => ({ ...blank, label: `β ${beta}`, beta, lossType: base.loss_type, name: `Sweep · β ${beta} · ${loss}` }));
  }
  if (settings.losses.length === 0) return 'choose at least one loss type';
  return settings.losses.map((type) => ({
    ...blank,
    label: type,
    beta: base.beta,
    lossType: [type],
    name: `Sweep · ${type} · β ${base.beta}`,
  }));
}

function updateRun(i: number, changes: Partial<SweepRun>): void {
  set((s) => ({ runs: s.runs.map((r, k) => (k === i ? { ...r, ...changes } : r)) }));
}

/** Runs the planned runs in order, each from its own settings: Configure's are read, never changed. */
export async function runSweep(): Promise<void> {
  if (get().running) return;
  const original = studio().config;
  const planned = plannedRuns(get().settings, original.dpo);
  if (typeof planned === 'string') {
    set({ error: planned });
    return;
  }
  const steps = get().settings.steps;
  set({ running: true, runs: planned, varied: get().settings.mode, error: null, stopRequested: false });
  try {
    for (const [i, run] of planned.entries()) {
      if (get().stopRequested) break;
      const spec = {
        name: run.name,
        dpo: { ...original.dpo, beta: run.beta, loss_type: run.lossType, loss_weights: null, max_steps: steps },
        lora: original.lora,
      };
      const end = await trainLabRun(spec, (runId) => updateRun(i, { status: 'running', runId }));
      updateRun(i, { status: end.state, runId: end.runId, history: end.history });
      if (end.state === 'failed') throw new Error(`${run.name} failed: ${end.message ?? 'unknown error'}`);
      if (end.state === 'stopped') break;
    }
  } catch (e) {
    set({ error: message(e) });
  } finally {
    set({ running: false });
  }
}

/** Stops the run in progress and the runs after it. */
export function stopSweep(): void {
  set({ stopRequested: true });
  if (get().runs.some((r) => r.status === 'running')) stopTraining();
}

/** Mean policy − reference log-prob of the chosen answers: TRL's rewards/chosen is β times it, for every loss type. */
export function driftOf(entry: LogEntry, beta: number): number | undefined {
  const r = entry['rewards/chosen'];
  return typeof r === 'number' ? r / beta : undefined;
}
