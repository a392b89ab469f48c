/**
 * Model files kept in IndexedDB: the fallback where the browser has no origin-private file system
 * (./opfs holds them where it has one). Each file is its own entry (or, for a download, a run of
 * BLOCK_BYTES blocks), written in its own transaction so a large model never sits in one structured
 * clone. A save writes a new generation of files and commits it by writing the manifest last, then
 * drops the previous generation: an interrupted or failed save leaves the model that was stored before
 * whole, and never shows a half-written one. A download (stageIdbModel) keeps its generation's blocks
 * and a pending record of the bytes kept per file, so an interrupted one resumes where it stopped.
 */
import type { FileSource } from '../core/model/types';
import { keysWithPrefix, newId, ownBuffer, read, request, segment, valuesWithPrefix, write, type UseStore } from './db';

export interface StoredModelFile {
  path: string;
  /** Bytes, or UTF-8 characters for files stored as text. */
  size: number;
  /**
   * Set for a download, kept as blocks (IndexedDB) or segment files (OPFS) of this many bytes; absent
   * for a file kept as one entry.
   */
  blockSize?: number;
}

export interface ModelManifest {
  key: string;
  generation: string;
  files: StoredModelFile[];
  savedAt: number;
}

const manifestKey = (key: string) => `model/${segment(key)}`;
const filesPrefix = (key: string) => `model-file/${segment(key)}/`;
const generationPrefix = (key: string, generation: string) => `${filesPrefix(key)}${generation}/`;
const pendingKey = (key: string) => `model-pending/${segment(key)}`;
const blockKey = (prefix: string, path: string, index: number) => `${prefix}${path}#${index}`;

/** The block size of downloaded files: a ranged read fetches only the blocks it covers. */
export const BLOCK_BYTES = 4 * 2 ** 20;

/** "config.json", "/adapter/x.json/" → "adapter/x.json": the form paths are stored and looked up in. */
function normalPath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

export async function putModelFiles(store: UseStore, key: string, files: ReadonlyMap<string, Uint8Array | string>): Promise<void> {
  const generation = newId();
  const prefix = generationPrefix(key, generation);
  const manifest: ModelManifest = { key, generation, files: [], savedAt: Date.now() };
  try {
    for (const [rawPath, content] of files) {
      const path = normalPath(rawPath);
      const stored = typeof content === 'string' ? content : ownBuffer(content);
      await write(store, `file "${path}" of model "${key}"`, async (s) => {
        await request(s.put(stored, prefix + path));
      });
      manifest.files.push({ path, size: typeof content === 'string' ? content.length : content.byteLength });
    }
    await write(store, `model "${key}"`, async (s) => {
      await request(s.put(manifest, manifestKey(key)));
      s.delete(pendingKey(key));
      for (const other of await keysWithPrefix(s, filesPrefix(key))) {
        if (!String(other).startsWith(prefix)) s.delete(other);
      }
    });
  } catch (error) {
    // Free what this save wrote. If that fails too, the next save of this key removes it.
    await write(store, `cleanup of model "${key}"`, async (s) => {
      const current = (await request(s.get(manifestKey(key)))) as ModelManifest | undefined;
      if (current?.generation === generation) return;
      for (const stale of await keysWithPrefix(s, prefix)) s.delete(stale);
    }).catch(() => undefined);
    throw error;
  }
}

function getManifest(s: IDBObjectStore, key: string): Promise<ModelManifest | undefined> {
  return request(s.get(manifestKey(key)) as IDBRequest<ModelManifest | undefined>);
}

/** Bytes [start, end) of a file kept as blocks, reading only the blocks the range covers. */
async function readBlocks(
  store: UseStore,
  prefix: string,
  file: StoredModelFile,
  start: number,
  end: number,
  name: string,
): Promise<Uint8Array> {
  const size = file.blockSize!;
  const stop = Math.min(end, file.size);
  if (start >= stop) return new Uint8Array(0);
  const out = new Uint8Array(stop - start);
  await read(store, async (s) => {
    for (let index = Math.floor(start / size); index * size < stop; index++) {
      const block = (await request(s.get(blockKey(prefix, file.path, index)))) as Uint8Array | undefined;
      if (block === undefined)
        throw new Error(`${name}/${file.path}: the stored file is gone (the model was replaced or deleted meanwhile)`);
      const from = Math.max(start, index * size);
      const to = Math.min(stop, index * size + block.length);
      if (to > from) out.set(block.subarray(from - index * size, to - index * size), from - start);
    }
  });
  return out;
}

