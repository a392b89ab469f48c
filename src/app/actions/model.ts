/** Loading models (demo, folder, Hub with browser storage) and adapters. */
import type { ModelSource } from '../../worker/protocol';
import { engine } from '../engine';
import { downloadHubModel } from '../hub';
import { DEFAULT_STUDIO_CONFIG, get, set } from '../store';
import { updateConfig } from './config';
import { scheduleTokenStats } from './dataset';
import { refreshStorageUsage } from './runs';
import { demoModel, message, session, storage, storedHubSource } from './session';

export async function loadModel(source: ModelSource): Promise<boolean> {
  set({ modelBusy: { label: `loading ${source.name}`, fraction: null }, modelError: null, adapterError: null });
  try {
    const info = await engine().call('loadModel', { source });
    session.modelSource = source;
    session.workerRunId = null;
    set({ model: info, scores: null, samples: null });
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

/**
 * TRL's max_length of 1024 cannot run on a model with fewer positions (the demo has 256): while the
 * setting is still the default, it follows the model's context instead of blocking Train.
 */
function fitMaxLength(maxPositions: number): void {
  const current = get().config.dpo.max_length;
  if (current === DEFAULT_STUDIO_CONFIG.dpo.max_length && current !== null && current > maxPositions) {
    updateConfig((c) => ({ ...c, dpo: { ...c.dpo, max_length: maxPositions } }));
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

export async function refreshStoredModels(): Promise<void> {
  try {
    const manifests = await storage.listModelFiles();
    const stored = manifests
      .filter((m) => m.key.startsWith('hub:'))
      .map((m) => ({ key: m.key, bytes: m.files.reduce((n, f) => n + f.size, 0) }));
    set((s) => ({ hub: { ...s.hub, stored } }));
  } catch (e) {
    set({ notice: `Could not list stored models: ${message(e)}` });
  }
}

/** From browser storage when this repo was downloaded before, else from the Hub (then stored). */
export async function loadHubModel(repoInput: string): Promise<void> {
  const repo = repoInput.trim();
  const key = `hub:${repo}`;
  const setHub = (changes: Partial<ReturnType<typeof get>['hub']>) => set((s) => ({ hub: { ...s.hub, ...changes } }));
  setHub({ error: null, busy: { label: `looking for ${repo}`, fraction: null } });
  try {
    if (!get().hub.stored.some((m) => m.key === key)) {
      const files = await downloadHubModel(repo, (p) =>
        setHub({ busy: { label: `downloading ${p.file}`, fraction: p.total > 0 ? p.loaded / p.total : null } }),
      );
      setHub({ busy: { label: 'keeping the files in browser storage', fraction: null } });
      await storage.putModelFiles(key, files);
      await refreshStoredModels();
      void refreshStorageUsage();
    }
    setHub({ busy: null });
    await loadModel(storedHubSource(key, repo));
  } catch (e) {
    setHub({ error: message(e) });
  } finally {
    setHub({ busy: null });
  }
}

export async function deleteStoredModel(key: string): Promise<void> {
  try {
    await storage.deleteModelFiles(key);
  } catch (e) {
    set({ notice: message(e) });
  }
  await refreshStoredModels();
  void refreshStorageUsage();
}
