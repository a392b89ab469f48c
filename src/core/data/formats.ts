/**
 * Preference files by their bytes: JSON Lines / JSON arrays, Parquet (hyparquet, with the codecs the Hub
 * uses: snappy, zstd, gzip), CSV / TSV (Papa Parse: quoted fields, embedded newlines), and the JSON or
 * CSV ones compressed with gzip or zstd. The same reader serves the studio's worker and the CLI.
 */
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { decompress as zstdDecompress } from 'fzstd';
import Papa from 'papaparse';
import { lineLocator } from './json-scan';
import { collectRows, parsePreferenceFile, type LocatedValue, type ReadOptions } from './read';
import { dropInvalidUtf8Rows, findInvalidUtf8 } from './utf8';
import type { DataIssue, ParsedDataset } from './types';

export type DataFileKind = 'json' | 'parquet' | 'csv' | 'tsv';

export const READABLE_FORMATS =
  'JSON Lines (.jsonl), JSON arrays (.json), Parquet (.parquet), CSV (.csv) and TSV (.tsv), the text ones also compressed with gzip (.gz) or zstd (.zst)';

/** A file that is none of the formats read: refused before anything is replaced. */
export class UnsupportedFileError extends Error {}

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

function isParquet(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && hasParquetMarks(bytes, bytes.subarray(bytes.length - 4));
}

/** Whether a file's first and last bytes carry Parquet's PAR1 marks (a file read without holding it). */
export function hasParquetMarks(head: Uint8Array, tail: Uint8Array): boolean {
  return startsWith(head, PARQUET_MAGIC) && startsWith(tail.subarray(tail.length - 4), PARQUET_MAGIC);
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The file's bytes with gzip or zstd compression undone, and its name without that extension. */
export async function decompressed(bytes: Uint8Array, file: string): Promise<{ bytes: Uint8Array; name: string }> {
  const base = file.replace(/\.(gz|gzip|zst|zstd)$/i, '');
  try {
    if (startsWith(bytes, GZIP_MAGIC)) return { bytes: await gunzip(bytes), name: base };
    if (startsWith(bytes, ZSTD_MAGIC)) return { bytes: zstdDecompress(bytes), name: base };
  } catch (e) {
    throw new UnsupportedFileError(`${file}: the compressed data is damaged (${e instanceof Error ? e.message : String(e)})`);
  }
  return { bytes, name: file };
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Whether a file is uncompressed JSON / JSON Lines, judged from its first bytes and its name. */
export function isPlainJson(head: Uint8Array, name: string): boolean {
  if ([GZIP_MAGIC, ZSTD_MAGIC, PARQUET_MAGIC].some((magic) => startsWith(head, magic))) return false;
  try {
    return fileKind(head, name) === 'json';
  } catch {
    return false;
  }
}

/** What a file holds, by its content where that is certain, else by its name. */
export function fileKind(bytes: Uint8Array, name: string): DataFileKind {
  if (isParquet(bytes)) return 'parquet';
  const extension = /\.([A-Za-z0-9]+)$/.exec(name)?.[1].toLowerCase() ?? '';
  if (extension === 'parquet')
    throw new UnsupportedFileError(`${name} is named .parquet but is not a whole Parquet file (no PAR1 marks at its start and end)`);
  if (extension === 'csv') return 'csv';
  if (extension === 'tsv' || extension === 'tab') return 'tsv';
  if (['json', 'jsonl', 'ndjson', 'txt', ''].includes(extension)) return 'json';
  // Another name: JSON if it looks like it (a row object or an array), else refused.
  const head = new TextDecoder()
    .decode(bytes.subarray(0, 4096))
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (head.startsWith('{') || head.startsWith('[')) return 'json';
  throw new UnsupportedFileError(`${name}: .${extension} files are not read. DPO Studio reads ${READABLE_FORMATS}.`);
}

/** Text of a file, with its invalid UTF-8 positions (those rows are skipped, with their byte offsets). */
function decodeText(bytes: Uint8Array) {
  return { text: new TextDecoder().decode(bytes), invalid: findInvalidUtf8(bytes) };
}

/** Values read from a table are plain data: int64 columns arrive as BigInt, which JSON cannot hold. */
export function plainTableValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plainTableValue);
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainTableValue(v)]));
  }
  return value;
}

/**
 * The rows of one Parquet file, numbered from `firstRow` + 1, every row group read on its own: a damaged
 * one costs its rows only, named with its place (and `shard`, the file's name, when the table is one of
 * several files). Returns how many rows the file holds.
 */
