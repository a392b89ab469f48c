/**
 * Model files in the origin-private file system (navigator.storage.getDirectory()), where the browser
 * has one: a download streams to disk chunk by chunk, and a read of part of a file slices the file
 * (getFile() then Blob.slice reads only that part), so a model is never held whole in memory.
 *
 *   models/<key, percent-encoded>/
 *     manifest.json     the stored copy: { key, generation, files: [{ path, size, blockSize }], savedAt }
 *     pending.json      a download under way or interrupted: { key, generation, startedAt }
 *     <generation>/     one folder per generation; each model file as segments of blockSize bytes
 *                       named <path, percent-encoded>.<0, 1, …>
 *
 * A writable stream writes a copy that replaces its file only when it closes: that keeps manifest.json
 * whole, and it is why big files are kept in segments: each full segment is closed, so a tab closed in
 * the middle of a 2 GB file loses at most the segment under way, not the whole file. A download writes
 * a new generation and commits it by writing manifest.json, then removes the previous generation.
 * Until then the previous copy loads, and the new generation keeps what arrived: the next download of
 * the key picks up pending.json and resumes each file where its kept segments end.
 */
import type { FileSource } from '../core/model/types';
import { isQuotaError, newId, StorageFullError } from './db';
import type { ModelFileWriter, ModelManifest, ModelStaging, StoredModelFile, StoredModelSummary } from './models';

/** The parts of the File System API used here (FileSystemDirectoryHandle has them all). */
export interface OpfsDirectory {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectory>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFile>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterable<string>;
}

export interface OpfsFile {
  getFile(): Promise<Blob>;
  createWritable(options?: { keepExistingData?: boolean }): Promise<OpfsWritable>;
}

export interface OpfsWritable {
  write(data: Uint8Array | string): Promise<void>;
  truncate(size: number): Promise<void>;
  seek(position: number): Promise<void>;
  close(): Promise<void>;
}

/** Resolves the root folder, or null where the browser has no origin-private file system. */
export type OpfsRoot = () => Promise<OpfsDirectory | null>;

/** This browser's origin-private file system, or null (no API, or refused, as in some private windows). */
export const browserOpfsRoot: OpfsRoot = async () => {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
  if (typeof storage?.getDirectory !== 'function') return null;
  try {
    return (await storage.getDirectory()) as unknown as OpfsDirectory;
  } catch {
    return null;
  }
};

interface PendingFile {
  key: string;
  generation: string;
  startedAt: number;
}

const MODELS = 'models';
const normalPath = (path: string) => path.replace(/^\/+|\/+$/g, '');
const segmentName = (path: string, index: number) => `${encodeURIComponent(normalPath(path))}.${index}`;

/** The segment size of downloaded files: at most this much is lost when a tab closes mid-download. */
export const SEGMENT_BYTES = 64 * 2 ** 20;

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'NotFoundError' || name === 'TypeMismatchError';
}

/** `body`, with a missing entry read as undefined. */
async function ifFound<T>(body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** `body`, with running out of space reported as StorageFullError naming `what`. */
async function writing<T>(what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (isQuotaError(error)) throw new StorageFullError(what, error);
    throw error;
  }
}

async function readJson<T>(dir: OpfsDirectory, name: string): Promise<T | undefined> {
  const file = await ifFound(async () => (await dir.getFileHandle(name)).getFile());
  return file === undefined ? undefined : (JSON.parse(await file.text()) as T);
}

async function writeJson(dir: OpfsDirectory, name: string, value: unknown, what: string): Promise<void> {
  await writing(what, async () => {
    const out = await (await dir.getFileHandle(name, { create: true })).createWritable();
    await out.write(JSON.stringify(value));
    await out.close();
  });
}

async function removeIfThere(dir: OpfsDirectory, name: string): Promise<void> {
  await ifFound(() => dir.removeEntry(name, { recursive: true }));
}

async function fileSize(dir: OpfsDirectory, name: string): Promise<number> {
  return (await ifFound(async () => (await (await dir.getFileHandle(name)).getFile()).size)) ?? 0;
}

