import { hasParquetMarks, isPlainJson, readParquetTable, readPreferenceBytes } from '../core/data/formats';
import { NO_ROWS, parsePreferenceFile, type ReadOptions } from '../core/data/read';
import type { ChatTokenizer } from '../core/data/tokenizer';
import { tokenizePairs } from '../core/data/tokenize';
import { pairView, type PairView } from '../core/data/pair-view';
import { allPairs, pairsInMemory, pairSubset, splitPairSource, type PairSource } from '../core/data/pair-source';
import {
  inFileLines,
  PieceReport,
  plainNeedle,
  rowRange,
  rowsInMemory,
  scanJsonLines,
  scanParquet,
  type DatasetReport,
  type RowSource,
} from '../core/data/row-store';
import { dropInvalidUtf8Rows, Utf8Checker, type InvalidUtf8 } from '../core/data/utf8';
import { RATING_COLUMNS } from '../core/data/layouts';
import type { DataIssue, ParsedDataset, PreferenceRow, Text, TokenizedPair, TruncationMode } from '../core/data/types';
import { datasetFingerprint, fileFingerprint, readFingerprint } from '../storage';
import type { DatasetSummary, Histogram, PreviewRow, Task, TokenStats } from './protocol';

type Progress = (task: Task, label: string, fraction: number | null) => void;

/**
 * JSON Lines and Parquet files (or a Hub split's files together) above this size are not held: their
 * rows are validated in one pass and read again from the file when needed. Held whole, a file takes
 * about ten times its size in memory once parsed and tokenized.
 */
export const ON_DEMAND_BYTES = 32 * 2 ** 20;
/** Rows read at a time when a search goes through a file read on demand. */
const SEARCH_CHUNK_ROWS = 2048;
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
  const report = new PieceReport();
  let lineOffset = 0;
  for (let start = 0; start < body.length;) {
    let end = Math.min(body.length, start + PARSE_CHUNK_CHARS);
    if (end < body.length) {
      const newline = body.indexOf('\n', end);
      end = newline < 0 ? body.length : newline + 1;
    }
    const piece = body.slice(start, end);
    const parsed = inFileLines(parsePreferenceFile(piece, name, options), lineOffset);
    for (const row of parsed.rows) rows.push(row);
    report.add(parsed);
    lineOffset += countNewlines(piece);
    start = end;
    progress('dataset', `parsing ${name}: ${rows.length.toLocaleString('en-US')} rows so far`, 0.5 + (0.5 * end) / body.length);
    await yieldToEvents();
  }
  return { ...report.build(name, NO_ROWS, rows.length), rows };
}

/** Whether a JSON file's first character (after a byte-order mark and spaces) opens an array. */
function jsonArrayHead(head: Uint8Array): boolean {
  return new TextDecoder()
    .decode(head)
    .replace(/^\uFEFF/, '')
    .trimStart()
    .startsWith('[');
}

/**
 * A file read whole: plain JSON Lines / JSON stream in with progress; Parquet (one file or a Hub
 * split's several), CSV/TSV and compressed files go through the shared reader.
 */