/** Every file of a stored model, or undefined when none is stored under `key`. */
export async function getModelFiles(store: UseStore, key: string): Promise<Map<string, Uint8Array | string> | undefined> {
  const manifest = await read(store, (s) => getManifest(s, key));
  if (manifest === undefined) return undefined;
  const prefix = generationPrefix(key, manifest.generation);
  const files = new Map<string, Uint8Array | string>();
  for (const file of manifest.files) {
    if (file.blockSize !== undefined) {
      files.set(file.path, await readBlocks(store, prefix, file, 0, file.size, `stored model "${key}"`));
      continue;
    }
    const content = await read(store, (s) => request(s.get(prefix + file.path)) as Promise<Uint8Array | string | undefined>);
    if (content === undefined) throw new Error(`stored model "${key}": file "${file.path}" is missing from storage`);
    files.set(file.path, content);
  }
  return files;
}

/** The manifests of every stored model, newest first. */
export function listModelFiles(store: UseStore): Promise<ModelManifest[]> {
  return read(store, async (s) => (await valuesWithPrefix<ModelManifest>(s, 'model/')).sort((a, b) => b.savedAt - a.savedAt));
}

/** Removes a stored model, any download of it under way, and every file of either. */
export function deleteModelFiles(store: UseStore, key: string): Promise<void> {
  return write(store, `deletion of model "${key}"`, async (s) => {
    for (const file of await keysWithPrefix(s, filesPrefix(key))) s.delete(file);
    s.delete(pendingKey(key));
    await request(s.delete(manifestKey(key)));
  });
}

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * A FileSource over a stored model, reading each file when asked (a range of a downloaded file reads
 * only the blocks it covers); undefined when nothing is stored under `key`. A path the model does not
 * have reads as null, as FileSource requires.
 */
export async function modelFileSource(store: UseStore, key: string, name = `browser storage: ${key}`): Promise<FileSource | undefined> {
  const manifest = await read(store, (s) => getManifest(s, key));
  if (manifest === undefined) return undefined;
  const prefix = generationPrefix(key, manifest.generation);
  const byPath = new Map(manifest.files.map((f) => [f.path, f]));
  async function load(path: string): Promise<Uint8Array | string | null> {
    const file = byPath.get(normalPath(path));
    if (file === undefined) return null;
    if (file.blockSize !== undefined) return readBlocks(store, prefix, file, 0, file.size, name);
    const content = await read(store, (s) => request(s.get(prefix + file.path)) as Promise<Uint8Array | string | undefined>);
    if (content === undefined)
      throw new Error(`${name}/${file.path}: the stored file is gone (the model was replaced or deleted meanwhile)`);
    return content;
  }
  const asBytes = (content: Uint8Array | string | null) =>
    content === null || typeof content !== 'string' ? content : utf8Encoder.encode(content);
  return {
    name,
    async readText(path) {
      const content = await load(path);
      return content === null || typeof content === 'string' ? content : utf8Decoder.decode(content);
    },
    async readBytes(path) {
      return asBytes(await load(path));
    },
    async readRange(path, start, end) {
      const file = byPath.get(normalPath(path));
      if (file?.blockSize !== undefined) return readBlocks(store, prefix, file, start, end, name);
      return asBytes(await load(path))?.subarray(start, end) ?? null;
    },
  };
}

/**
 * A download being written into storage: files arrive a chunk at a time, what arrived survives an
 * interruption (keptBytes says how much, so the download resumes there), and commit makes the files
 * the stored model in one step, freeing the copy it replaces. Until then the previous copy is the one
 * that loads. IndexedDB (stageIdbModel) and the origin-private file system (./opfs) both provide it.
 */
export interface ModelStaging {
  readonly backend: ModelBackend;
  /** Bytes of `path` this download has kept so far (0 for none). */
  keptBytes(path: string): Promise<number>;
  /** A file kept so far, as text (an index file read back to find its shards); null when none. */
  readText(path: string): Promise<string | null>;
  /** Writes `path` from byte `from` (0, or keptBytes to append to what is kept), chunk by chunk. */
  openWriter(path: string, from: number): Promise<ModelFileWriter>;
  /** Makes these files, as kept, the model stored under the key, and frees the previous copy. */
  commit(paths: readonly string[]): Promise<void>;
}

export interface ModelFileWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Keeps what was written (also after a failed download, so it can resume). */
  close(): Promise<void>;
}

export type ModelBackend = 'opfs' | 'indexeddb';

/** A stored model (or a download of one that has not finished) and the space it takes. */
export interface StoredModelSummary {
  key: string;
  backend: ModelBackend;
  /** Bytes of the complete stored copy; 0 when there is none yet. */
  bytes: number;
  /** When the complete copy was stored; null when there is none yet. */
  savedAt: number | null;
  /** Bytes an unfinished download has kept (resumable); 0 when none is under way. */
  partialBytes: number;
}