async function modelsDir(root: OpfsDirectory): Promise<OpfsDirectory> {
  return root.getDirectoryHandle(MODELS, { create: true });
}

async function modelDir(root: OpfsDirectory, key: string, create: boolean): Promise<OpfsDirectory | undefined> {
  return ifFound(async () => (await modelsDir(root)).getDirectoryHandle(encodeURIComponent(key), { create }));
}

/** The stored models and unfinished downloads, with the bytes each takes. */
export async function summarizeOpfsModels(root: OpfsDirectory): Promise<StoredModelSummary[]> {
  const out: StoredModelSummary[] = [];
  const models = await modelsDir(root);
  for await (const name of models.keys()) {
    const dir = await ifFound(() => models.getDirectoryHandle(name));
    if (dir === undefined) continue;
    const manifest = await readJson<ModelManifest>(dir, 'manifest.json');
    const pending = await readJson<PendingFile>(dir, 'pending.json');
    if (manifest === undefined && pending === undefined) continue;
    let partialBytes = 0;
    if (pending !== undefined) {
      const generation = await ifFound(() => dir.getDirectoryHandle(pending.generation));
      if (generation !== undefined) for await (const file of generation.keys()) partialBytes += await fileSize(generation, file);
    }
    // A download that has kept nothing yet (refused, or not begun) takes no space worth listing.
    if (manifest === undefined && partialBytes === 0) continue;
    out.push({
      key: manifest?.key ?? pending!.key,
      backend: 'opfs',
      bytes: manifest?.files.reduce((n, f) => n + f.size, 0) ?? 0,
      savedAt: manifest?.savedAt ?? null,
      partialBytes,
    });
  }
  return out;
}

/** Removes a stored model and any download of it, freeing their files. */
export async function deleteOpfsModel(root: OpfsDirectory, key: string): Promise<void> {
  await removeIfThere(await modelsDir(root), encodeURIComponent(key));
}

/** The sizes of a file's segments, in order, up to the first missing one. */
async function segmentSizes(dir: OpfsDirectory, path: string): Promise<number[]> {
  const sizes: number[] = [];
  for (;;) {
    const file = await ifFound(async () => (await dir.getFileHandle(segmentName(path, sizes.length))).getFile());
    if (file === undefined) return sizes;
    sizes.push(file.size);
  }
}

/** Bytes of a file kept in whole segments and the partial segment after them. */
async function keptBytes(dir: OpfsDirectory, path: string, segmentBytes: number): Promise<number> {
  let kept = 0;
  for (const size of await segmentSizes(dir, path)) {
    kept += size;
    if (size < segmentBytes) break;
  }
  return kept;
}

/** Bytes [start, end) of a file kept as segments (shorter where it ends sooner), reading only those. */
async function readSegments(dir: OpfsDirectory, file: StoredModelFile, start: number, end: number, name: string): Promise<Uint8Array> {
  const size = file.blockSize!;
  const stop = Math.min(end, file.size);
  if (start >= stop) return new Uint8Array(0);
  const out = new Uint8Array(stop - start);
  for (let index = Math.floor(start / size); index * size < stop; index++) {
    const blob = await ifFound(async () => (await dir.getFileHandle(segmentName(file.path, index))).getFile());
    if (blob === undefined) throw new Error(`${name}/${file.path}: the stored file is gone (the model was replaced or deleted meanwhile)`);
    const from = Math.max(start, index * size);
    const to = Math.min(stop, index * size + size);
    out.set(new Uint8Array(await blob.slice(from - index * size, to - index * size).arrayBuffer()), from - start);
  }
  return out;
}

/**
 * A download into the file system under `key`: the one left unfinished, resumed, or a new one. Files
 * are kept in segments of `segmentBytes` (tests pass small ones).
 */
