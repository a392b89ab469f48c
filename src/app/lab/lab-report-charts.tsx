/** The lab's overlay charts: one metric of several runs on shared axes, training steps only. */
import { useMemo } from 'react';
import type { LogEntry } from '../../core/dpo/trainer';
import { MetricChart } from '../components/MetricChart';
import { chartLines, chartRows, PALETTE } from '../metrics';

export interface OverlaySeries {
  id: string;
  name: string;
  history: LogEntry[];
}

interface Props {
  title: string;
  /** A logged metric, or a value derived from a log entry. */
  value: string | ((entry: LogEntry) => number | undefined);
  /** Keep the array's identity while the histories do not change (the charts redraw when it changes). */
  series: OverlaySeries[];
  theme: 'light' | 'dark';
  domain?: [number, number];
}

/** Eval entries are left out: the lab compares what each training step saw. */
export function OverlayChart({ title, value, series, theme, domain }: Props) {
  // Recomputed only when the runs' histories change, not on every status update of a live run.
  const { rows, lines } = useMemo(() => {
    const read = typeof value === 'string' ? (e: LogEntry) => e[value] : value;
    const projected = series.map((s) => ({
      id: s.id,
      history: s.history
        .filter((e) => typeof e.loss === 'number')
        .map((e) => {
          const v = read(e);
          return { step: e.step, epoch: e.epoch, ...(typeof v === 'number' ? { [title]: v } : {}) } as LogEntry;
        }),
    }));
    const colors = PALETTE[theme];
    const named = series.map((s, i) => ({ id: s.id, name: s.name, color: colors[i % colors.length] }));
    const rows = chartRows(projected, [title]);
    return { rows, lines: chartLines(named, { keys: [title] }, rows) };
  }, [series, value, title, theme]);
  return <MetricChart title={title} rows={rows} lines={lines} domain={domain} theme={theme} />;
}
