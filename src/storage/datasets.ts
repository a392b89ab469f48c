/**
 * Dataset files kept by content fingerprint, so a run can be resumed after a reload without the user
 * dropping the file again. Several runs on the same file share one copy.
 */
import { read, request, segment, write, type UseStore } from './db';

export interface StoredDataset {
  fingerprint: string;
  /** The file name it was loaded from. */
  name: string;
  text: string;
  savedAt: number;
}

const datasetKey = (fingerprint: string) => `dataset/${segment(fingerprint)}`;

/** SHA-256 of the text's UTF-8 bytes, as 64 lowercase hex digits (crypto.subtle: pages, Workers and Node). */
export async function datasetFingerprint(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function putDataset(store: UseStore, fingerprint: string, dataset: { name: string; text: string }): Promise<void> {
  const record: StoredDataset = { fingerprint, name: dataset.name, text: dataset.text, savedAt: Date.now() };
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