export async function stageOpfsModel(root: OpfsDirectory, key: string, segmentBytes = SEGMENT_BYTES): Promise<ModelStaging> {
  const what = `download of model "${key}"`;
  const dir = (await modelDir(root, key, true))!;
  let pending = await readJson<PendingFile>(dir, 'pending.json');
  if (pending === undefined) {
    pending = { key, generation: newId(), startedAt: Date.now() };
    await writeJson(dir, 'pending.json', pending, what);
  }
  const { generation } = pending;
  const files = await dir.getDirectoryHandle(generation, { create: true });
  const keptFile = async (path: string): Promise<StoredModelFile> => ({
    path: normalPath(path),
    size: await keptBytes(files, path, segmentBytes),
    blockSize: segmentBytes,
  });
  return {
    backend: 'opfs',
    keptBytes: (path) => keptBytes(files, path, segmentBytes),
    async readText(path) {
      if ((await segmentSizes(files, path)).length === 0) return null;
      return new TextDecoder().decode(await readSegments(files, await keptFile(path), 0, Infinity, what));
    },
    async openWriter(path, from): Promise<ModelFileWriter> {
      const fileWhat = `file "${path}" of model "${key}"`;
      return writing(fileWhat, async () => {
        let index = Math.floor(from / segmentBytes);
        let position = from - index * segmentBytes;
        // Segments past the one written to are stale (from an attempt that got further, or a file that changed).
        const sizes = await segmentSizes(files, path);
        for (let k = sizes.length - 1; k > index || (k === index && position === 0); k--) await files.removeEntry(segmentName(path, k));
        const open = async (keep: boolean) => {
          const handle = await files.getFileHandle(segmentName(path, index), { create: true });
          const stream = await handle.createWritable({ keepExistingData: keep });
          if (keep) {
            await stream.truncate(position);
            await stream.seek(position);
          }
          return stream;
        };
        let out = await open(position > 0);
        return {
          write: (chunk) =>
            writing(fileWhat, async () => {
              for (let offset = 0; offset < chunk.length;) {
                if (position === segmentBytes) {
                  // A full segment is closed, so it is kept whatever happens to the tab.
                  await out.close();
                  index++;
                  position = 0;
                  out = await open(false);
                }
                const n = Math.min(segmentBytes - position, chunk.length - offset);
                await out.write(chunk.subarray(offset, offset + n));
                position += n;
                offset += n;
              }
            }),
          close: () => writing(fileWhat, () => out.close()),
        };
      });
    },
    async commit(paths) {
      const previous = await readJson<ModelManifest>(dir, 'manifest.json');
      const manifest: ModelManifest = { key, generation, files: [], savedAt: Date.now() };
      for (const path of paths) manifest.files.push(await keptFile(path));
      await writeJson(dir, 'manifest.json', manifest, `model "${key}"`);
      await removeIfThere(dir, 'pending.json');
      if (previous !== undefined && previous.generation !== generation) await removeIfThere(dir, previous.generation);
    },
  };
}

/**
 * A FileSource over a model stored in the file system, reading each file (or range of one) when
 * asked; undefined when nothing is stored under `key`.
 */
export async function opfsModelSource(root: OpfsDirectory, key: string, name = `browser storage: ${key}`): Promise<FileSource | undefined> {
  const dir = await modelDir(root, key, false);
  const manifest = dir && (await readJson<ModelManifest>(dir, 'manifest.json'));
  if (dir === undefined || manifest === undefined) return undefined;
  const byPath = new Map(manifest.files.map((f) => [f.path, f]));
  const generation = await ifFound(() => dir.getDirectoryHandle(manifest.generation));
  async function read(path: string, start: number, end: number): Promise<Uint8Array | null> {
    const file = byPath.get(normalPath(path));
    if (file === undefined) return null;
    if (generation === undefined)
      throw new Error(`${name}/${file.path}: the stored file is gone (the model was replaced or deleted meanwhile)`);
    return readSegments(generation, file, start, end, name);
  }
  return {
    name,
    async readText(path) {
      const bytes = await read(path, 0, Infinity);
      return bytes === null ? null : new TextDecoder().decode(bytes);
    },
    readBytes: (path) => read(path, 0, Infinity),
    readRange: (path, start, end) => read(path, start, end),
  };
}
