import { isPlainJson, readParquetTable, readPreferenceBytes } from '../core/data/formats';
import { mostCommon, parsePreferenceFile, type ReadOptions } from '../core/data/read';
import type { ChatTokenizer } from '../core/data/tokenizer';
import { tokenizePairs } from '../core/data/tokenize';
import { pairView, type PairView } from '../core/data/pair-view';
import { dropInvalidUtf8Rows, Utf8Checker, type InvalidUtf8 } from '../core/data/utf8';
import { RATING_COLUMNS, type DatasetLayout } from '../core/data/layouts';
import type { DataIssue, DatasetFormat, ParsedDataset, PreferenceRow, Text, TokenizedPair, TruncationMode } from '../core/data/types';
import { datasetFingerprint, readFingerprint } from '../storage';
import type { DatasetSummary, Histogram, PreviewRow, Task, TokenStats } from './protocol';

type Progress = (task: Task, label: string, fraction: number | null) => void;

/** JSON Lines files above this size are parsed in pieces, so progress can be reported between them. */
const PARSE_CHUNK_CHARS = 4 * 2 ** 20;
const TOKENIZE_CHUNK_ROWS = 256;
const HISTOGRAM_BINS = 30;
/** Lines of mid-word prompts named in the summary (the count covers them all). */
const MID_WORD_LINES_SHOWN = 5;
/** Preview cells longer than this are cut (the whole row is still used for training). */
const PREVIEW_CHARS = 4000;

const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The file's text, and where it is not valid UTF-8 (those rows are skipped and reported). */
async function readText(file: Blob, name: string, progress: Progress): Promise<{ text: string; invalid: InvalidUtf8[] }> {
  const reader = file.stream().getReader();
  const decoder = new TextDecoder('utf-8');
  const checker = new Utf8Checker();
  const parts: string[] = [];
  let read = 0;
  // The stream hands over small pieces (64 KiB): a report for each would keep the page busy redrawing.
  let reportedPercent = -1;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.length;
    checker.push(value);
    parts.push(decoder.decode(value, { stream: true }));
    const fraction = file.size > 0 ? (0.5 * read) / file.size : null;
    const percent = fraction === null ? 0 : Math.floor(fraction * 100);
    if (percent !== reportedPercent) {
      reportedPercent = percent;
      progress('dataset', `reading ${name}`, fraction);
    }
  }
  parts.push(decoder.decode());
  checker.end();
  return { text: parts.join(''), invalid: checker.invalid };
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

const NO_ROWS = 'the file holds no rows';

/**
 * parsePreferenceFile over a large JSON Lines text, piece by piece at line boundaries, with line
 * numbers carried across pieces. A JSON array cannot be cut, so it is parsed whole.
 */
async function parseWithProgress(text: string, name: string, options: ReadOptions, progress: Progress): Promise<ParsedDataset> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length <= PARSE_CHUNK_CHARS || body.trimStart().startsWith('[')) {
    progress('dataset', `parsing ${name}`, body.length <= PARSE_CHUNK_CHARS ? 0.75 : null);
    return parsePreferenceFile(body, name, options);
  }
  const rows: PreferenceRow[] = [];
  const issues: DataIssue[] = [];
  const counts = new Map<DatasetFormat, number>();
  const layouts = new Map<DatasetLayout, number>();
  let identicalPairs = 0;
  const midWordPrompts: number[] = [];
  let columns: string[] = [];
  let lineOffset = 0;
  for (let start = 0; start < body.length;) {
    let end = Math.min(body.length, start + PARSE_CHUNK_CHARS);
    if (end < body.length) {
      const newline = body.indexOf('\n', end);
      end = newline < 0 ? body.length : newline + 1;
    }
    const piece = body.slice(start, end);
    const parsed = parsePreferenceFile(piece, name, options);
    for (const row of parsed.rows) rows.push({ ...row, line: row.line + lineOffset });
    for (const issue of parsed.issues) if (issue.reason !== NO_ROWS) issues.push({ ...issue, line: issue.line + lineOffset });
    for (const [format, n] of Object.entries(parsed.formatCounts) as [DatasetFormat, number][])
      counts.set(format, (counts.get(format) ?? 0) + n);
    if (parsed.layout) layouts.set(parsed.layout, (layouts.get(parsed.layout) ?? 0) + parsed.rows.length);
    identicalPairs += parsed.identicalPairs;
    for (const line of parsed.midWordPrompts) midWordPrompts.push(line + lineOffset);
    if (columns.length === 0) columns = parsed.columns;
    lineOffset += countNewlines(piece);
    start = end;
    progress('dataset', `parsing ${name}: ${rows.length.toLocaleString('en-US')} rows so far`, 0.5 + (0.5 * end) / body.length);
    await yieldToEvents();
  }
  if (rows.length === 0 && issues.length === 0) issues.push({ file: name, line: 1, reason: NO_ROWS });
  return {
    file: name,
    format: mostCommon(counts),
    formatCounts: Object.fromEntries(counts),
    layout: mostCommon(layouts),
    rows,
    issues,
    identicalPairs,
    midWordPrompts,
    columns,
  };
}

