/**
 * FileSource implementations that work in a browser Worker, a page and Node: a URL prefix, the File
 * objects of a folder picker, an in-memory map, and a subfolder of another source. The Node folder
 * source lives in src/cli/fs-source.ts because it needs node:fs.
 */
import type { FileSource } from './types';

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * A file path that a model's own files named (a shard in an index, a file in a repo listing), checked
 * to stay inside the model folder or repo: relative, "/"-separated, no ".", ".." or empty segments, no
 * backslash, drive letter or NUL. Returns it; throws naming `where` otherwise. Model files may come
 * from anyone, and a path that climbs out would read (or fetch) files that are not the model's.
 */
export function confinedPath(path: string, where: string): string {
  const bad =
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    /^[A-Za-z]:/.test(path) ||
    path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
  if (bad) {
    throw new Error(
      `${where}: the file path ${JSON.stringify(path)} is not a plain path inside the model folder ` +
        '(absolute paths, ".." and "." segments, backslashes and empty segments are refused)',
    );
  }
  return path;
}

/** "<source>/<path>" for messages, without a doubled slash when the source name ends in one. */
export function filePath(src: FileSource, path: string): string {
  return `${src.name.replace(/\/+$/, '')}/${path}`;
}

/** Reads and parses a JSON file; null when the file is missing, an error naming the file when it is not JSON. */
export async function readJsonFile(src: FileSource, path: string): Promise<unknown | null> {
  const text = await src.readText(path);
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${filePath(src, path)} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Bytes [start, end) of a file: a ranged read where the source has one, else the whole file, cut.
 * Shorter than asked where the file ends sooner; null when the file is missing.
 */
export async function readRange(src: FileSource, path: string, start: number, end: number): Promise<Uint8Array | null> {
  if (src.readRange) return src.readRange(path, start, end);
  const bytes = await src.readBytes(path);
  return bytes === null ? null : bytes.subarray(start, end);
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/**
 * Files under a URL prefix, read with fetch. A 404 reads as missing, and so does an HTML page served
 * for a non-HTML path: dev servers with an SPA fallback (Vite's among them) answer unknown paths
 * with index.html and status 200.
 */
export function urlSource(baseUrl: string, name: string = baseUrl): FileSource {
  const base = baseUrl.replace(/\/+$/, '');
  async function get(path: string, range?: [number, number]): Promise<Response | null> {
    const url = `${base}/${confinedPath(trimSlashes(path), name).split('/').map(encodeURIComponent).join('/')}`;
    let response: Response;
    try {
      response = await fetch(url, range ? { headers: { Range: `bytes=${range[0]}-${range[1] - 1}` } } : undefined);
    } catch (error) {
      throw new Error(`could not fetch ${url}: ${(error as Error).message}`);
    }
    if (response.status === 404) return null;
    // Asked for bytes past the end of the file.
    if (response.status === 416) return new Response(new Uint8Array(0));
    if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
    const contentType = response.headers.get('content-type') ?? '';
    if (contentType.startsWith('text/html') && !/\.html?$/i.test(path)) return null;
    return response;
  }
  return {
    name,
    async readText(path) {
      const response = await get(path);
      return response === null ? null : response.text();
    },
    async readBytes(path) {
      const response = await get(path);
      return response === null ? null : new Uint8Array(await response.arrayBuffer());
    },
    async readRange(path, start, end) {
      if (end <= start) return new Uint8Array(0);
      const response = await get(path, [start, end]);
      if (response === null) return null;
      const bytes = new Uint8Array(await response.arrayBuffer());
      // A server that ignores Range answers 200 with the whole file.
      return response.status === 206 ? bytes : bytes.subarray(start, end);
    },
  };
}

/** The part of a browser File (or Blob with a path) that fileListSource needs. */
export interface PickedFile {
  name: string;
  /** "picked-folder/sub/file.json" for files from a folder picker; empty for single files. */
  webkitRelativePath?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  /** Blob.slice: reading part of a file without the rest. */
  slice?(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/** The path below the picked folder: the picker puts the folder's own name first. */
function pathInPickedFolder(file: PickedFile): string {
  const relative = file.webkitRelativePath ?? '';
  if (relative === '') return file.name;
  return relative.slice(relative.indexOf('/') + 1);
}

/** Picking the parent of a model folder puts every file below one folder: address them from inside it. */
function withoutSharedTopFolder(paths: string[]): string[] {
  let current = paths;
  for (;;) {
    const top = current[0]?.split('/')[0];
    if (top === undefined || !current.every((path) => path.startsWith(`${top}/`))) return current;
    current = current.map((path) => path.slice(top.length + 1));
  }
}

/**
 * Files chosen in the browser, from a folder picker or one by one. A path matches the file at that
 * path below the picked folder. When the chosen files hold no folder of that name at all (files
 * chosen one by one, or the adapter folder picked on its own), a file with the same bare name
 * matches instead; a bare name shared by several files is an error rather than a guess.
 */
export function fileListSource(files: readonly PickedFile[], name: string): FileSource {
  const paths = withoutSharedTopFolder(files.map(pathInPickedFolder));
  function only(indices: number[], wanted: string): PickedFile | null {
    if (indices.length === 0) return null;
    if (indices.length > 1) {
      const candidates = indices.map((i) => paths[i]).join(', ');
      throw new Error(`${name}: "${wanted}" matches several chosen files (${candidates}); choose the model folder itself`);
    }
    return files[indices[0]];
  }
  function indicesWhere(matches: (path: string) => boolean): number[] {
    return paths.flatMap((path, i) => (matches(path) ? [i] : []));
  }
  function find(path: string): PickedFile | null {
    const wanted = trimSlashes(path);
    const exact = only(
      indicesWhere((p) => p === wanted),
      wanted,
    );
    const slash = wanted.lastIndexOf('/');
    if (exact !== null || slash < 0) return exact;
    const folder = wanted.slice(0, slash + 1);
    if (paths.some((p) => p.startsWith(folder))) return null;
    const bareName = wanted.slice(slash + 1);
    return only(
      indicesWhere((p) => p.slice(p.lastIndexOf('/') + 1) === bareName),
      wanted,
    );
  }
  return {
    name,
    async readText(path) {
      const file = find(path);
      return file === null ? null : file.text();
    },
    async readBytes(path) {
      const file = find(path);
      return file === null ? null : new Uint8Array(await file.arrayBuffer());
    },
    async readRange(path, start, end) {
      const file = find(path);
      if (file === null) return null;
      if (!file.slice) return new Uint8Array(await file.arrayBuffer()).subarray(start, end);
      return new Uint8Array(await file.slice(start, end).arrayBuffer());
    },
  };
}

/** Files held in memory (tests, IndexedDB); text entries are UTF-8 encoded when read as bytes. */
export function memorySource(files: ReadonlyMap<string, Uint8Array | string>, name: string): FileSource {
  return {
    name,
    async readText(path) {
      const content = files.get(trimSlashes(path));
      if (content === undefined) return null;
      return typeof content === 'string' ? content : utf8Decoder.decode(content);
    },
    async readBytes(path) {
      const content = files.get(trimSlashes(path));
      if (content === undefined) return null;
      return typeof content === 'string' ? utf8Encoder.encode(content) : content;
    },
    async readRange(path, start, end) {
      const content = files.get(trimSlashes(path));
      if (content === undefined) return null;
      return (typeof content === 'string' ? utf8Encoder.encode(content) : content).subarray(start, end);
    },
  };
}

/** The files of `src` below `prefix` (e.g. "adapter"), addressed relative to that folder. */
export function subSource(src: FileSource, prefix: string): FileSource {
  const folder = trimSlashes(prefix);
  if (folder === '') return src;
  const inFolder = (path: string) => `${folder}/${trimSlashes(path)}`;
  return {
    name: filePath(src, folder),
    readText: (path) => src.readText(inFolder(path)),
    readBytes: (path) => src.readBytes(inFolder(path)),
    readRange: (path, start, end) => readRange(src, inFolder(path), start, end),
  };
}
