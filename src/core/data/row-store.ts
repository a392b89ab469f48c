/**
 * Preference files larger than memory: one pass over the file in pieces validates every row and keeps
 * only where each valid row lies (typed arrays: bytes for JSON Lines, row numbers for Parquet), and a
 * row is read again from the file when it is needed (a page of the dataset view, a tokenization pass,
 * a training batch). The rows, problems and counts are those the whole-file readers give.
 */
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { plainTableValue } from './formats';
import { collectRows, mostCommon, NO_ROWS, parsePreferenceFile, type LocatedValue, type ReadOptions } from './read';
import type { DatasetLayout } from './layouts';
import { dropInvalidUtf8Rows, Utf8Checker } from './utf8';
import type { DataIssue, DatasetFormat, ParsedDataset, PreferenceRow } from './types';

/** The valid rows of a dataset, wherever they are held. */
export interface RowSource {
  /** How many valid rows there are. */
  readonly count: number;
  /** The valid rows at these indices (0-based among the valid rows), in the order asked. */
  rows(indices: readonly number[]): Promise<PreferenceRow[]>;
  /** The line (table row) of the valid row at `index`, without reading it. */
  lineOf(index: number): number;
  /** The index of the valid row on `line`; −1 when no valid row is there. */
  indexOfLine(line: number): number;
  /**
   * Indices of the rows whose stored text (lowercased) may hold `needle`, a lowercased string JSON
   * never escapes (see plainNeedle): a quick pass over the raw file before rows are read. Sources
   * without raw text leave it out.
   */
  candidates?(needle: string, stillWanted: () => boolean): Promise<number[] | null>;
}

/**
 * Whether a search text appears unchanged in any JSON that holds it: printable ASCII without quotes,
 * backslashes or slashes (JSON writers escape those, and non-ASCII, in their own ways).
 */
