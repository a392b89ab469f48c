import type { PromptSplit } from './extract-prompt';
import { findJsonSyntaxError, lineLocator, scanJsonArray, type ArrayScan } from './json-scan';
import { mapLayout, RATING_COLUMNS, ratingMargin, type ColumnMapping, type DatasetLayout } from './layouts';
import { readRow } from './rows';
import type { DataIssue, DatasetFormat, ParsedDataset, PreferenceRow } from './types';

export interface ReadOptions {
  /** Source columns for prompt / chosen / rejected, where the file's layout is not recognised. */
  columns?: ColumnMapping;
  /** How rows without a prompt are split; TRL's common prefix when not given. */
  promptSplit?: PromptSplit;
  /** Keep only rows whose chosen rating exceeds the rejected one by at least this much (rating columns: RATING_COLUMNS). */
  minRatingMargin?: number;
}

/** A row's value with the 1-based line (or, in a table, row) where it starts. */
export interface LocatedValue {
  line: number;
  value: unknown;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** JSON Lines: one row per non-blank line; a bad line costs only that line. */
function readJsonLines(text: string, file: string, issues: DataIssue[]): LocatedValue[] {
  const values: LocatedValue[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineText = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineText.trim() === '') return;
    try {
      values.push({ line: i + 1, value: JSON.parse(lineText) });
    } catch (e) {
      const where = findJsonSyntaxError(lineText);
      const reason = where ? `invalid JSON at column ${where.offset + 1}: ${where.reason}` : `invalid JSON: ${errorMessage(e)}`;
      issues.push({ file, line: i + 1, reason });
    }
  });
  // A pretty-printed single object fails on every line; say what the file is instead.
  if (values.length === 0 && issues.length > 1 && findJsonSyntaxError(text) === null) {
    issues.length = 0;
    issues.push({ file, line: 1, reason: 'the file is one JSON object, not JSON Lines or a JSON array of rows' });
  }
  return values;
}

/** A JSON array of rows (already scanned); a syntax error anywhere makes the whole file unreadable. */
function readJsonArray(text: string, scan: ArrayScan, file: string, issues: DataIssue[]): LocatedValue[] {
  const locate = lineLocator(text);
  if (!scan.ok) {
    const { line, column } = locate(scan.error.offset);
    issues.push({ file, line, reason: `invalid JSON at line ${line}, column ${column}: ${scan.error.reason}` });
    return [];
  }
  const elements = JSON.parse(text) as unknown[];
  return elements.map((value, i) => ({ line: locate(scan.elementStarts[i]).line, value }));
}

/** The format most rows have (ties: the first seen); null without rows. */
export function mostCommon<T extends string>(counts: Map<T, number>): T | null {
  let best: T | null = null;
  for (const [format, n] of counts) if (best === null || n > counts.get(best)!) best = format; // ties: first seen
  return best;
}

/** A rating difference as people read it (no 0.30000000000000004). */
function round(x: number): number {
  return Number(x.toPrecision(12));
}

/** Rows whose keys are gathered as the file's columns. */
const COLUMN_SAMPLE_ROWS = 50;

/**
 * Every row of `values` read as a preference pair, through its layout: valid rows kept, problems added
 * to `issues` with their places. Never throws.
 */
export function collectRows(values: Iterable<LocatedValue>, file: string, issues: DataIssue[], options: ReadOptions = {}): ParsedDataset {
  const rows: PreferenceRow[] = [];
  const counts = new Map<DatasetFormat, number>();
  const layouts = new Map<DatasetLayout, number>();
  let identicalPairs = 0;
  const midWordPrompts: number[] = [];
  const columns = new Set<string>();
  let seen = 0;
  for (const { line, value } of values) {
    if (seen < COLUMN_SAMPLE_ROWS && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      seen++;
      for (const key of Object.keys(value)) columns.add(key);
    }
    try {
      if (options.minRatingMargin !== undefined) {
        const rating = ratingMargin(value);
        if (rating === null) {
          issues.push({
            file,
            line,
            reason: `no numeric rating columns to filter by margin (${RATING_COLUMNS.map((c) => c.join('/')).join(', ')})`,
          });
          continue;
        }
        if (!(rating.margin >= options.minRatingMargin)) {
          const [a, b] = rating.columns;
          issues.push({
            file,
            line,
            field: a,
            reason: `rating margin ${round(rating.margin)} (${a} ${rating.ratings[0]} − ${b} ${rating.ratings[1]}) is below the minimum ${options.minRatingMargin}`,
          });
          continue;
        }
      }
      const mapped = mapLayout(value, options.columns);
      if (!mapped.ok) {
        issues.push({ file, line, reason: mapped.reason });
        continue;
      }
      const result = readRow(mapped.value, line, file, options.promptSplit);
      if (!result.ok) {
        issues.push(...result.issues);
        continue;
      }
      rows.push(result.row);
      counts.set(result.row.format, (counts.get(result.row.format) ?? 0) + 1);
      layouts.set(mapped.layout, (layouts.get(mapped.layout) ?? 0) + 1);
      if (result.identical) identicalPairs++;
      if (result.midWord) midWordPrompts.push(line);
    } catch (e) {
      issues.push({ file, line, reason: `could not read row: ${errorMessage(e)}` });
    }
  }
  return {
    file,
    format: mostCommon(counts),
    formatCounts: Object.fromEntries(counts),
    layout: mostCommon(layouts),
    rows,
    issues,
    identicalPairs,
    midWordPrompts,
    columns: [...columns],
  };
}

/** What a file (or a piece of one) of blank lines says of itself. */
export const NO_ROWS = 'the file holds no rows';

/**
 * Reads a preference dataset file (JSON Lines, or a JSON array of rows). Never throws: every problem
 * becomes a DataIssue with its place, and every valid row is kept.
 */
export function parsePreferenceFile(text: string, file: string, options: ReadOptions = {}): ParsedDataset {
  const issues: DataIssue[] = [];
  let values: LocatedValue[] = [];
  let isArray = false;
  try {
    const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    // The whole file's shape decides: a JSON array is one valid value from '[' to its end; a file that
    // starts with '[' but is not, whose first line is a whole JSON value by itself (an array as a
    // header row), is JSON Lines; anything else starting with '[' is a JSON array with an error.
    const scan = body.trimStart().startsWith('[') ? scanJsonArray(body) : null;
    const firstLine = () => body.trimStart().split('\n', 1)[0].replace(/\r$/, '');
    isArray = scan !== null && (scan.ok || findJsonSyntaxError(firstLine()) !== null);
    values = isArray ? readJsonArray(body, scan!, file, issues) : readJsonLines(body, file, issues);
  } catch (e) {
    issues.push({ file, line: 1, reason: `could not read file: ${errorMessage(e)}` });
  }
  const parsed = collectRows(values, file, issues, options);
  if (values.length === 0 && issues.length === 0) {
    issues.push({ file, line: 1, reason: isArray ? 'the JSON array is empty' : NO_ROWS });
  }
  return parsed;
}
