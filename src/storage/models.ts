/**
 * Model files kept in browser storage (a Hugging Face download, so the next load needs no network).
 * Each file is its own entry, written in its own transaction so a large model never sits in one
 * structured clone. A save writes a new generation of files and commits it by writing the manifest
 * last, then drops the previous generation: an interrupted or failed save leaves the model that was
 * stored before whole, and never shows a half-written one.
 */
import type { FileSource } from '../core/model/types';
import { keysWithPrefix, newId, ownBuffer, read, request, segment, valuesWithPrefix, write, type UseStore } from './db';

export interface StoredModelFile {
  path: string;
  /** Bytes, or UTF-8 characters for files stored as text. */
  size: number;
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

/** Every file of a stored model, or undefined when none is stored under `key`. */
export function getModelFiles(store: UseStore, key: string): Promise<Map<string, Uint8Array | string> | undefined> {
  return read(store, async (s) => {
    const manifest = await getManifest(s, key);
    if (manifest === undefined) return undefined;
    const files = new Map<string, Uint8Array | string>();
    for (const { path } of manifest.files) {
      const content = (await request(s.get(generationPrefix(key, manifest.generation) + path))) as Uint8Array | string | undefined;
      if (content === undefined) throw new Error(`stored model "${key}": file "${path}" is missing from storage`);
      files.set(path, content);
    }
    return files;
  });
}

/** The manifests of every stored model, newest first. */
export function listModelFiles(store: UseStore): Promise<ModelManifest[]> {
  return read(store, async (s) => (await valuesWithPrefix<ModelManifest>(s, 'model/')).sort((a, b) => b.savedAt - a.savedAt));
}

export function deleteModelFiles(store: UseStore, key: string): Promise<void> {
  return write(store, `deletion of model "${key}"`, async (s) => {
    for (const file of await keysWithPrefix(s, filesPrefix(key))) s.delete(file);
    await request(s.delete(manifestKey(key)));
  });
}

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * A FileSource over a stored model, reading each file when asked; undefined when nothing is stored
 * under `key`. A path the model does not have reads as null, as FileSource requires.
 */
export async function modelFileSource(store: UseStore, key: string, name = `browser storage: ${key}`): Promise<FileSource | undefined> {
  const manifest = await read(store, (s) => getManifest(s, key));
  if (manifest === undefined) return undefined;
  const paths = new Set(manifest.files.map((f) => f.path));
  async function load(path: string): Promise<Uint8Array | string | null> {
    const wanted = normalPath(path);
    if (!paths.has(wanted)) return null;
    const content = await read(
      store,
      (s) => request(s.get(generationPrefix(key, manifest!.generation) + wanted)) as Promise<Uint8Array | string | undefined>,
    );
    if (content === undefined) throw new Error(`${name}/${wanted}: the stored file is gone (the model was replaced or deleted meanwhile)`);
    return content;
  }
  return {
    name,
    async readText(path) {
      const content = await load(path);
      return content === null || typeof content === 'string' ? content : utf8Decoder.decode(content);
    },
    async readBytes(path) {
      const content = await load(path);
      return content === null || typeof content !== 'string' ? content : utf8Encoder.encode(content);
    },
  };
}
