/**
 * The one IndexedDB store the studio keeps everything in, and the transaction helpers every part of
 * storage goes through. idb-keyval supplies the connection; multi-key work runs in one transaction so
 * it commits whole or not at all. Works in a page and in a Worker (IndexedDB exists in both).
 *
 * Key layout (string keys, one object store):
 *   run/<id>                               RunRecord
 *   ckpt/<runId>/<unique>                  CheckpointRecord (written first, under a fresh key)
 *   ckpt-latest/<runId>                    { key, step }: the pointer, switched atomically
 *   dataset/<fingerprint>                  StoredDataset
 *   model/<key>                            ModelManifest (written last: the commit marker)
 *   model-file/<key>/<generation>/<path>   one model file
 * Ids and keys are URI-encoded inside keys, so a "/" in them cannot reach into another entry's prefix.
 */
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';

export type { UseStore };

export const DB_NAME = 'dpo-studio';
export const STORE_NAME = 'kv';

export function openDefaultStore(): UseStore {
  // Lazy: idb-keyval opens the database on the first transaction.
  return createStore(DB_NAME, STORE_NAME);
}

/** The browser ran out of storage for this origin. Whatever was saved before is still there. */
export class StorageFullError extends Error {
  override readonly name = 'StorageFullError';

  constructor(
    /** What could not be saved ("checkpoint of run … at step 40"). */
    readonly what: string,
    cause?: unknown,
  ) {
    super(
      `Browser storage is full: could not save the ${what}. Everything saved earlier is intact. ` +
        'Free space by deleting old runs or stored models, or allow this site more storage.',
      { cause },
    );
  }
}

/** Chrome and Safari report QuotaExceededError; older Firefox NS_ERROR_DOM_QUOTA_REACHED. */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

export function request<T>(req: IDBRequest<T>): Promise<T> {
  return promisifyRequest(req);
}

export function read<T>(store: UseStore, body: (s: IDBObjectStore) => Promise<T>): Promise<T> {
  return store('readonly', body);
}

/**
 * Runs `body` in one readwrite transaction and resolves once it has committed. If `body` throws, the
 * transaction is aborted, so none of its writes land. A quota failure (reported on the request or
 * on the transaction) becomes a StorageFullError naming `what`. Inside `body`, issue each request
 * right after awaiting a previous one: awaiting anything else lets the transaction close.
 */
export async function write<T>(store: UseStore, what: string, body: (s: IDBObjectStore) => Promise<T> | T): Promise<T> {
  try {
    return await store('readwrite', async (s) => {
      const tx = s.transaction;
      const committed = promisifyRequest(tx);
      committed.catch(() => undefined); // observed below; this keeps an abort from surfacing as unhandled
      let result: T;
      try {
        result = await body(s);
      } catch (error) {
        try {
          tx.abort();
        } catch {
          // Already finished or aborting (a failed request aborts its transaction).
        }
        await committed.catch(() => undefined);
        // A request that failed for quota may itself report only AbortError; the transaction knows why.
        throw isQuotaError(tx.error) ? tx.error : error;
      }
      await committed;
      return result;
    });
  } catch (error) {
    if (isQuotaError(error)) throw new StorageFullError(what, error);
    throw error;
  }
}

/** Every key starting with `prefix`, in key order. */
export function keysWithPrefix(s: IDBObjectStore, prefix: string): Promise<IDBValidKey[]> {
  return request(s.getAllKeys(prefixRange(prefix)));
}

/** Every value under `prefix`, in key order. */
export function valuesWithPrefix<T>(s: IDBObjectStore, prefix: string): Promise<T[]> {
  return request(s.getAll(prefixRange(prefix)) as IDBRequest<T[]>);
}

function prefixRange(prefix: string): IDBKeyRange {
  // U+FFFF sorts after every character that can follow the prefix in a well-formed key.
  return IDBKeyRange.bound(prefix, `${prefix}\uffff`);
}

/** A key segment that cannot contain "/". */
export function segment(id: string): string {
  return encodeURIComponent(id);
}

/** A fresh unique id (runs, checkpoint keys, model-file generations). */
export function newId(): string {
  return crypto.randomUUID();
}

/**
 * Structured clone copies a typed array's whole underlying buffer; a view into a larger buffer is
 * copied to its own first so storage holds only its bytes.
 */
export function ownBuffer<T extends Float32Array | Uint8Array>(array: T): T {
  return array.byteOffset === 0 && array.byteLength === array.buffer.byteLength ? array : (array.slice() as T);
}
