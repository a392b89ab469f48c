import 'fake-indexeddb/auto';
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';
import type { TrainerState } from '../../../src/core/dpo/trainer';

let counter = 0;

/** A fresh database per call, so tests never see each other's entries. */
export function freshStore(): { store: UseStore; dbName: string } {
  const dbName = `studio-test-${process.pid}-${counter++}`;
  return { store: createStore(dbName, 'kv'), dbName };
}

/** Every key in the store, for checking what a save left behind. */
export function allKeys(store: UseStore): Promise<string[]> {
  return store('readonly', (s) => promisifyRequest(s.getAllKeys())) as Promise<string[]>;
}

export type Failure = { op: 'put' | 'delete'; key: string } | null;

/**
 * A store whose object-store requests fail when `fail` says so, as a browser's would: `mode` 'throw'
 * throws the error from put/delete itself; 'abort' issues the request, then aborts the transaction
 * with the error reported on the transaction (Chrome reports quota failures this way, the request
 * itself only seeing AbortError).
 */
export function failingStore(
  inner: UseStore,
  fail: (op: 'put' | 'delete', key: string) => Error | null,
  mode: 'throw' | 'abort' = 'throw',
): UseStore {
  return ((txMode: IDBTransactionMode, callback: (s: IDBObjectStore) => unknown) =>
    inner(txMode, (real) => {
      let txError: Error | null = null;
      const tx = new Proxy(real.transaction, {
        get(target, prop) {
          if (prop === 'error') return txError ?? target.error;
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
        set(target, prop, value) {
          return Reflect.set(target, prop, value, target);
        },
      });
      const wrap =
        (op: 'put' | 'delete', method: (...args: never[]) => IDBRequest) =>
        (...args: unknown[]) => {
          const key = String(op === 'put' ? args[1] : args[0]);
          const error = fail(op, key);
          if (error && mode === 'throw') throw error;
          const req = (method as (...a: unknown[]) => IDBRequest).apply(real, args);
          if (error) {
            txError = error;
            real.transaction.abort();
          }
          return req;
        };
      const store = new Proxy(real, {
        get(target, prop) {
          if (prop === 'transaction') return tx;
          if (prop === 'put' || prop === 'delete') return wrap(prop, Reflect.get(target, prop, target) as never);
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      return callback(store);
    })) as UseStore;
}

export function quotaError(): DOMException {
  return new DOMException('The quota has been exceeded.', 'QuotaExceededError');
}

/** A trainer state with distinct values everywhere, as getState returns it. */
export function trainerState(step: number, seed = step): TrainerState {
  const filled = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 31 + k * 7 + i) * 1e-3);
  return {
    globalStep: step,
    epoch: Math.floor(step / 5),
    microInEpoch: step % 5,
    optimizer: { step, m: [filled(8, 1), filled(6, 2)], v: [filled(8, 3), filled(6, 4)] },
    adapter: [filled(8, 5), filled(6, 6)],
    dropoutRng: 123456789 + seed,
    pendingMetrics: { loss: [0.69, 0.68 + seed * 1e-3], 'rewards/chosen': [0.01] },
  };
}