async function readWhole(
  files: Blob[],
  head: Uint8Array,
  name: string,
  options: ReadOptions,
  progress: Progress,
): Promise<{ parsed: ParsedDataset; fingerprint: string }> {
  if (files.length > 1) {
    // A Hub split's Parquet files: one table, rows numbered across them.
    const parts = await Promise.all(files.map(async (f) => new Uint8Array(await f.arrayBuffer())));
    progress('dataset', `parsing ${name}`, null);
    const parsed = await readParquetTable(
      parts.map((bytes, i) => ({ name: `file ${i + 1} of ${parts.length}`, bytes })),
      name,
      options,
    );
    progress('dataset', `fingerprinting ${name}`, 1);
    return { parsed, fingerprint: readFingerprint(await datasetFingerprint(parts), options) };
  }
  const file = files[0];
  if (isPlainJson(head, name)) {
    const { text, invalid } = await readText(file, name, progress);
    const parsed = dropInvalidUtf8Rows(await parseWithProgress(text, name, options, progress), invalid);
    progress('dataset', `fingerprinting ${name}`, 1);
    return { parsed, fingerprint: readFingerprint(await datasetFingerprint(text), options) };
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  progress('dataset', `parsing ${name}`, null);
  const parsed = await readPreferenceBytes(bytes, name, options);
  progress('dataset', `fingerprinting ${name}`, 1);
  return { parsed, fingerprint: readFingerprint(await datasetFingerprint(bytes), options) };
}

/** A prompt or completion as readable text: plain strings as they are, messages as "role: content". */
function displayText(value: Text): string {
  const text = typeof value === 'string' ? value : value.map((m) => `${m.role}: ${m.content}`).join('\n\n');
  return text.length > PREVIEW_CHARS
    ? `${text.slice(0, PREVIEW_CHARS)}… (${(text.length - PREVIEW_CHARS).toLocaleString('en-US')} more characters)`
    : text;
}

/** Token counts of every valid row under one tokenizer (−1 where the row could not be tokenized). */
interface Tokenized {
  tokenizer: ChatTokenizer;
  prompt: Int32Array;
  chosen: Int32Array;
  rejected: Int32Array;
  /** The pairs themselves, by row index, for rows held in memory (a file read on demand keeps counts only). */
  byRow: (TokenizedPair | undefined)[] | null;
  /** The first problems of each kind (ISSUES_KEPT), and how many there are. */
  failed: DataIssue[];
  failedCount: number;
  mismatches: DataIssue[];
  mismatchCount: number;
}

/** Problems of one kind listed in token statistics; the counts cover them all. */
const ISSUES_KEPT = 10_000;

function histogramOf(t: Tokenized): Histogram {
  const n = t.prompt.length;
  let longest = 0;
  for (let i = 0; i < n; i++) if (t.prompt[i] >= 0) longest = Math.max(longest, t.prompt[i], t.chosen[i], t.rejected[i]);
  const width = Math.max(1, Math.ceil((longest + 1) / HISTOGRAM_BINS));
  const bins = Math.max(1, Math.ceil((longest + 1) / width));
  const count = (lengths: Int32Array) => {
    const out = new Array<number>(bins).fill(0);
    for (let i = 0; i < n; i++) if (t.prompt[i] >= 0) out[Math.floor(lengths[i] / width)]++;
    return out;
  };
  return {
    edges: Array.from({ length: bins }, (_, i) => i * width),
    width,
    prompt: count(t.prompt),
    chosen: count(t.chosen),
    rejected: count(t.rejected),
  };
}

/** TRL drops a pair whose prompt alone reaches max_length (keep_start only). */
function isDropped(promptLength: number, maxLength: number | null, mode: TruncationMode): boolean {
  return maxLength !== null && mode === 'keep_start' && promptLength >= maxLength;
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

/** The pairs a run trains on, read when asked, and the longest of them (prompt + the longer completion). */
export interface TrainingPairs extends PairSource {
  longest: number;
  /** The row index of each pair. */
  rows: readonly number[];
  /** Whether the pairs are tokenized from rows read again from the file (a file too large to hold). */
  onDemand: boolean;
}

/**
 * Held-out pairs are kept in memory through a run (each eval scores them all); a file read on demand
 * may hold out at most this many.
 */
export const MAX_EVAL_PAIRS_ON_DEMAND = 10_000;

/**
 * A run's split of its pairs (splitTrainEval's): the training pairs read as batches ask, the held-out
 * ones read into memory. Refuses, saying what to do, an eval split too large to hold of a file read on
 * demand.
 */
export async function splitForRun(
  pairs: TrainingPairs,
  evalSplit: number,
  seed: number,
  maxHeldOnDemand = MAX_EVAL_PAIRS_ON_DEMAND,
): Promise<{ train: PairSource; eval: TokenizedPair[] }> {
  const { train, eval: held } = splitPairSource(pairs, evalSplit, seed);
  if (pairs.onDemand && held.length > maxHeldOnDemand) {
    throw new Error(
      `eval_split ${evalSplit} holds out ${held.length.toLocaleString('en-US')} pairs of a file read on demand, ` +
        `and held-out pairs are kept in memory: hold out at most ${maxHeldOnDemand.toLocaleString('en-US')} ` +
        `(a count, e.g. eval_split 2000)`,
    );
  }
  return { train, eval: await allPairs(held) };
}

/**
 * A preference file, read whole into memory or (a large JSON Lines or Parquet file) on demand, and its
 * tokenization under the model's tokenizer once one is loaded.
 */
export class DatasetSession {
  private tokenized: Tokenized | null = null;

  private constructor(
    readonly name: string,
    readonly bytes: number,
    /** The file as dropped (or a Hub split's Parquet files), kept so a run on it can resume after a reload. */
    readonly content: Blob[],
    readonly fingerprint: string,
    readonly report: DatasetReport,
    /** The valid rows: in memory, or read again from the file when asked. */
    readonly source: RowSource,
    /** Whether the rows are read from the file on demand (a file too large to hold). */
    readonly onDemand: boolean,
    /** How the file was read (implicit-prompt split, column mapping). */
    readonly options: ReadOptions,
    private readonly midWordExample: DatasetSummary['midWordExample'],
  ) {}

  /**
   * Reads a dropped file. JSON Lines and Parquet above ON_DEMAND_BYTES are scanned and their rows left in
   * the file; smaller plain JSON streams in with progress; Parquet, CSV/TSV and compressed files go through
   * the shared reader. A file of another kind, or one without a single valid row, is refused with the
   * reason: the dataset loaded before stays.
   */
  static async load(
    files: Blob[],
    name: string,
    options: ReadOptions,
    progress: Progress,
    onDemandAbove = ON_DEMAND_BYTES,
  ): Promise<DatasetSession> {
    if (files.length === 0) throw new Error(`${name}: no file to read`);
    const file = files[0];
    const bytes = files.reduce((n, f) => n + f.size, 0);
    progress('dataset', `reading ${name}`, 0);
    const head = new Uint8Array(await file.slice(0, 4096).arrayBuffer());
    const tail = new Uint8Array(await file.slice(Math.max(0, file.size - 4)).arrayBuffer());
    const parquet = files.length > 1 || hasParquetMarks(head, tail);
    const jsonLines = files.length === 1 && isPlainJson(head, name) && !jsonArrayHead(head);
    let read: { report: DatasetReport; source: RowSource; onDemand: boolean; fingerprint: string };
    if (bytes > onDemandAbove && (parquet || jsonLines)) {
      const scanProgress = async (fraction: number, rows: number) => {
        progress('dataset', `reading ${name}: ${rows.toLocaleString('en-US')} rows so far`, fraction);
        await yieldToEvents();
      };
      const scanned = parquet
        ? await scanParquet(
            files.map((blob, i) => ({ name: files.length > 1 ? `file ${i + 1} of ${files.length}` : name, blob })),
            name,
            options,
            scanProgress,
          )
        : await scanJsonLines(file, name, options, scanProgress);
      progress('dataset', `fingerprinting ${name}`, null);
      const fingerprint = readFingerprint(await fileFingerprint(files), options);
      read = { ...scanned, onDemand: true, fingerprint };
    } else {
      const { parsed, fingerprint } = await readWhole(files, head, name, options, progress);
      const { rows, ...report } = parsed;
      read = { report, source: rowsInMemory(rows), onDemand: false, fingerprint };
    }
    if (read.source.count === 0) {
      const first = [...read.report.issues].sort((a, b) => a.line - b.line).slice(0, 3);
      const problems = first.map((i) => `${i.line}${i.field ? ` [${i.field}]` : ''}: ${i.reason}`).join('; ');
      throw new NoValidPairError(
        `${name} has no valid pair, so it was not loaded (${read.report.issues.length} problems; ${problems || 'no rows'})`,
        read.report.columns,
      );
    }
    const example = await midWordExampleOf(read.source, read.report.midWordPrompts[0]);
    return new DatasetSession(name, bytes, files, read.fingerprint, read.report, read.source, read.onDemand, options, example);
  }

  summary(): DatasetSummary {
    const p = this.report;
    return {
      name: this.name,
      bytes: this.bytes,
      fingerprint: this.fingerprint,
      format: p.format,
      formatCounts: p.formatCounts,
      layout: p.layout,
      rows: this.source.count,
      onDemand: this.onDemand,
      identicalPairs: p.identicalPairs,
      promptSplit: this.options.promptSplit ?? 'common_prefix',
      ratingColumns: RATING_COLUMNS.find((pair) => pair.every((c) => p.columns.includes(c))) ?? null,
      minRatingMargin: this.options.minRatingMargin ?? null,
      implicitPrompts: (p.formatCounts.implicit_prompt ?? 0) + (p.formatCounts.implicit_prompt_conversational ?? 0),
      midWordPrompts: p.midWordPrompts.length,
      midWordLines: p.midWordPrompts.slice(0, MID_WORD_LINES_SHOWN),
      midWordExample: this.midWordExample,
      // The parser lists unreadable lines before invalid rows; people read them in file order.
      issues: [...p.issues].sort((a, b) => a.line - b.line),
    };
  }

  /**
   * Tokenizes every row once per tokenizer, in pieces with progress (a large file takes a while): the
   * token counts of each row are kept, and the pairs themselves only for rows held in memory.
   */
  async tokenize(tokenizer: ChatTokenizer, progress: Progress): Promise<Tokenized> {
    if (this.tokenized?.tokenizer === tokenizer) return this.tokenized;
    const n = this.source.count;
    const result: Tokenized = {
      tokenizer,
      prompt: new Int32Array(n).fill(-1),
      chosen: new Int32Array(n).fill(-1),
      rejected: new Int32Array(n).fill(-1),
      byRow: this.onDemand ? null : new Array<TokenizedPair | undefined>(n),
      failed: [],
      failedCount: 0,
      mismatches: [],
      mismatchCount: 0,
    };
    for (let start = 0; start < n; start += TOKENIZE_CHUNK_ROWS) {
      const rows = await rowRange(this.source, start, TOKENIZE_CHUNK_ROWS);
      const report = tokenizePairs(rows, tokenizer, { max_length: null, file: this.name });
      for (const pair of report.pairs) {
        const index = pair.index + start;
        result.prompt[index] = pair.prompt_ids.length;
        result.chosen[index] = pair.chosen_ids.length;
        result.rejected[index] = pair.rejected_ids.length;
        if (result.byRow) result.byRow[index] = { ...pair, index };
      }
      result.failedCount += report.failed.length;
      result.mismatchCount += report.mismatches.length;
      result.failed.push(...report.failed.slice(0, ISSUES_KEPT - result.failed.length));
      result.mismatches.push(...report.mismatches.slice(0, ISSUES_KEPT - result.mismatches.length));
      const done = Math.min(start + TOKENIZE_CHUNK_ROWS, n);
      progress('tokenize', `tokenizing ${done.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} rows`, done / n);
      await yieldToEvents();
    }
    this.tokenized = result;
    return result;
  }

  stats(t: Tokenized, maxLength: number | null, mode: TruncationMode): TokenStats {
    let dropped = 0;
    let truncated = 0;
    let tokenized = 0;
    const droppedIssues: DataIssue[] = [];
    const longest = { prompt: 0, chosen: 0, rejected: 0 };
    const lines = this.lineOf(t);
    for (let i = 0; i < t.prompt.length; i++) {
      const prompt = t.prompt[i];
      if (prompt < 0) continue;
      tokenized++;
      longest.prompt = Math.max(longest.prompt, prompt);
      longest.chosen = Math.max(longest.chosen, t.chosen[i]);
      longest.rejected = Math.max(longest.rejected, t.rejected[i]);
      if (isDropped(prompt, maxLength, mode)) {
        dropped++;
        if (droppedIssues.length < ISSUES_KEPT) {
          droppedIssues.push({
            file: this.name,
            line: lines(i),
            field: 'prompt',
            reason: `dropped: the prompt is ${prompt} tokens, not shorter than max_length ${maxLength}`,
          });
        }
      } else if (maxLength !== null && prompt + Math.max(t.chosen[i], t.rejected[i]) > maxLength) {
        truncated++;
      }
    }
    const issues = [...t.failed, ...droppedIssues, ...t.mismatches].sort((a, b) => a.line - b.line);
    return {
      maxLength,
      truncationMode: mode,
      pairs: tokenized - dropped,
      dropped,
      truncated,
      mismatches: t.mismatchCount,
      failed: t.failedCount,
      longest,
      histogram: histogramOf(t),
      issues,
    };
  }

  /** A row's line by its index: from the pairs held, else from the row source. */
  private lineOf(t: Tokenized): (index: number) => number {
    return (index) => t.byRow?.[index]?.line ?? this.source.lineOf(index);
  }

  /**
   * The pairs a run trains on: every tokenized row but those TRL drops under these settings, in row
   * order; held in memory, or tokenized again from their rows when a batch asks for them.
   */
  trainingPairs(t: Tokenized, maxLength: number | null, mode: TruncationMode): TrainingPairs {
    const kept: number[] = [];
    let longest = 0;
    for (let i = 0; i < t.prompt.length; i++) {
      if (t.prompt[i] < 0 || isDropped(t.prompt[i], maxLength, mode)) continue;
      kept.push(i);
      longest = Math.max(longest, t.prompt[i] + Math.max(t.chosen[i], t.rejected[i]));
    }
    const byRow = t.byRow;
    if (byRow) return { ...pairsInMemory(kept.map((i) => byRow[i]!)), longest, rows: kept, onDemand: false };
    return {
      ...pairSubset({ length: this.source.count, get: (indices) => this.pairsOf(indices, t.tokenizer) }, kept),
      longest,
      rows: kept,
      onDemand: true,
    };
  }

  /** Rows tokenized again (a file read on demand): the same pairs its tokenization pass counted. */
  private async pairsOf(indices: readonly number[], tokenizer: ChatTokenizer): Promise<TokenizedPair[]> {
    const rows = await this.source.rows(indices);
    const report = tokenizePairs(rows, tokenizer, { max_length: null, file: this.name });
    if (report.pairs.length !== rows.length) {
      const failed = report.failed[0];
      throw new Error(`${this.name}, line ${failed?.line ?? '?'}: the row no longer tokenizes (${failed?.reason ?? 'unknown'})`);
    }
    return report.pairs.map((p) => ({ ...p, index: indices[p.index] }));
  }

  /** The last search: its text and the indices of the rows it matches. */
  private search: { query: string; indices: number[] } | null = null;
  /** Counts searches begun: a search through a file read on demand stops when a newer one begins. */
  private searchesBegun = 0;

  /**
   * Indices of the rows whose prompt, chosen or rejected text holds `query` (any case); null for no
   * query; 'superseded' when a newer search began before this one finished. A file read on demand is
   * read through once per new query (only the rows whose raw line holds the text, where it can say).
   */
  private async matching(query: string): Promise<number[] | null | 'superseded'> {
    const q = query.trim().toLowerCase();
    if (q === '') return null;
    if (this.search?.query === q) return this.search.indices;
    const search = ++this.searchesBegun;
    const stillWanted = () => search === this.searchesBegun;
    const candidates = plainNeedle(q) && this.source.candidates ? await this.source.candidates(q, stillWanted) : undefined;
    if (candidates === null) return 'superseded';
    const total = candidates?.length ?? this.source.count;
    const indices: number[] = [];
    for (let start = 0; start < total; start += SEARCH_CHUNK_ROWS) {
      if (!stillWanted()) return 'superseded';
      const at = candidates ? candidates.slice(start, start + SEARCH_CHUNK_ROWS) : null;
      const rows = at ? await this.source.rows(at) : await rowRange(this.source, start, SEARCH_CHUNK_ROWS);
      rows.forEach((row, i) => {
        if ([row.prompt, row.chosen, row.rejected].some((t) => searchText(t).includes(q))) indices.push(at ? at[i] : start + i);
      });
      if (this.onDemand) await yieldToEvents();
    }
    this.search = { query: q, indices };
    return indices;
  }

  /** A page of rows, or of the rows matching `query`, with how many there are in all. */
  async preview(offset: number, count: number, query = ''): Promise<{ total: number; rows: PreviewRow[]; superseded?: boolean }> {
    const matches = await this.matching(query);
    if (matches === 'superseded') return { total: 0, rows: [], superseded: true };
    const n = this.source.count;
    const page = matches
      ? matches.slice(offset, offset + count)
      : Array.from({ length: Math.max(0, Math.min(count, n - offset)) }, (_, i) => offset + i);
    const rows = await this.source.rows(page);
    const t = this.tokenized;
    return {
      total: matches ? matches.length : n,
      rows: rows.map((row, k) => {
        const index = page[k];
        return {
          index,
          line: row.line,
          prompt: displayText(row.prompt),
          chosen: displayText(row.chosen),
          rejected: displayText(row.rejected),
          identical: JSON.stringify(row.chosen) === JSON.stringify(row.rejected),
          tokens: t && t.prompt[index] >= 0 ? { prompt: t.prompt[index], chosen: t.chosen[index], rejected: t.rejected[index] } : null,
        };
      }),
    };
  }

  /** Row `index` as the model sees it under these settings (its tokens, and what truncation keeps). */
  async pairView(
    index: number,
    tokenizer: ChatTokenizer,
    opts: { max_length: number | null; max_prompt_length: number | null; truncation_mode: TruncationMode },
  ): Promise<PairView> {
    if (!(Number.isInteger(index) && index >= 0 && index < this.source.count))
      throw new Error(`there is no row ${index + 1}: the dataset has ${this.source.count}`);
    return pairView(await this.tokenizedRow(index, tokenizer), tokenizer, opts);
  }

  /** The valid row on `line` of the file, tokenized. */
  async pairAtLine(line: number, tokenizer: ChatTokenizer): Promise<TokenizedPair> {
    const index = this.source.indexOfLine(line);
    if (index < 0) throw new Error(`${this.name} has no valid row on line ${line}`);
    return this.tokenizedRow(index, tokenizer);
  }

  private async tokenizedRow(index: number, tokenizer: ChatTokenizer): Promise<TokenizedPair> {
    const [row] = await this.source.rows([index]);
    const report = tokenizePairs([row], tokenizer, { max_length: null, file: this.name });
    const pair = report.pairs[0];
    if (!pair) throw new Error(`${this.name}, line ${row.line}: ${report.failed[0]?.reason ?? 'it could not be tokenized'}`);
    return { ...pair, index };
  }
}

/** Where the first mid-word prompt is cut: the prompt's last characters and the chosen answer's first. */
async function midWordExampleOf(source: RowSource, line: number | undefined): Promise<DatasetSummary['midWordExample']> {
  if (line === undefined) return null;
  const index = source.indexOfLine(line);
  if (index < 0) return null;
  const [row] = await source.rows([index]);
  if (typeof row.prompt !== 'string' || typeof row.chosen !== 'string') return null;
  const tail = Array.from(row.prompt.slice(-40)).slice(-16).join('');
  const head = Array.from(row.chosen.slice(0, 40)).slice(0, 16).join('');
  return {
    line,
    promptEnd: (tail.length < row.prompt.length ? '…' : '') + tail,
    chosenStart: head + (head.length < row.chosen.length ? '…' : ''),
  };
}

/** A prompt or completion as the text searched: strings as they are, messages' contents joined. */
function searchText(value: Text): string {
  return (typeof value === 'string' ? value : value.map((m) => m.content).join('\n')).toLowerCase();
}
