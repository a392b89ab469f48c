/** A model folder on disk as a FileSource (Node only). */
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { confinedPath } from '../core/model/sources';
import type { FileSource } from '../core/model/types';

const utf8Decoder = new TextDecoder();

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** Files below `dir`; a missing file reads as null, a missing or unreadable folder is an error. */
export function fsSource(dir: string): FileSource {
  async function read(path: string): Promise<Buffer | null> {
    try {
      return await readFile(join(dir, ...confinedPath(path, dir).split('/')));
    } catch (error) {
      const code = errorCode(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`cannot read ${join(dir, path)}: ${(error as Error).message}`);
    }
    // A missing file is normal (optional files); a missing folder means the path given was wrong.
    const folder = await stat(dir).catch(() => null);
    if (folder === null) throw new Error(`model folder ${dir} does not exist`);
    if (!folder.isDirectory()) throw new Error(`${dir} is not a folder`);
    return null;
  }
  return {
    name: dir,
    async readText(path) {
      const content = await read(path);
      // TextDecoder drops a byte-order mark, as fetch's text() does.
      return content === null ? null : utf8Decoder.decode(content);
    },
    async readBytes(path) {
      const content = await read(path);
      // A plain Uint8Array view: core code must not see Buffer's different slice() semantics.
      return content === null ? null : new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
    },
    async readRange(path, start, end) {
      const file = join(dir, ...confinedPath(path, dir).split('/'));
      let handle;
      try {
        handle = await open(file, 'r');
      } catch (error) {
        if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return read(path);
        throw new Error(`cannot read ${file}: ${(error as Error).message}`);
      }
      try {
        const out = new Uint8Array(Math.max(0, end - start));
        let filled = 0;
        while (filled < out.length) {
          const { bytesRead } = await handle.read(out, filled, out.length - filled, start + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return out.subarray(0, filled);
      } catch (error) {
        throw new Error(`cannot read ${file}: ${(error as Error).message}`);
      } finally {
        await handle.close();
      }
    },
  };
}
