/**
 * Model files in the origin-private file system (navigator.storage.getDirectory()), where the browser
 * has one: a download streams to disk chunk by chunk, and a read of part of a file slices the file
 * (getFile() then Blob.slice reads only that part), so a model is never held whole in memory.
 *
 *   models/<key, percent-encoded>/
 *     manifest.json     the stored copy: { key, generation, files: [{ path, size }], savedAt }
 *     pending.json      a download under way or interrupted: { key, generation, startedAt }
 *     <generation>/     one folder per generation, one file per model file (its path percent-encoded)
 *
 * A download writes a new generation and commits it by writing manifest.json (a writable stream
 * replaces a file only when it closes, so the manifest is never half-written), then removes the
 * previous generation. Until then the previous copy loads, and the new generation's files keep what
 * arrived: the next download of the key picks up pending.json and resumes each file where it stopped.
 */
import type { FileSource } from '../core/model/types';
import { isQuotaError, newId, StorageFullError } from './db';
import type { ModelFileWriter, ModelManifest, ModelStaging, StoredModelSummary } from './models';

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
const fileName = (path: string) => encodeURIComponent(path.replace(/^\/+|\/+$/g, ''));

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

/** A download into the file system under `key`: the one left unfinished, resumed, or a new one. */
export async function stageOpfsModel(root: OpfsDirectory, key: string): Promise<ModelStaging> {
  const what = `download of model "${key}"`;
  const dir = (await modelDir(root, key, true))!;
  let pending = await readJson<PendingFile>(dir, 'pending.json');
  if (pending === undefined) {
    pending = { key, generation: newId(), startedAt: Date.now() };
    await writeJson(dir, 'pending.json', pending, what);
  }
  const { generation } = pending;
  const files = await dir.getDirectoryHandle(generation, { create: true });
  return {
    backend: 'opfs',
    keptBytes: (path) => fileSize(files, fileName(path)),
    async readText(path) {
      return (await ifFound(async () => (await (await files.getFileHandle(fileName(path))).getFile()).text())) ?? null;
    },
    async openWriter(path, from): Promise<ModelFileWriter> {
      const fileWhat = `file "${path}" of model "${key}"`;
      return writing(fileWhat, async () => {
        const handle = await files.getFileHandle(fileName(path), { create: true });
        // The stream writes a copy that replaces the file on close: what is kept stays whole meanwhile.
        const out = await handle.createWritable({ keepExistingData: from > 0 });
        if (from > 0) {
          await out.truncate(from);
          await out.seek(from);
        }
        return {
          write: (chunk) => writing(fileWhat, () => out.write(chunk)),
          close: () => writing(fileWhat, () => out.close()),
        };
      });
    },
    async commit(paths) {
      const previous = await readJson<ModelManifest>(dir, 'manifest.json');
      const manifest: ModelManifest = { key, generation, files: [], savedAt: Date.now() };
      for (const path of paths) manifest.files.push({ path: path.replace(/^\/+|\/+$/g, ''), size: await fileSize(files, fileName(path)) });
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
  const paths = new Set(manifest.files.map((f) => f.path));
  async function open(path: string): Promise<Blob | null> {
    const wanted = path.replace(/^\/+|\/+$/g, '');
    if (!paths.has(wanted)) return null;
    const file = await ifFound(async () =>
      (await (await dir!.getDirectoryHandle(manifest!.generation)).getFileHandle(fileName(wanted))).getFile(),
    );
    if (file === undefined) throw new Error(`${name}/${wanted}: the stored file is gone (the model was replaced or deleted meanwhile)`);
    return file;
  }
  return {
    name,
    async readText(path) {
      const file = await open(path);
      return file === null ? null : file.text();
    },
    async readBytes(path) {
      const file = await open(path);
      return file === null ? null : new Uint8Array(await file.arrayBuffer());
    },
    async readRange(path, start, end) {
      const file = await open(path);
      return file === null ? null : new Uint8Array(await file.slice(start, end).arrayBuffer());
    },
  };
}
