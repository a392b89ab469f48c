import type { LogEntry } from '../core/dpo/trainer';

/** The sections the Train and Runs views group their charts in, in order. */
export const CHART_GROUPS = ['Rewards', 'Tokens', 'Optimizer', 'Speed and memory'] as const;
export type ChartGroup = (typeof CHART_GROUPS)[number];

/** One chart of the Train and Runs views: its heading and the log keys it draws. */
export interface ChartSpec {
  title: string;
  group: ChartGroup;
  /** Train-metric keys; each is drawn solid, and its eval_ twin dashed when present. */
  keys: string[];
  /** Short names for the legend when a chart draws several keys. */
  labels?: string[];
  /** Fixed y range for bounded metrics. */
  domain?: [number, number];
  /** No eval line: the eval_ twin repeats the train value (num_tokens counts training tokens). */
  trainOnly?: boolean;
}

/**
 * TRL's DPOTrainer metrics (v1.9), then the studio's own: tokens/s, the time trained and the most tensor
 * memory held between logging steps, which the training worker adds to each entry.
 */
export const CHARTS: ChartSpec[] = [
  { title: 'loss', group: 'Rewards', keys: ['loss'] },
  { title: 'rewards/chosen', group: 'Rewards', keys: ['rewards/chosen'] },
  { title: 'rewards/rejected', group: 'Rewards', keys: ['rewards/rejected'] },
  { title: 'rewards/margins', group: 'Rewards', keys: ['rewards/margins'] },
  { title: 'rewards/accuracies', group: 'Rewards', keys: ['rewards/accuracies'], domain: [0, 1] },
  { title: 'logps', group: 'Rewards', keys: ['logps/chosen', 'logps/rejected'], labels: ['chosen', 'rejected'] },
  { title: 'entropy', group: 'Tokens', keys: ['entropy'] },
  { title: 'mean_token_accuracy', group: 'Tokens', keys: ['mean_token_accuracy'], domain: [0, 1] },
  { title: 'logits', group: 'Tokens', keys: ['logits/chosen', 'logits/rejected'], labels: ['chosen', 'rejected'] },
  { title: 'num_tokens', group: 'Tokens', keys: ['num_tokens'], trainOnly: true },
  { title: 'grad_norm', group: 'Optimizer', keys: ['grad_norm'] },
  { title: 'learning_rate', group: 'Optimizer', keys: ['learning_rate'] },
  { title: 'tokens/s', group: 'Speed and memory', keys: ['tokens_per_second'] },
  { title: 'time trained (s)', group: 'Speed and memory', keys: ['elapsed_seconds'] },
  { title: 'peak tensor memory (MB)', group: 'Speed and memory', keys: ['peak_memory_mb'] },
];

/** One line of a chart. */
export interface LineSpec {
  /** Column in the chart rows. */
  column: string;
  name: string;
  color: string;
  dashed: boolean;
}

export type ChartRow = { step: number } & Record<string, number>;

/** Distinct, colour-blind-friendly hues (Okabe–Ito), tuned per theme for contrast. */
export const PALETTE = {
  light: ['#0b6bcb', '#d55e00', '#009e73', '#a03ea8', '#b8860b', '#0f8fa3', '#c8325c', '#5a6473'],
  dark: ['#5ea8ff', '#ff9a52', '#3fd3a4', '#d58be0', '#f0c419', '#56c8dc', '#ff7a9c', '#a8b3c2'],
} as const;

/** Rows by step with one column per (series, key); a step missing a value leaves the cell empty. */
export function chartRows(series: { id: string; history: LogEntry[] }[], keys: string[]): ChartRow[] {
  const byStep = new Map<number, ChartRow>();
  for (const { id, history } of series) {
    for (const entry of history) {
      for (const key of keys) {
        for (const k of [key, `eval_${key}`]) {
          const v = entry[k];
          if (typeof v !== 'number' || !Number.isFinite(v)) continue;
          const row = byStep.get(entry.step) ?? ({ step: entry.step } as ChartRow);
          row[`${id}|${k}`] = v;
          byStep.set(entry.step, row);
        }
      }
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Which columns exist, in a stable order: per series, per key, train then eval. */
export function chartLines(
  series: { id: string; name: string; color: string | string[] }[],
  spec: Pick<ChartSpec, 'keys' | 'labels' | 'trainOnly'>,
  rows: ChartRow[],
): LineSpec[] {
  const present = new Set<string>();
  for (const row of rows) for (const k of Object.keys(row)) present.add(k);
  const lines: LineSpec[] = [];
  for (const s of series) {
    spec.keys.forEach((key, i) => {
      const color = Array.isArray(s.color) ? s.color[i % s.color.length] : s.color;
      const label = spec.labels?.[i];
      const base = series.length > 1 ? (label ? `${s.name} · ${label}` : s.name) : (label ?? 'train');
      if (present.has(`${s.id}|${key}`)) lines.push({ column: `${s.id}|${key}`, name: base, color, dashed: false });
      if (!spec.trainOnly && present.has(`${s.id}|eval_${key}`)) {
        lines.push({ column: `${s.id}|eval_${key}`, name: series.length > 1 || label ? `${base} (eval)` : 'eval', color, dashed: true });
      }
    });
  }
  return lines;
}

/** The last finite value a history logged for `key` (undefined when it never did). */
export function lastLogged(history: readonly LogEntry[], key: string): number | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const v = history[i][key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}
