/** Numbers and sizes as people read them. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}K`;
  return n.toLocaleString('en-US');
}

export function formatInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** A metric value to read at a glance (tooltips use formatExact). */
export function formatMetric(v: number | undefined): string {
  if (v === undefined || v === null) return '—';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/** Enough digits to tell float32 values apart. */
export function formatExact(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number(v.toPrecision(8)).toString();
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

export function formatDate(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

/** A setting as people write it: 5e-5 rather than 0.00005. */
export function formatSetting(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && a < 1e-3) return v.toExponential().replace(/\.?0+e/, 'e');
  return String(v);
}

/**
 * A policy label from the worker ("run <id> at step 3") with each saved run's id replaced by the
 * run's name as the Runs table shows it ("“sigmoid β 0.1” at step 3"). Other labels pass unchanged.
 */
export function withRunNames(label: string, runs: readonly { id: string; name: string }[]): string {
  return runs.reduce((text, r) => text.split(`run ${r.id}`).join(`“${r.name}”`), label);
}