export function plainNeedle(text: string): boolean {
  return /^[\x20-\x7e]+$/.test(text) && !/["\\/]/.test(text);
}

/** The index of `line` in ascending lines, or −1. */
function search(count: number, lineAt: (i: number) => number, line: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const at = lineAt(mid);
    if (at === line) return mid;
    if (at < line) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** What reading a file reports, without its rows. */
export type DatasetReport = Omit<ParsedDataset, 'rows'>;

/** A file read on demand: its report, and its rows through a source that reads them from the file. */
export interface ScannedDataset {
  report: DatasetReport;
  source: RowSource;
}

/** Called after each piece with the fraction of the file read and the valid rows so far. */
export type ScanProgress = (fraction: number, rows: number) => void | Promise<void>;

/** Rows already in memory, as a source. */
export function rowsInMemory(rows: PreferenceRow[]): RowSource {
  return {
    count: rows.length,
    rows: async (indices) => indices.map((i) => rowAt(rows, i)),
    lineOf: (i) => rowAt(rows, i).line,
    indexOfLine: (line) => rows.findIndex((r) => r.line === line),
  };
}

function rowAt(rows: PreferenceRow[], i: number): PreferenceRow {
  const row = rows[i];
  if (!row) throw new Error(`there is no row ${i + 1}: the dataset has ${rows.length}`);
  return row;
}

/** The rows at `start` … `start + count − 1` (clipped to the source), in order. */
export function rowRange(source: RowSource, start: number, count: number): Promise<PreferenceRow[]> {
  const end = Math.min(source.count, start + count);
  return source.rows(Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i));
}

/** A growing column of numbers in a typed array (a few bytes a row instead of a row object). */
class Column<T extends Float64Array | Uint32Array> {
  length = 0;
  constructor(
    private data: T,
    private readonly make: (n: number) => T,
  ) {}
  push(x: number): void {
    if (this.length === this.data.length) {
      const grown = this.make(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = x;
  }
  get(i: number): number {
    return this.data[i];
  }
}

const float64Column = () => new Column(new Float64Array(1024), (n) => new Float64Array(n));
const uint32Column = () => new Column(new Uint32Array(1024), (n) => new Uint32Array(n));

/** A piece's parse with its lines made the file's (`linesBefore` lines precede the piece). */
export function inFileLines(parsed: ParsedDataset, linesBefore: number): ParsedDataset {
  const shift = (line: number) => line + linesBefore;
  return {
    ...parsed,
    rows: parsed.rows.map((r) => ({ ...r, line: shift(r.line) })),
    issues: parsed.issues.map((i) => ({ ...i, line: shift(i.line) })),
    midWordPrompts: parsed.midWordPrompts.map(shift),
  };
}

/**
 * Counts over the pieces of a file (parsed one at a time, their lines already the file's), merged into
 * one report at the end: what parsing the whole file at once would say.
 */
export class PieceReport {
  readonly issues: DataIssue[] = [];
  private readonly counts = new Map<DatasetFormat, number>();
  private readonly layouts = new Map<DatasetLayout, number>();
  private identicalPairs = 0;
  private readonly midWordPrompts: number[] = [];
  private readonly columns = new Set<string>();
  private valuesSeen = 0;

  /** Adds a piece's parse, its lines already made the file's; a piece of blank lines says nothing of the file. */
  add(parsed: ParsedDataset): void {
    for (const issue of parsed.issues) if (issue.reason !== NO_ROWS) this.issues.push(issue);
    // The file's columns: those of its first rows, as the whole-file reader samples them.
    if (this.valuesSeen < COLUMN_SAMPLE_ROWS) for (const c of parsed.columns) this.columns.add(c);
    this.valuesSeen += parsed.rows.length + parsed.issues.length;
    for (const [format, n] of Object.entries(parsed.formatCounts) as [DatasetFormat, number][])
      this.counts.set(format, (this.counts.get(format) ?? 0) + n);
    if (parsed.layout) this.layouts.set(parsed.layout, (this.layouts.get(parsed.layout) ?? 0) + parsed.rows.length);
    this.identicalPairs += parsed.identicalPairs;
    this.midWordPrompts.push(...parsed.midWordPrompts);
  }

  build(file: string, emptyReason: string, rows: number): DatasetReport {
    if (rows === 0 && this.issues.length === 0) this.issues.push({ file, line: 1, reason: emptyReason });
    return {
      file,
      format: mostCommon(this.counts),
      formatCounts: Object.fromEntries(this.counts),
      layout: mostCommon(this.layouts),
      issues: this.issues.sort((a, b) => a.line - b.line),
      identicalPairs: this.identicalPairs,
      midWordPrompts: this.midWordPrompts,
      columns: [...this.columns],
    };
  }
}

/** Rows whose columns make the file's (about as many as the whole-file reader samples). */
const COLUMN_SAMPLE_ROWS = 50;
/** A piece of JSON Lines this size is decoded and parsed at a time. */
const LINES_PIECE_BYTES = 8 * 2 ** 20;
/** Rows read again are fetched in spans: nearby rows (gaps up to this) in one read. */
const SPAN_GAP_BYTES = 64 * 2 ** 10;
const SPAN_MAX_BYTES = 8 * 2 ** 20;
/** Rows whose raw lines a search looks through between checks that it is still wanted. */
const CANDIDATE_BLOCK_ROWS = 16_384;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function changedFile(file: string, line: number): Error {
  return new Error(`${file}, line ${line}: the row no longer reads as it did; the file changed since it was loaded. Load it again.`);
}

/**
 * Scans a JSON Lines file in pieces of whole lines: each piece is decoded, checked for invalid UTF-8
 * and parsed like a whole file, with its lines made the file's; only the valid rows' byte ranges and
 * lines are kept. A JSON array is not cut this way (read it whole).
 */
export async function scanJsonLines(
  file: Blob,
  name: string,
  options: ReadOptions = {},
  onProgress?: ScanProgress,
  pieceBytes = LINES_PIECE_BYTES,
): Promise<ScannedDataset> {
  const starts = float64Column();
  const ends = float64Column();
  const lines = uint32Column();
  const report = new PieceReport();
  const checker = new Utf8Checker();
  const decoder = new TextDecoder();
  let carry = new Uint8Array(0);
  let carryStart = 0;
  let linesBefore = 0;
  let read = 0;
  for (;;) {
    const chunk = read < file.size ? new Uint8Array(await file.slice(read, read + pieceBytes).arrayBuffer()) : new Uint8Array(0);
    read += chunk.length;
    const atEnd = read >= file.size;
    const bytes = concat(carry, chunk);
    // A piece ends after its last newline; a line longer than a piece waits for more of the file.
    const cut = atEnd ? bytes.length : bytes.lastIndexOf(0x0a) + 1;
    if (cut > 0) {
      const piece = bytes.subarray(0, cut);
      const lineStarts = [0];
      for (let i = piece.indexOf(0x0a); i >= 0; i = piece.indexOf(0x0a, i + 1)) lineStarts.push(i + 1);
      const invalidBefore = checker.invalid.length;
      checker.push(piece);
      if (atEnd) checker.end();
      const parsed = dropInvalidUtf8Rows(
        inFileLines(parsePreferenceFile(decoder.decode(piece), name, options), linesBefore),
        checker.invalid.slice(invalidBefore),
      );
      for (const row of parsed.rows) {
        const inPiece = row.line - linesBefore;
        starts.push(carryStart + lineStarts[inPiece - 1]);
        ends.push(carryStart + (inPiece < lineStarts.length ? lineStarts[inPiece] : piece.length));
        lines.push(row.line);
      }
      report.add(parsed);
      linesBefore += lineStarts.length - 1;
      carryStart += cut;
    }
    carry = bytes.slice(cut);
    await onProgress?.(file.size > 0 ? read / file.size : 1, lines.length);
    if (atEnd) break;
  }
  const count = lines.length;
  const checkIndices = (indices: readonly number[]) => {
    for (const i of indices) if (!(i >= 0 && i < count)) throw new Error(`there is no row ${i + 1}: the dataset has ${count}`);
  };
  /** Each asked row's bytes, `visit(position in indices, bytes)`, nearby rows read in one span. */
  const readLines = async (indices: readonly number[], visit: (at: number, bytes: Uint8Array) => void) => {
    const order = [...indices.keys()].sort((a, b) => indices[a] - indices[b]);
    for (let i = 0; i < order.length;) {
      const spanStart = starts.get(indices[order[i]]);
      let spanEnd = ends.get(indices[order[i]]);
      let j = i;
      while (j + 1 < order.length) {
        const next = indices[order[j + 1]];
        if (starts.get(next) - spanEnd > SPAN_GAP_BYTES || ends.get(next) - spanStart > SPAN_MAX_BYTES) break;
        spanEnd = Math.max(spanEnd, ends.get(next));
        j++;
      }
      const span = new Uint8Array(await file.slice(spanStart, spanEnd).arrayBuffer());
      for (let k = i; k <= j; k++) {
        const index = indices[order[k]];
        visit(order[k], span.subarray(starts.get(index) - spanStart, ends.get(index) - spanStart));
      }
      i = j + 1;
    }
  };
  return {
    report: report.build(name, NO_ROWS, count),
    source: {
      count,
      lineOf: (i) => lines.get(i),
      indexOfLine: (line) => search(count, (i) => lines.get(i), line),
      candidates: async (needle, stillWanted) => {
        const out: number[] = [];
        for (let first = 0; first < count; first += CANDIDATE_BLOCK_ROWS) {
          if (!stillWanted()) return null;
          const block = Array.from({ length: Math.min(CANDIDATE_BLOCK_ROWS, count - first) }, (_, i) => first + i);
          await readLines(block, (at, bytes) => {
            if (decoder.decode(bytes).toLowerCase().includes(needle)) out.push(block[at]);
          });
        }
        return out;
      },
      rows: async (indices) => {
        checkIndices(indices);
        const out = new Array<PreferenceRow>(indices.length);
        await readLines(indices, (at, bytes) => {
          const index = indices[at];
          const line = lines.get(index);
          const parsed = parsePreferenceFile(decoder.decode(bytes), name, options);
          if (parsed.rows.length !== 1 || bytes.length !== ends.get(index) - starts.get(index)) throw changedFile(name, line);
          out[at] = { ...parsed.rows[0], line };
        });
        return out;
      },
    },
  };
}

/** A Blob as hyparquet's AsyncBuffer: only the byte ranges a read needs leave the file. */
function blobBuffer(blob: Blob): AsyncBuffer {
  return { byteLength: blob.size, slice: (start, end) => blob.slice(start, end).arrayBuffer() };
}

interface ParquetShard {
  buffer: AsyncBuffer;
  metadata: FileMetaData;
  /** Rows of the table before this file. */
  firstRow: number;
  /** Rows of the file before each row group, and after the last. */
  groupStarts: number[];
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Scans a Parquet table (one file, or a Hub split's files in order) a row group at a time: each group
 * is read and validated on its own, and only its valid rows' row numbers are kept. A file or row group
 * that cannot be read costs its rows only, named with its place, as the whole-file reader says.
 */
export async function scanParquet(
  files: readonly { name: string; blob: Blob }[],
  file: string,
  options: ReadOptions = {},
  onProgress?: ScanProgress,
): Promise<ScannedDataset> {
  const report = new PieceReport();
  const lines = uint32Column();
  const shards: ParquetShard[] = [];
  const totalBytes = files.reduce((n, f) => n + f.blob.size, 0);
  let bytesDone = 0;
  let firstRow = 0;
  for (const { name, blob } of files) {
    const where = files.length > 1 ? `${name}: ` : '';
    const buffer = blobBuffer(blob);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (e) {
      report.issues.push({ file, line: firstRow + 1, reason: `${where}not a readable Parquet file: ${errorMessage(e)}` });
      bytesDone += blob.size;
      continue;
    }
    const groups = metadata.row_groups;
    const groupStarts = [0];
    for (const g of groups) groupStarts.push(groupStarts.at(-1)! + Number(g.num_rows));
    shards.push({ buffer, metadata, firstRow, groupStarts });
    for (let g = 0; g < groups.length; g++) {
      const start = groupStarts[g];
      const end = groupStarts[g + 1];
      let values: LocatedValue[] = [];
      try {
        const objects = await parquetReadObjects({ file: buffer, metadata, compressors, rowStart: start, rowEnd: end });
        values = objects.map((o, i) => ({ line: firstRow + start + i + 1, value: plainTableValue(o) }));
      } catch (e) {
        report.issues.push({
          file,
          line: firstRow + start + 1,
          reason: `${where}row group ${g + 1} of ${groups.length} (rows ${firstRow + start + 1}–${firstRow + end}) could not be read: ${errorMessage(e)}`,
        });
      }
      const parsed = collectRows(values, file, [], options);
      for (const row of parsed.rows) lines.push(row.line);
      report.add(parsed);
      const groupBytes = Number(groups[g].total_compressed_size ?? 0) || blob.size / groups.length;
      await onProgress?.(totalBytes > 0 ? Math.min(1, (bytesDone + groupBytes * (g + 1)) / totalBytes) : 1, lines.length);
    }
    bytesDone += blob.size;
    firstRow += groupStarts.at(-1)!;
  }
  const count = lines.length;
  /** The shard and row group holding a table row (0-based). */
  const locate = (row: number) => {
    let s = shards.length - 1;
    while (s > 0 && shards[s].firstRow > row) s--;
    const shard = shards[s];
    const inShard = row - shard.firstRow;
    let g = 0;
    while (shard.groupStarts[g + 1] <= inShard) g++;
    return { shard: s, group: g, inShard };
  };
  return {
    report: report.build(file, 'the Parquet file holds no rows', count),
    source: {
      count,
      lineOf: (i) => lines.get(i),
      indexOfLine: (line) => search(count, (i) => lines.get(i), line),
      rows: async (indices) => {
        const out = new Array<PreferenceRow>(indices.length);
        // Requests grouped by row group; each group's rows from the first to the last asked, in one read.
        const byGroup = new Map<string, { shard: number; group: number; asked: { at: number; inShard: number; line: number }[] }>();
        indices.forEach((index, at) => {
          if (!(index >= 0 && index < count)) throw new Error(`there is no row ${index + 1}: the dataset has ${count}`);
          const line = lines.get(index);
          const { shard, group, inShard } = locate(line - 1);
          const key = `${shard}:${group}`;
          if (!byGroup.has(key)) byGroup.set(key, { shard, group, asked: [] });
          byGroup.get(key)!.asked.push({ at, inShard, line });
        });
        for (const { shard, asked } of byGroup.values()) {
          const s = shards[shard];
          const first = Math.min(...asked.map((a) => a.inShard));
          const last = Math.max(...asked.map((a) => a.inShard));
          const objects = await parquetReadObjects({
            file: s.buffer,
            metadata: s.metadata,
            compressors,
            rowStart: first,
            rowEnd: last + 1,
          });
          for (const { at, inShard, line } of asked) {
            const parsed = collectRows([{ line, value: plainTableValue(objects[inShard - first]) }], file, [], options);
            if (parsed.rows.length !== 1) throw changedFile(file, line);
            out[at] = parsed.rows[0];
          }
        }
        return out;
      },
    },
  };
}