/** A prompt or completion as readable text: plain strings as they are, messages as "role: content". */
function displayText(value: Text): string {
  const text = typeof value === 'string' ? value : value.map((m) => `${m.role}: ${m.content}`).join('\n\n');
  return text.length > PREVIEW_CHARS
    ? `${text.slice(0, PREVIEW_CHARS)}… (${(text.length - PREVIEW_CHARS).toLocaleString('en-US')} more characters)`
    : text;
}

function histogramOf(pairs: TokenizedPair[]): Histogram {
  let longest = 0;
  for (const p of pairs) longest = Math.max(longest, p.prompt_ids.length, p.chosen_ids.length, p.rejected_ids.length);
  const width = Math.max(1, Math.ceil((longest + 1) / HISTOGRAM_BINS));
  const bins = Math.max(1, Math.ceil((longest + 1) / width));
  const count = (lengths: number[]) => {
    const out = new Array<number>(bins).fill(0);
    for (const n of lengths) out[Math.floor(n / width)]++;
    return out;
  };
  return {
    edges: Array.from({ length: bins }, (_, i) => i * width),
    width,
    prompt: count(pairs.map((p) => p.prompt_ids.length)),
    chosen: count(pairs.map((p) => p.chosen_ids.length)),
    rejected: count(pairs.map((p) => p.rejected_ids.length)),
  };
}

interface Tokenized {
  tokenizer: ChatTokenizer;
  /** By row index; undefined where the row could not be tokenized. */
  byRow: (TokenizedPair | undefined)[];
  pairs: TokenizedPair[];
  failed: DataIssue[];
  mismatches: DataIssue[];
}

/** TRL drops a pair whose prompt alone reaches max_length (keep_start only). */
function isDropped(p: TokenizedPair, maxLength: number | null, mode: TruncationMode): boolean {
  return maxLength !== null && mode === 'keep_start' && p.prompt_ids.length >= maxLength;
}

/** A file without a single valid pair: refused, with the source columns a column mapping could name. */
export class NoValidPairError extends Error {
  constructor(
    message: string,
    readonly columns: string[],
  ) {
    super(message);
  }
}

/** A parsed preference file, and its tokenization under the model's tokenizer once one is loaded. */
export class DatasetSession {
  private tokenized: Tokenized | null = null;

  private constructor(
    readonly name: string,
    readonly bytes: number,
    /** The file as dropped (or a Hub split's Parquet files), kept so a run on it can resume after a reload. */
    readonly content: Blob[],
    readonly fingerprint: string,
    readonly parsed: ParsedDataset,
    /** How the file was read (implicit-prompt split, column mapping). */
    readonly options: ReadOptions,
  ) {}

  /**
   * Reads a dropped file. Plain JSON Lines / JSON stream in with progress; Parquet, CSV/TSV and
   * compressed files go through the shared reader. A file of another kind, or one without a single
   * valid row, is refused with the reason: the dataset loaded before stays.
   */
  static async load(files: Blob[], name: string, options: ReadOptions, progress: Progress): Promise<DatasetSession> {
    if (files.length === 0) throw new Error(`${name}: no file to read`);
    const file = files[0];
    progress('dataset', `reading ${name}`, 0);
    const head = new Uint8Array(await file.slice(0, 4096).arrayBuffer());
    let parsed: ParsedDataset;
    let fingerprint: string;
    if (files.length > 1) {
      // A Hub split's Parquet files: one table, rows numbered across them.
      const parts = await Promise.all(files.map(async (f) => new Uint8Array(await f.arrayBuffer())));
      progress('dataset', `parsing ${name}`, null);
      parsed = await readParquetTable(
        parts.map((bytes, i) => ({ name: `file ${i + 1} of ${parts.length}`, bytes })),
        name,
        options,
      );
      progress('dataset', `fingerprinting ${name}`, 1);
      fingerprint = readFingerprint(await datasetFingerprint(parts), options);
    } else if (isPlainJson(head, name)) {
      const { text, invalid } = await readText(file, name, progress);
      parsed = dropInvalidUtf8Rows(await parseWithProgress(text, name, options, progress), invalid);
      progress('dataset', `fingerprinting ${name}`, 1);
      fingerprint = readFingerprint(await datasetFingerprint(text), options);
    } else {
      const bytes = new Uint8Array(await file.arrayBuffer());
      progress('dataset', `parsing ${name}`, null);
      parsed = await readPreferenceBytes(bytes, name, options);
      progress('dataset', `fingerprinting ${name}`, 1);
      fingerprint = readFingerprint(await datasetFingerprint(bytes), options);
    }
    if (parsed.rows.length === 0) {
      const first = [...parsed.issues].sort((a, b) => a.line - b.line).slice(0, 3);
      const problems = first.map((i) => `${i.line}${i.field ? ` [${i.field}]` : ''}: ${i.reason}`).join('; ');
      throw new NoValidPairError(
        `${name} has no valid pair, so it was not loaded (${parsed.issues.length} problems; ${problems || 'no rows'})`,
        parsed.columns,
      );
    }
    const bytes = files.reduce((n, f) => n + f.size, 0);
    return new DatasetSession(name, bytes, files, fingerprint, parsed, options);
  }

