/**
 * The worker's side of browser storage: checkpoints, the run record's step and history as they are logged,
 * the dataset a run trains on, and stored model files. The page keeps the rest of the run record.
 */
import type { ReadOptions } from '../core/data/read';
import type { LogEntry } from '../core/dpo/trainer';
import type { FileSource } from '../core/model/types';
import { openStudioStorage, StorageFullError, type Checkpoint, type CheckpointInput } from '../storage';

const storage = openStudioStorage();

export function storeCheckpoint(runId: string, checkpoint: CheckpointInput): Promise<void> {
  return storage.saveCheckpoint(runId, checkpoint);
}

/** The run record's metric history and step, as logged (a reload keeps them even between checkpoints). */
export async function recordProgress(runId: string, progress: { history: LogEntry[]; step: number }): Promise<void> {
  await storage.updateRun(runId, progress);
}

export function loadCheckpoint(runId: string): Promise<Checkpoint | undefined> {
  return storage.loadLatestCheckpoint(runId);
}

/**
 * Keeps a dataset's file once per content, when it loads and when a run starts on it, so that a reload
 * opens on it again and a run can resume. Where storage is full nothing else stops: the returned
 * warning says what that costs.
 */
export async function storeDataset(
  dataset: {
    fingerprint: string;
    name: string;
    content: Blob[];
    options: ReadOptions;
    onDemand: boolean;
  },
  when: 'load' | 'run' = 'run',
): Promise<string | null> {
  if (await storage.getDataset(dataset.fingerprint)) return null;
  try {
    // A file too large to hold is stored as the Blob it is (the browser copies it without reading it in).
    const parts = dataset.onDemand
      ? dataset.content
      : await Promise.all(dataset.content.map(async (blob) => new Uint8Array(await blob.arrayBuffer())));
    await storage.putDataset(dataset.fingerprint, {
      name: dataset.name,
      bytes: parts.length === 1 ? parts[0] : parts,
      options: dataset.options,
    });
    return null;
  } catch (e) {
    if (!(e instanceof StorageFullError)) throw e;
    return when === 'load'
      ? `Browser storage is full, so ${dataset.name} could not be kept there: after a reload, drop it again.`
      : `Browser storage is full, so ${dataset.name} could not be kept there. Training goes on; to resume this run after a reload, drop the same file again first.`;
  }
}

export async function storedModelSource(key: string, name: string): Promise<FileSource> {
  const src = await storage.modelFileSource(key, name);
  if (!src) throw new Error(`${name} is not in browser storage any more; download it again`);
  return src;
}
