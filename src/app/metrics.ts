import type { LogEntry } from '../core/dpo/trainer';

/** One chart of the Train and Runs views: its heading and the log keys it draws. */
export interface ChartSpec {
  title: string;
  /** Train-metric keys; each is drawn solid, and its eval_ twin dashed when present. */
  keys: string[];
  /** Short names for the legend when a chart draws several keys. */
  labels?: string[];
  /** Fixed y range for bounded metrics. */
  domain?: [number, number];
}

export const CHARTS: ChartSpec[] = [
  { title: 'loss', keys: ['loss'] },
  { title: 'rewards/chosen', keys: ['rewards/chosen'] },
  { title: 'rewards/rejected', keys: ['rewards/rejected'] },
  { title: 'rewards/margins', keys: ['rewards/margins'] },
  { title: 'rewards/accuracies', keys: ['rewards/accuracies'], domain: [0, 1] },
  { title: 'logps', keys: ['logps/chosen', 'logps/rejected'], labels: ['chosen', 'rejected'] },
  { title: 'grad_norm', keys: ['grad_norm'] },
  { title: 'learning_rate', keys: ['learning_rate'] },
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
  spec: ChartSpec,
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
      if (present.has(`${s.id}|eval_${key}`)) {
        lines.push({ column: `${s.id}|eval_${key}`, name: series.length > 1 || label ? `${base} (eval)` : 'eval', color, dashed: true });
      }
    });
  }
  return lines;
}
