/** Loading models (demo, folder, Hub with browser storage) and adapters; the stored models and the Hub token. */
import { create } from 'zustand';
import { requestPersistentStorage, type StoredModelSummary } from '../../storage';
import type { ModelSource } from '../../worker/protocol';
import { hubKey } from '../catalogue';
import { engine } from '../engine';
import { DownloadStopped, downloadHubModel, HubAccessError, savedHubToken, saveHubToken } from '../hub';
import { get, set } from '../store';
import { fitMaxLength, leaveDemoPreset } from './preset';
import { scheduleTokenStats } from './dataset';
import { refreshStorageUsage } from './runs';
import { demoModel, message, session, storage, storedHubSource } from './session';

export async function loadModel(source: ModelSource): Promise<boolean> {
  set({ modelBusy: { label: `loading ${source.name}`, fraction: null }, modelError: null, adapterError: null });
  try {
    const info = await engine().call('loadModel', { source });
    session.modelSource = source;
    session.workerRunId = null;
    // A loaded model makes an earlier Hub download's error stale.
    set({ model: info, scores: null, samples: null, hub: { ...get().hub, error: null } });
    if (info.id !== 'demo') leaveDemoPreset(source.name);
    fitMaxLength(info.maxPositions);
    scheduleTokenStats(0);
    return true;
  } catch (e) {
    set({ modelError: message(e) });
    return false;
  } finally {
    set({ modelBusy: null });
  }
}

export function loadDemoModel(): Promise<boolean> {
  return loadModel(demoModel());
}

/** A folder pick (or several files): config.json, weights, tokenizer files, optionally an adapter. */
export function loadModelFolder(files: File[]): Promise<boolean> {
  // A folder pick names its folder; files picked one by one have no folder to be named after.
  const top = files[0]?.webkitRelativePath?.split('/')[0] || 'picked model files';
  return loadModel({ kind: 'files', id: `folder:${top}`, name: top, files });
}

export async function loadAdapterFiles(files: File[]): Promise<void> {
  set({ modelBusy: { label: 'loading the adapter', fraction: null }, adapterError: null });
  try {
    const info = await engine().call('loadAdapter', { files });
    set({ model: info, scores: null, samples: null });
  } catch (e) {
    set({ adapterError: message(e) });
  } finally {
    set({ modelBusy: null });
  }
}

export function setHubRepo(repo: string): void {
  set((s) => ({ hub: { ...s.hub, repo, error: null } }));
}

/** Models kept in this browser and the state of Hub downloads (beside the studio store, which keeps `hub`). */
export interface ModelStorageView {
  /** Stored Hub models and unfinished downloads, with the space each takes. */
  models: StoredModelSummary[];
  /** The repo of the latest download (its progress and error show where it was started). */
  activeRepo: string | null;
  /** A gated repo refused the download: the panel asks for a token. */
  tokenPrompt: string | null;
  /** Whether a Hugging Face token is kept in this browser. */
  hasToken: boolean;
  /** A download is under way (it can be stopped). */
  downloading: boolean;
}

export const useModelStorage = create<ModelStorageView>(() => ({
  models: [],
  activeRepo: null,
  tokenPrompt: null,
  hasToken: savedHubToken() !== null,
  downloading: false,
}));

let stopDownload: AbortController | null = null;

/** Stops the download under way; what arrived is kept, and downloading again resumes from it. */
export function stopHubDownload(): void {
  stopDownload?.abort();
}

export async function refreshStoredModels(): Promise<void> {
  try {
    const models = (await storage.listStoredModels()).filter((m) => m.key.startsWith('hub:'));
    useModelStorage.setState({ models });
    const stored = models.filter((m) => m.savedAt !== null).map((m) => ({ key: m.key, bytes: m.bytes }));
    set((s) => ({ hub: { ...s.hub, stored } }));
  } catch (e) {
    set({ notice: `Could not list stored models: ${message(e)}` });
  }
  void refreshStorageUsage();
}

/**
 * From browser storage when this repo was downloaded before, else from the Hub: streamed into storage
 * (resuming what an interrupted download kept), then loaded from there.
 */
export async function loadHubModel(repoInput: string): Promise<void> {
  const repo = repoInput.trim();
  const key = hubKey(repo);
  const setHub = (changes: Partial<ReturnType<typeof get>['hub']>) => set((s) => ({ hub: { ...s.hub, ...changes } }));
  useModelStorage.setState({ activeRepo: repo, tokenPrompt: null });
  setHub({ error: null, busy: { label: `looking for ${repo}`, fraction: null } });
  try {
    if (!get().hub.stored.some((m) => m.key === key)) {
      stopDownload = new AbortController();
      useModelStorage.setState({ downloading: true });
      // A model is worth keeping through storage pressure (best effort: the browser may say no).
      void requestPersistentStorage().catch(() => false);
      try {
        const staging = await storage.stageModel(key);
        await downloadHubModel(
          repo,
          staging,
          (p) => setHub({ busy: { label: `downloading ${repo}: ${p.file}`, fraction: p.total > 0 ? p.loaded / p.total : null } }),
          { token: savedHubToken(), signal: stopDownload.signal },
        );
      } finally {
        stopDownload = null;
        useModelStorage.setState({ downloading: false });
        await refreshStoredModels();
      }
    }
    setHub({ busy: null });
    await loadModel(storedHubSource(key, repo));
  } catch (e) {
    if (e instanceof HubAccessError) useModelStorage.setState({ tokenPrompt: repo });
    const kept = useModelStorage.getState().models.find((m) => m.key === key)?.partialBytes ?? 0;
    const why = e instanceof DownloadStopped ? `Stopped the download of ${repo}.` : message(e);
    setHub({ error: kept > 0 ? `${why} What arrived is kept: downloading again resumes from there.` : why });
  } finally {
    setHub({ busy: null });
  }
}

/** Keeps a Hugging Face token in this browser (sent to huggingface.co only); null forgets it. */
export function setHubToken(token: string | null): void {
  saveHubToken(token);
  useModelStorage.setState({ hasToken: savedHubToken() !== null });
}

export async function deleteStoredModel(key: string): Promise<void> {
  try {
    await storage.deleteModelFiles(key);
  } catch (e) {
    set({ notice: message(e) });
  }
  await refreshStoredModels();
}
