import type { LogEntry } from '../core/dpo/trainer';
import type { RunRecord } from '../storage';
import { lastLogged } from './metrics';

/** A metric the comparison table lists, and which way is better (null: neither, e.g. rewards/chosen). */
export interface ComparedMetric {
  key: string;
  better: 'lower' | 'higher' | null;
}

/** TRL's headline metrics, their eval twins, then the token metrics and speed. */
export const COMPARED_METRICS: ComparedMetric[] = [
  { key: 'loss', better: 'lower' },
  { key: 'rewards/accuracies', better: 'higher' },
  { key: 'rewards/margins', better: 'higher' },
  { key: 'rewards/chosen', better: null },
  { key: 'rewards/rejected', better: null },
  { key: 'eval_loss', better: 'lower' },
  { key: 'eval_rewards/accuracies', better: 'higher' },
  { key: 'eval_rewards/margins', better: 'higher' },
  { key: 'entropy', better: null },
  { key: 'mean_token_accuracy', better: null },
  { key: 'num_tokens', better: null },
  { key: 'tokens_per_second', better: 'higher' },
];

export interface MetricCell {
  /** The last logged value, or null when the run never logged this metric. */
  final: number | null;
  /** The best logged value (lowest or highest) and its step; null where neither way is better. */
  best: { value: number; step: number } | null;
}

export interface MetricRow {
  key: string;
  better: ComparedMetric['better'];
  cells: MetricCell[];
  /** Which runs' final values are the best of the compared runs (ties all count); empty with one run or no direction. */
  leaders: number[];
}

export interface SettingRow {
  name: string;
  values: string[];
}

export interface RunComparison {
  metrics: MetricRow[];
  /** Settings whose values differ between the runs, in a stable order. */
  differing: SettingRow[];
  /** How many compared settings hold the same value in every run. */
  same: number;
}

function bestOf(history: LogEntry[], key: string, better: 'lower' | 'higher'): { value: number; step: number } | null {
  let best: { value: number; step: number } | null = null;
  for (const entry of history) {
    const v = entry[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (best === null || (better === 'lower' ? v < best.value : v > best.value)) best = { value: v, step: entry.step };
  }
  return best;
}

function settingText(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/** Every setting a run records, by the name TRL and PEFT give it (the model and dataset by name). */
function settingsOf(run: RunRecord): Map<string, string> {
  const out = new Map<string, string>();
  out.set('model', run.model.name);
  out.set('dataset', run.dataset.name);
  for (const [k, v] of Object.entries(run.config)) out.set(k, settingText(v));
  for (const [k, v] of Object.entries(run.lora)) out.set(`lora ${k}`, settingText(v));
  out.set('checkpoint every', String(run.saveSteps));
  return out;
}

/**
 * The table the Runs view draws under compared runs: each metric's final and best value per run with
 * the leading run marked, and the settings in which the runs differ.
 */
export function compareRuns(runs: Pick<RunRecord, 'history' | 'config' | 'lora' | 'model' | 'dataset' | 'saveSteps'>[]): RunComparison {
  const metrics: MetricRow[] = [];
  for (const { key, better } of COMPARED_METRICS) {
    const cells = runs.map((r) => ({ final: lastLogged(r.history, key) ?? null, best: better ? bestOf(r.history, key, better) : null }));
    if (cells.every((c) => c.final === null)) continue;
    let leaders: number[] = [];
    if (better && runs.length > 1) {
      const finals = cells.map((c) => c.final).filter((v): v is number => v !== null);
      const top = better === 'lower' ? Math.min(...finals) : Math.max(...finals);
      leaders = cells.flatMap((c, i) => (c.final === top ? [i] : []));
    }
    metrics.push({ key, better, cells, leaders });
  }
  const settings = runs.map((r) => settingsOf(r as RunRecord));
  const names = [...new Set(settings.flatMap((s) => [...s.keys()]))];
  const differing: SettingRow[] = [];
  let same = 0;
  for (const name of names) {
    const values = settings.map((s) => s.get(name) ?? 'none');
    if (values.every((v) => v === values[0])) same++;
    else differing.push({ name, values });
  }
  return { metrics, differing, same };
}
