/**
 * An in-memory origin-private file system with the semantics the studio relies on: a writable stream
 * writes a copy that replaces the file only on close (keepExistingData starts the copy from the file),
 * a handle to a removed entry throws NotFoundError, and getFile() is a snapshot Blob.
 */
import type { OpfsDirectory, OpfsFile, OpfsWritable } from '../../../src/storage';

const notFound = (name: string) => new DOMException(`${name} not found`, 'NotFoundError');

export class FakeFile implements OpfsFile {
  bytes = new Uint8Array(0);
  removed = false;
  /** Fails the next write with this error (a full disk). */
  failNextWrite: Error | null = null;
  constructor(readonly root: FakeDirectory) {}

  async getFile(): Promise<Blob> {
    if (this.removed) throw notFound('file');
    this.root.stats.getFile++;
    return new Blob([this.bytes.slice()]);
  }

  async createWritable(options?: { keepExistingData?: boolean }): Promise<OpfsWritable> {
    if (this.removed) throw notFound('file');
    // The copy grows by doubling (its first `length` bytes are the file).
    let copy = options?.keepExistingData ? this.bytes.slice() : new Uint8Array(0);
    let length = copy.length;
    let position = 0;
    return {
      write: async (data) => {
        if (this.failNextWrite) {
          const error = this.failNextWrite;
          this.failNextWrite = null;
          throw error;
        }
        const chunk = typeof data === 'string' ? new TextEncoder().encode(data) : data;
        const end = position + chunk.length;
        if (end > copy.length) {
          const grown = new Uint8Array(Math.max(end, 2 * copy.length));
          grown.set(copy.subarray(0, length));
          copy = grown;
        }
        copy.set(chunk, position);
        position = end;
        length = Math.max(length, end);
        this.root.stats.bytesWritten += chunk.length;
      },
      truncate: async (size) => {
        const next = new Uint8Array(size);
        next.set(copy.subarray(0, Math.min(size, length)));
        copy = next;
        length = size;
        position = Math.min(position, size);
      },
      seek: async (p) => {
        position = p;
      },
      close: async () => {
        if (this.removed) throw notFound('file');
        this.bytes = copy.slice(0, length);
      },
    };
  }
}

export class FakeDirectory implements OpfsDirectory {
  readonly entries = new Map<string, FakeDirectory | FakeFile>();
  removed = false;
  readonly stats: { getFile: number; bytesWritten: number };
  constructor(root?: FakeDirectory) {
    this.stats = root?.stats ?? { getFile: 0, bytesWritten: 0 };
    this.root = root ?? this;
  }
  readonly root: FakeDirectory;

  async getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<FakeDirectory> {
    if (this.removed) throw notFound(name);
    const entry = this.entries.get(name);
    if (entry instanceof FakeDirectory) return entry;
    if (entry) throw new DOMException(name, 'TypeMismatchError');
    if (!options?.create) throw notFound(name);
    const dir = new FakeDirectory(this.root);
    this.entries.set(name, dir);
    return dir;
  }

  async getFileHandle(name: string, options?: { create?: boolean }): Promise<FakeFile> {
    if (this.removed) throw notFound(name);
    const entry = this.entries.get(name);
    if (entry instanceof FakeFile) return entry;
    if (entry) throw new DOMException(name, 'TypeMismatchError');
    if (!options?.create) throw notFound(name);
    const file = new FakeFile(this.root);
    this.entries.set(name, file);
    return file;
  }

  async removeEntry(name: string, options?: { recursive?: boolean }): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) throw notFound(name);
    if (entry instanceof FakeDirectory && entry.entries.size > 0 && !options?.recursive) {
      throw new DOMException(name, 'InvalidModificationError');
    }
    markRemoved(entry);
    this.entries.delete(name);
  }

  async *keys(): AsyncIterable<string> {
    yield* [...this.entries.keys()];
  }

  /** Every file's path and size under this folder, for checking what is left on disk. */
  tree(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, entry] of this.entries) {
      if (entry instanceof FakeFile) out[prefix + name] = entry.bytes.length;
      else Object.assign(out, entry.tree(`${prefix}${name}/`));
    }
    return out;
  }
}

function markRemoved(entry: FakeDirectory | FakeFile): void {
  entry.removed = true;
  if (entry instanceof FakeDirectory) for (const child of entry.entries.values()) markRemoved(child);
}