  get rows(): PreferenceRow[] {
    return this.parsed.rows;
  }

  summary(): DatasetSummary {
    const p = this.parsed;
    return {
      name: this.name,
      bytes: this.bytes,
      fingerprint: this.fingerprint,
      format: p.format,
      formatCounts: p.formatCounts,
      layout: p.layout,
      rows: p.rows.length,
      identicalPairs: p.identicalPairs,
      promptSplit: this.options.promptSplit ?? 'common_prefix',
      ratingColumns: RATING_COLUMNS.find((pair) => pair.every((c) => p.columns.includes(c))) ?? null,
      minRatingMargin: this.options.minRatingMargin ?? null,
      implicitPrompts: (p.formatCounts.implicit_prompt ?? 0) + (p.formatCounts.implicit_prompt_conversational ?? 0),
      midWordPrompts: p.midWordPrompts.length,
      midWordLines: p.midWordPrompts.slice(0, MID_WORD_LINES_SHOWN),
      midWordExample: this.midWordExample(),
      // The parser lists unreadable lines before invalid rows; people read them in file order.
      issues: [...p.issues].sort((a, b) => a.line - b.line),
    };
  }

  /** Where the first mid-word prompt is cut: the prompt's last characters and the chosen answer's first. */
  private midWordExample(): DatasetSummary['midWordExample'] {
    const line = this.parsed.midWordPrompts[0];
    const row = line === undefined ? undefined : this.parsed.rows.find((r) => r.line === line);
    if (!row || typeof row.prompt !== 'string' || typeof row.chosen !== 'string') return null;
    const tail = Array.from(row.prompt.slice(-40)).slice(-16).join('');
    const head = Array.from(row.chosen.slice(0, 40)).slice(0, 16).join('');
    return {
      line,
      promptEnd: (tail.length < row.prompt.length ? '…' : '') + tail,
      chosenStart: head + (head.length < row.chosen.length ? '…' : ''),
    };
  }

  /** Tokenizes every row once per tokenizer, in pieces with progress (a large file takes a while). */
  async tokenize(tokenizer: ChatTokenizer, progress: Progress): Promise<Tokenized> {
    if (this.tokenized?.tokenizer === tokenizer) return this.tokenized;
    const rows = this.parsed.rows;
    const byRow: (TokenizedPair | undefined)[] = new Array(rows.length);
    const result: Tokenized = { tokenizer, byRow, pairs: [], failed: [], mismatches: [] };
    for (let start = 0; start < rows.length; start += TOKENIZE_CHUNK_ROWS) {
      const report = tokenizePairs(rows.slice(start, start + TOKENIZE_CHUNK_ROWS), tokenizer, { max_length: null, file: this.name });
      for (const pair of report.pairs) {
        const shifted = { ...pair, index: pair.index + start };
        byRow[shifted.index] = shifted;
        result.pairs.push(shifted);
      }
      result.failed.push(...report.failed);
      result.mismatches.push(...report.mismatches);
      const done = Math.min(start + TOKENIZE_CHUNK_ROWS, rows.length);
      progress('tokenize', `tokenizing ${done.toLocaleString('en-US')} of ${rows.length.toLocaleString('en-US')} rows`, done / rows.length);
      await yieldToEvents();
    }
    this.tokenized = result;
    return result;
  }