async function parquetValues(
  bytes: Uint8Array,
  file: string,
  shard: string | null,
  firstRow: number,
  values: LocatedValue[],
  issues: DataIssue[],
): Promise<number> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const where = shard === null ? '' : `${shard}: `;
  let metadata;
  try {
    metadata = parquetMetadata(buffer);
  } catch (e) {
    issues.push({ file, line: firstRow + 1, reason: `${where}not a readable Parquet file: ${e instanceof Error ? e.message : String(e)}` });
    return 0;
  }
  const groups = metadata.row_groups;
  let start = 0;
  for (let g = 0; g < groups.length; g++) {
    const count = Number(groups[g].num_rows);
    try {
      const rows = await parquetReadObjects({ file: buffer, metadata, compressors, rowStart: start, rowEnd: start + count });
      rows.forEach((row, i) => values.push({ line: firstRow + start + i + 1, value: plainTableValue(row) }));
    } catch (e) {
      issues.push({
        file,
        line: firstRow + start + 1,
        reason: `${where}row group ${g + 1} of ${groups.length} (rows ${firstRow + start + 1}–${firstRow + start + count}) could not be read: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    start += count;
  }
  return start;
}

async function readParquet(bytes: Uint8Array, file: string, options: ReadOptions): Promise<ParsedDataset> {
  return readParquetTable([{ name: file, bytes }], file, options);
}

/**
 * One table stored as several Parquet files (a Hub split's shards, in order), read as one: rows are
 * numbered across the files, and a file that cannot be read is named and costs only its rows.
 */
export async function readParquetTable(
  shards: readonly { name: string; bytes: Uint8Array }[],
  file: string,
  options: ReadOptions = {},
): Promise<ParsedDataset> {
  const issues: DataIssue[] = [];
  const values: LocatedValue[] = [];
  let rows = 0;
  for (const shard of shards) {
    rows += await parquetValues(shard.bytes, file, shards.length > 1 ? shard.name : null, rows, values, issues);
  }
  const parsed = collectRows(values, file, issues, options);
  if (values.length === 0 && issues.length === 0) issues.push({ file, line: 1, reason: 'the Parquet file holds no rows' });
  return parsed;
}

/** A cell that holds a JSON list of chat messages (as a table export writes message columns) becomes that list. */
function cellValue(cell: string): unknown {
  if (!cell.startsWith('[{')) return cell;
  try {
    const parsed = JSON.parse(cell) as unknown;
    const isMessages = Array.isArray(parsed) && parsed.every((m) => typeof m === 'object' && m !== null && 'role' in m && 'content' in m);
    return isMessages ? parsed : cell;
  } catch {
    return cell;
  }
}

/** CSV / TSV with a header row; each record is numbered by the line it starts on. */
function readDelimited(text: string, file: string, delimiter: ',' | '\t', options: ReadOptions): ParsedDataset {
  const issues: DataIssue[] = [];
  const values: LocatedValue[] = [];
  const body = text.replace(/^\uFEFF/, '');
  // Papa Parse gives character offsets; issues and rows name lines.
  const locate = lineLocator(body);
  let header: string[] | null = null;
  let recordStart = 0;
  Papa.parse<string[]>(body, {
    delimiter,
    skipEmptyLines: false,
    step: (result) => {
      const start = recordStart;
      recordStart = result.meta.cursor;
      // The cursor stops before the line break; the next record starts after it.
      while (recordStart < body.length && (body[recordStart] === '\r' || body[recordStart] === '\n')) recordStart++;
      const line = locate(start).line;
      const cells = result.data;
      if (cells.length === 1 && cells[0] === '') return; // a blank line
      for (const error of result.errors) issues.push({ file, line, reason: `${delimiter === ',' ? 'CSV' : 'TSV'}: ${error.message}` });
      if (result.errors.length > 0) return;
      if (header === null) {
        header = cells.map((c) => c.trim());
        return;
      }
      if (cells.length !== header.length) {
        issues.push({ file, line, reason: `${cells.length} fields where the header has ${header.length} (${header.join(', ')})` });
        return;
      }
      values.push({ line, value: Object.fromEntries(header.map((name, i) => [name, cellValue(cells[i])])) });
    },
  });
  const parsed = collectRows(values, file, issues, options);
  if (values.length === 0 && issues.length === 0) {
    issues.push({ file, line: 1, reason: header === null ? 'the file is empty' : 'the file has a header but no rows' });
  }
  return { ...parsed, issues: parsed.issues.sort((a, b) => a.line - b.line) };
}

/**
 * Reads a preference file from its bytes, whatever its format. Throws UnsupportedFileError for a file
 * that is none of them (nothing is read then); otherwise never throws: problems are issues with places.
 */
export async function readPreferenceBytes(raw: Uint8Array, file: string, options: ReadOptions = {}): Promise<ParsedDataset> {
  const { bytes, name } = await decompressed(raw, file);
  const kind = fileKind(bytes, name);
  if (kind === 'parquet') return readParquet(bytes, file, options);
  const { text, invalid } = decodeText(bytes);
  if (kind === 'json') return dropInvalidUtf8Rows(parsePreferenceFile(text, file, options), invalid);
  return dropInvalidUtf8Rows(readDelimited(text, file, kind === 'csv' ? ',' : '\t', options), invalid);
}
