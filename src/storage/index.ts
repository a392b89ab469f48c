/**
 * Browser storage for the studio (IndexedDB through idb-keyval): runs, crash-safe checkpoints,
 * datasets and model files (those in the origin-private file system where the browser has one).
 * Works in the page and in the training Worker; both may open it at once.
 *
 *   const storage = openStudioStorage();          // database "dpo-studio", store "kv"; OPFS "models/"
 *
 * Runs
 *   storage.createRun(init): RunRecord             new id, status 'stopped', step 0, empty history
 *                                                  (saveSteps DEFAULT_SAVE_STEPS unless given)
 *   storage.listRuns(): RunRecord[]                newest first
 *   storage.getRun(id) / storage.putRun(run)
 *   storage.updateRun(id, changes): RunRecord      atomic read-modify-write; prefer it to putRun
 *   storage.renameRun(id, name)
 *   storage.deleteRun(id)                          with its checkpoints
 *   storage.duplicateRun(id, { name?, config?, lora?, saveSteps? })   new run, settings merged, no history
 *   Records saved before a field existed read back with its default (upgradeRun).
 * Checkpoints
 *   storage.saveCheckpoint(runId, { step, state, history })   crash-safe; also sets the run's step
 *                                                  and history when the run record exists
 *   storage.loadLatestCheckpoint(runId): Checkpoint | undefined
 * Datasets (by content)
 *   datasetFingerprint(text | bytes): hex SHA-256; fileFingerprint(blobs): the same for files read on demand, in pieces;
 *   readFingerprint(it, options): with the read options
 *   storedDatasetFiles(stored): Blob[]
 *   storage.putDataset(fingerprint, { name, bytes }) / getDataset / deleteDataset
 * Model files
 *   storage.stageModel(key): ModelStaging          a download, streamed to disk and resumable: OPFS
 *                                                  where the browser has it, IndexedDB blocks otherwise
 *   storage.listStoredModels(): StoredModelSummary[]   both places: bytes stored, bytes of a download kept
 *   storage.modelFileSource(key, name?): FileSource | undefined   ranged reads; OPFS first, then IndexedDB
 *   storage.deleteModelFiles(key)                  from both places, with any unfinished download
 *   storage.putModelFiles(key, files) / getModelFiles(key) / listModelFiles()   whole files, IndexedDB
 * Quota
 *   storageUsage(): { usage, quota } | null;  requestPersistentStorage(): boolean (page only)
 *
 * Every write that runs out of quota rejects with StorageFullError (a clear message, `what` names the
 * item); the write is rolled back and nothing saved earlier is touched. Other failures reject with the
 * underlying error.
 */
import type { FileSource } from '../core/model/types';
import type { ReadOptions } from '../core/data/read';
import { loadLatestCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointInput } from './checkpoints';
import { deleteDataset, getDataset, putDataset, type StoredDataset } from './datasets';
import { openDefaultStore, type UseStore } from './db';
import {
  deleteModelFiles,
  getModelFiles,
  listModelFiles,
  modelFileSource,
  putModelFiles,
  stageIdbModel,
  summarizeIdbModels,
  type ModelManifest,
  type ModelStaging,
  type StoredModelSummary,
} from './models';
import { browserOpfsRoot, deleteOpfsModel, opfsModelSource, stageOpfsModel, summarizeOpfsModels, type OpfsRoot } from './opfs';
import {
  createRun,
  deleteRun,
  duplicateRun,
  getRun,
  listRuns,
  putRun,
  renameRun,
  updateRun,
  type DuplicateChanges,
  type NewRun,
  type RunChanges,
  type RunRecord,
} from './runs';

export { StorageFullError, isQuotaError, DB_NAME, STORE_NAME } from './db';
export { datasetFingerprint, fileFingerprint, readFingerprint, storedDatasetFiles, type StoredDataset } from './datasets';
export { storageUsage, requestPersistentStorage } from './usage';
export type { Checkpoint, CheckpointInput } from './checkpoints';
export type { ModelBackend, ModelFileWriter, ModelManifest, ModelStaging, StoredModelFile, StoredModelSummary } from './models';
export type { OpfsDirectory, OpfsFile, OpfsRoot, OpfsWritable } from './opfs';
export { DEFAULT_SAVE_STEPS } from './runs';
export type { DuplicateChanges, NewRun, RunChanges, RunRecord, RunStatus } from './runs';
export type { UseStore };