  stats(tokenized: Tokenized, maxLength: number | null, mode: TruncationMode): TokenStats {
    let dropped = 0;
    let truncated = 0;
    const droppedIssues: DataIssue[] = [];
    const longest = { prompt: 0, chosen: 0, rejected: 0 };
    for (const p of tokenized.pairs) {
      longest.prompt = Math.max(longest.prompt, p.prompt_ids.length);
      longest.chosen = Math.max(longest.chosen, p.chosen_ids.length);
      longest.rejected = Math.max(longest.rejected, p.rejected_ids.length);
      if (isDropped(p, maxLength, mode)) {
        dropped++;
        droppedIssues.push({
          file: this.name,
          line: p.line,
          field: 'prompt',
          reason: `dropped: the prompt is ${p.prompt_ids.length} tokens, not shorter than max_length ${maxLength}`,
        });
      } else if (maxLength !== null && p.prompt_ids.length + Math.max(p.chosen_ids.length, p.rejected_ids.length) > maxLength) {
        truncated++;
      }
    }
    const issues = [...tokenized.failed, ...droppedIssues, ...tokenized.mismatches].sort((a, b) => a.line - b.line);
    return {
      maxLength,
      truncationMode: mode,
      pairs: tokenized.pairs.length - dropped,
      dropped,
      truncated,
      mismatches: tokenized.mismatches.length,
      failed: tokenized.failed.length,
      longest,
      histogram: histogramOf(tokenized.pairs),
      issues,
    };
  }

  /** The pairs a run trains on: every tokenized row but those TRL drops under these settings. */
  trainingPairs(tokenized: Tokenized, maxLength: number | null, mode: TruncationMode): TokenizedPair[] {
    return tokenized.pairs.filter((p) => !isDropped(p, maxLength, mode));
  }

  /** The last search: its text and the indices of the rows it matches. */
  private search: { query: string; indices: number[] } | null = null;

  /** Indices of the rows whose prompt, chosen or rejected text holds `query` (any case); every row for none. */
  private matching(query: string): number[] | null {
    const q = query.trim().toLowerCase();
    if (q === '') return null;
    if (this.search?.query !== q) {
      const indices: number[] = [];
      this.parsed.rows.forEach((row, i) => {
        if ([row.prompt, row.chosen, row.rejected].some((t) => searchText(t).includes(q))) indices.push(i);
      });
      this.search = { query: q, indices };
    }
    return this.search.indices;
  }

  /** A page of rows, or of the rows matching `query`, with how many there are in all. */
  preview(offset: number, count: number, query = ''): { total: number; rows: PreviewRow[] } {
    const matches = this.matching(query);
    const indices = (matches ?? []).slice(offset, offset + count);
    const page = matches ? indices : Array.from({ length: Math.max(0, Math.min(count, this.rows.length - offset)) }, (_, i) => offset + i);
    return {
      total: matches ? matches.length : this.rows.length,
      rows: page.map((index) => {
        const row = this.parsed.rows[index];
        const pair = this.tokenized?.byRow[index];
        return {
          index,
          line: row.line,
          prompt: displayText(row.prompt),
          chosen: displayText(row.chosen),
          rejected: displayText(row.rejected),
          identical: JSON.stringify(row.chosen) === JSON.stringify(row.rejected),
          tokens: pair ? { prompt: pair.prompt_ids.length, chosen: pair.chosen_ids.length, rejected: pair.rejected_ids.length } : null,
        };
      }),
    };
  }

  /** Row `index` as the model sees it under these settings (its tokens, and what truncation keeps). */
  async pairView(
    index: number,
    tokenizer: ChatTokenizer,
    opts: { max_length: number | null; max_prompt_length: number | null; truncation_mode: TruncationMode },
    progress: Progress,
  ): Promise<PairView> {
    const row = this.parsed.rows[index];
    if (!row) throw new Error(`there is no row ${index + 1}: the dataset has ${this.rows.length}`);
    const tokenized = await this.tokenize(tokenizer, progress);
    const pair = tokenized.byRow[index];
    if (!pair) {
      const why = tokenized.failed.find((f) => f.line === row.line)?.reason ?? 'it could not be tokenized';
      throw new Error(`${this.name}, line ${row.line}: ${why}`);
    }
    return pairView(pair, tokenizer, opts);
  }
}

/** A prompt or completion as the text searched: strings as they are, messages' contents joined. */
function searchText(value: Text): string {
  return (typeof value === 'string' ? value : value.map((m) => m.content).join('\n')).toLowerCase();
}
