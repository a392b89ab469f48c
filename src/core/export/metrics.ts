/**
 * A run's metric history as files.
 *
 *   metricsCsv(history: LogEntry[]): string
 *     RFC 4180 CSV (CRLF line ends, fields quoted when they hold a comma, quote or line break).
 *     Columns: "step", then every other key in order of first appearance (so "epoch", the train
 *     metrics, and eval_ metrics where they first occur). A missing value is an empty cell.
 *   metricsJson(history: LogEntry[]): string
 *     The entries as a JSON array. JSON has no NaN or Infinity: such values are written as null.
 */
import type { LogEntry } from '../dpo/trainer';

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Numbers in their shortest round-trip form ("0.1", "1e-7"), which spreadsheets and pandas read back exactly. */
function csvValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  return csvField(String(value));
}

export function metricsCsv(history: readonly LogEntry[]): string {
  const columns = ['step'];
  const seen = new Set(columns);
  for (const entry of history) {
    for (const key of Object.keys(entry)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  const rows = [columns.map(csvField).join(',')];
  for (const entry of history) rows.push(columns.map((key) => csvValue((entry as Record<string, unknown>)[key])).join(','));
  return rows.join('\r\n') + '\r\n';
}

export function metricsJson(history: readonly LogEntry[]): string {
  return JSON.stringify(history, null, 2) + '\n';
}