interface PendingDownload {
  key: string;
  generation: string;
  /** Bytes kept per file path. */
  kept: Record<string, number>;
  startedAt: number;
}

/** The stored models and unfinished downloads kept in IndexedDB. */
export async function summarizeIdbModels(store: UseStore): Promise<StoredModelSummary[]> {
  const [manifests, pending] = await read(store, async (s) => [
    await valuesWithPrefix<ModelManifest>(s, 'model/'),
    await valuesWithPrefix<PendingDownload>(s, 'model-pending/'),
  ]);
  const out = new Map<string, StoredModelSummary>();
  for (const m of manifests) {
    out.set(m.key, {
      key: m.key,
      backend: 'indexeddb',
      bytes: m.files.reduce((n, f) => n + f.size, 0),
      savedAt: m.savedAt,
      partialBytes: 0,
    });
  }
  for (const p of pending) {
    const kept = Object.values(p.kept).reduce((n, b) => n + b, 0);
    // A download that has kept nothing yet (refused, or not begun) takes no space worth listing.
    if (kept === 0 && !out.has(p.key)) continue;
    const entry = out.get(p.key) ?? { key: p.key, backend: 'indexeddb', bytes: 0, savedAt: null, partialBytes: 0 };
    entry.partialBytes = kept;
    out.set(p.key, entry);
  }
  return [...out.values()];
}

/** A download into IndexedDB under `key`: the one left unfinished there, resumed, or a new one. */
export async function stageIdbModel(store: UseStore, key: string): Promise<ModelStaging> {
  let pending = await read(store, (s) => request(s.get(pendingKey(key)) as IDBRequest<PendingDownload | undefined>));
  if (pending === undefined) {
    const fresh: PendingDownload = { key, generation: newId(), kept: {}, startedAt: Date.now() };
    await write(store, `download of model "${key}"`, (s) => request(s.put(fresh, pendingKey(key))));
    pending = fresh;
  }
  const prefix = generationPrefix(key, pending.generation);
  const kept = (path: string) => pending!.kept[normalPath(path)] ?? 0;
  const keptFile = (path: string): StoredModelFile => ({ path: normalPath(path), size: kept(path), blockSize: BLOCK_BYTES });
  return {
    backend: 'indexeddb',
    keptBytes: async (path) => kept(path),
    async readText(path) {
      if (!(normalPath(path) in pending!.kept)) return null;
      return utf8Decoder.decode(await readBlocks(store, prefix, keptFile(path), 0, kept(path), `download of "${key}"`));
    },
    async openWriter(rawPath, from) {
      const path = normalPath(rawPath);
      if (from !== 0 && from !== kept(path)) throw new Error(`${path}: can only append at ${kept(path)} bytes, not at ${from}`);
      let index = Math.floor(from / BLOCK_BYTES);
      const buffer = new Uint8Array(BLOCK_BYTES);
      let filled = from - index * BLOCK_BYTES;
      // A partly filled last block is read back and completed.
      if (filled > 0) buffer.set(await readBlocks(store, prefix, keptFile(path), index * BLOCK_BYTES, from, `download of "${key}"`));
      if (from === 0) {
        await write(store, `download of model "${key}"`, async (s) => {
          for (const stale of await keysWithPrefix(s, `${prefix}${path}#`)) s.delete(stale);
        });
      }
      const flush = async () => {
        const block = buffer.slice(0, filled);
        const next: PendingDownload = { ...pending!, kept: { ...pending!.kept, [path]: index * BLOCK_BYTES + filled } };
        await write(store, `file "${path}" of model "${key}"`, async (s) => {
          await request(s.put(block, blockKey(prefix, path, index)));
          await request(s.put(next, pendingKey(key)));
        });
        pending = next;
      };
      return {
        async write(chunk) {
          for (let offset = 0; offset < chunk.length;) {
            const n = Math.min(BLOCK_BYTES - filled, chunk.length - offset);
            buffer.set(chunk.subarray(offset, offset + n), filled);
            filled += n;
            offset += n;
            if (filled === BLOCK_BYTES) {
              await flush();
              index++;
              filled = 0;
            }
          }
        },
        async close() {
          if (filled > 0 || !(path in pending!.kept)) await flush();
        },
      };
    },
    async commit(paths) {
      const manifest: ModelManifest = { key, generation: pending!.generation, files: paths.map(keptFile), savedAt: Date.now() };
      await write(store, `model "${key}"`, async (s) => {
        await request(s.put(manifest, manifestKey(key)));
        s.delete(pendingKey(key));
        for (const other of await keysWithPrefix(s, filesPrefix(key))) {
          if (!String(other).startsWith(prefix)) s.delete(other);
        }
      });
    },
  };
}
