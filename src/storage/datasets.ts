/**
 * Dataset files kept by content fingerprint, so a run can be resumed after a reload without the user
 * dropping the file again. Several runs on the same file share one copy.
 */
import type { ReadOptions } from '../core/data/read';
import { read, request, segment, write, type UseStore } from './db';

export interface StoredDataset {
  fingerprint: string;
  /** The file name it was loaded from. */
  name: string;
  /** The file's bytes, or the file itself when it was too large to read in (records saved before Parquet and CSV were read hold `text` instead). */
  bytes?: Uint8Array | Blob;
  /** A table stored as several Parquet files (a Hub split), in order, instead of `bytes`. */
  parts?: (Uint8Array | Blob)[];
  text?: string;
  /** How it was read (implicit-prompt split, column mapping), when not the defaults. */
  options?: ReadOptions;
  savedAt: number;
}

/** A stored dataset as the file (or, for a table of several, the files) to load again. */
export function storedDatasetFiles(stored: StoredDataset): Blob[] {
  if (stored.parts) return stored.parts.map((part) => new Blob([part as BlobPart]));
  return [new Blob([(stored.bytes ?? stored.text ?? '') as BlobPart])];
}

const datasetKey = (fingerprint: string) => `dataset/${segment(fingerprint)}`;

/**
 * SHA-256 of a text's UTF-8 bytes (JSON files: their decoded text) or of a file's bytes (Parquet, CSV,
 * compressed files), as 64 lowercase hex digits (crypto.subtle: pages, Workers and Node).
 */
export async function datasetFingerprint(content: string | Uint8Array | Uint8Array[]): Promise<string> {
  // A table of several files: the hash of their hashes, in order.
  if (Array.isArray(content)) return datasetFingerprint((await Promise.all(content.map(datasetFingerprint))).join('\n'));
  const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** A file is hashed in pieces of this size when it is too large to hold (its pieces' hashes, hashed). */
const FINGERPRINT_PIECE_BYTES = 16 * 2 ** 20;

/**
 * The fingerprint of files read on demand, without holding them: SHA-256 of each 16 MiB piece, and of
 * those hashes with the file's size; several files (a Hub split), the hash of their fingerprints.
 */
export async function fileFingerprint(files: Blob[]): Promise<string> {
  const hashes: string[] = [];
  for (const file of files) {
    const pieces: string[] = [`${file.size} bytes`];
    for (let at = 0; at < file.size; at += FINGERPRINT_PIECE_BYTES) {
      pieces.push(await datasetFingerprint(new Uint8Array(await file.slice(at, at + FINGERPRINT_PIECE_BYTES).arrayBuffer())));
    }
    hashes.push(await datasetFingerprint(pieces.join('\n')));
  }
  return hashes.length === 1 ? hashes[0] : datasetFingerprint(hashes.join('\n'));
}

/**
 * The fingerprint of a file read with `options`: the content's, with the options that change its rows
 * appended, so two readings of one file (another prompt split, another column mapping) stay apart.
 */
export function readFingerprint(contentFingerprint: string, options: ReadOptions = {}): string {
  const parts: string[] = [];
  if (options.promptSplit && options.promptSplit !== 'common_prefix') parts.push(`split=${options.promptSplit}`);
  if (options.minRatingMargin !== undefined) parts.push(`min_rating_margin=${options.minRatingMargin}`);
  if (options.columns) {
    const c = options.columns;
    parts.push(`columns=${JSON.stringify([c.prompt ?? null, c.chosen, c.rejected])}`);
  }
  return parts.length ? `${contentFingerprint};${parts.join(';')}` : contentFingerprint;
}

export function putDataset(
  store: UseStore,
  fingerprint: string,
  dataset: { name: string; bytes: Uint8Array | Blob | (Uint8Array | Blob)[]; options?: ReadOptions },
): Promise<void> {
  const record: StoredDataset = { fingerprint, name: dataset.name, savedAt: Date.now() };
  if (Array.isArray(dataset.bytes)) record.parts = dataset.bytes;
  else record.bytes = dataset.bytes;
  if (dataset.options && Object.keys(dataset.options).length) record.options = dataset.options;
  return write(store, `dataset "${dataset.name}"`, async (s) => {
    await request(s.put(record, datasetKey(fingerprint)));
  });
}

export function getDataset(store: UseStore, fingerprint: string): Promise<StoredDataset | undefined> {
  return read(store, (s) => request(s.get(datasetKey(fingerprint)) as IDBRequest<StoredDataset | undefined>));
}

export function deleteDataset(store: UseStore, fingerprint: string): Promise<void> {
  return write(store, `deletion of dataset ${fingerprint}`, async (s) => {
    await request(s.delete(datasetKey(fingerprint)));
  });
}