export interface StudioStorage {
  createRun(init: NewRun): Promise<RunRecord>;
  listRuns(): Promise<RunRecord[]>;
  getRun(id: string): Promise<RunRecord | undefined>;
  putRun(run: RunRecord): Promise<void>;
  updateRun(id: string, changes: RunChanges): Promise<RunRecord>;
  renameRun(id: string, name: string): Promise<RunRecord>;
  deleteRun(id: string): Promise<void>;
  duplicateRun(id: string, changes?: DuplicateChanges): Promise<RunRecord>;

  saveCheckpoint(runId: string, checkpoint: CheckpointInput): Promise<void>;
  loadLatestCheckpoint(runId: string): Promise<Checkpoint | undefined>;

  putDataset(
    fingerprint: string,
    dataset: { name: string; bytes: Uint8Array | Blob | (Uint8Array | Blob)[]; options?: ReadOptions },
  ): Promise<void>;
  getDataset(fingerprint: string): Promise<StoredDataset | undefined>;
  deleteDataset(fingerprint: string): Promise<void>;

  putModelFiles(key: string, files: ReadonlyMap<string, Uint8Array | string>): Promise<void>;
  getModelFiles(key: string): Promise<Map<string, Uint8Array | string> | undefined>;
  listModelFiles(): Promise<ModelManifest[]>;
  deleteModelFiles(key: string): Promise<void>;
  modelFileSource(key: string, name?: string): Promise<FileSource | undefined>;
  stageModel(key: string): Promise<ModelStaging>;
  listStoredModels(): Promise<StoredModelSummary[]>;
}

/**
 * Storage over `store` and the file system `opfs` resolves (tests pass their own; the studio uses the
 * default database and the browser's origin-private file system, where it has one).
 */
export function openStudioStorage(store: UseStore = openDefaultStore(), opfs: OpfsRoot = browserOpfsRoot): StudioStorage {
  let root: ReturnType<OpfsRoot> | undefined;
  const fileSystem = () => (root ??= opfs());
  return {
    createRun: (init) => createRun(store, init),
    listRuns: () => listRuns(store),
    getRun: (id) => getRun(store, id),
    putRun: (run) => putRun(store, run),
    updateRun: (id, changes) => updateRun(store, id, changes),
    renameRun: (id, name) => renameRun(store, id, name),
    deleteRun: (id) => deleteRun(store, id),
    duplicateRun: (id, changes) => duplicateRun(store, id, changes),
    saveCheckpoint: (runId, checkpoint) => saveCheckpoint(store, runId, checkpoint),
    loadLatestCheckpoint: (runId) => loadLatestCheckpoint(store, runId),
    putDataset: (fingerprint, dataset) => putDataset(store, fingerprint, dataset),
    getDataset: (fingerprint) => getDataset(store, fingerprint),
    deleteDataset: (fingerprint) => deleteDataset(store, fingerprint),
    putModelFiles: (key, files) => putModelFiles(store, key, files),
    getModelFiles: (key) => getModelFiles(store, key),
    listModelFiles: () => listModelFiles(store),
    async deleteModelFiles(key) {
      const dir = await fileSystem();
      if (dir) await deleteOpfsModel(dir, key);
      await deleteModelFiles(store, key);
    },
    async modelFileSource(key, name) {
      const dir = await fileSystem();
      return (dir && (await opfsModelSource(dir, key, name))) || modelFileSource(store, key, name);
    },
    async stageModel(key) {
      const dir = await fileSystem();
      return dir ? stageOpfsModel(dir, key) : stageIdbModel(store, key);
    },
    async listStoredModels() {
      const dir = await fileSystem();
      const all = [...(dir ? await summarizeOpfsModels(dir) : []), ...(await summarizeIdbModels(store))];
      // Unfinished downloads first, then newest first.
      const time = (m: StoredModelSummary) => m.savedAt ?? Number.MAX_SAFE_INTEGER;
      return all.sort((a, b) => time(b) - time(a));
    },
  };
}
