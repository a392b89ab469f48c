/**
 * Datasets from the Hugging Face Hub by name: a split's Parquet files streamed into browser storage
 * (resuming what an interrupted download kept), then read in the worker as one table. A split kept
 * whole loads from storage without the network. The page downloads (not the worker), so its
 * Content-Security-Policy governs where it connects.
 */
import { downloadHubDataset, type HubDatasetRef } from '../../core/hub/datasets';
import { DownloadStopped } from '../../core/hub/download';
import { requestPersistentStorage, type ModelStaging } from '../../storage';
import { savedHubToken } from '../hub';
import { get, set, type StoredHubDataset } from '../store';
import { loadDatasetFile } from './dataset';
import { refreshStorageUsage } from './runs';
import { message, session, storage } from './session';

const PREFIX = 'hub-dataset:';

/** The storage key of a split: its three names, each URI-encoded, so the key can be read back. */
export function hubDatasetKey(repo: string, config: string, split: string): string {
  return PREFIX + [repo, config, split].map(encodeURIComponent).join('/');
}

function parseKey(key: string): { repo: string; config: string; split: string } | null {
  if (!key.startsWith(PREFIX)) return null;
  const parts = key.slice(PREFIX.length).split('/').map(decodeURIComponent);
  return parts.length === 3 ? { repo: parts[0], config: parts[1], split: parts[2] } : null;
}

const displayName = (d: { repo: string; config: string; split: string }) => `${d.repo} (${d.config}/${d.split})`;

let stopDownload: AbortController | null = null;

const setHubDataset = (changes: Partial<ReturnType<typeof get>['hubDataset']>) =>
  set((s) => ({ hubDataset: { ...s.hubDataset, ...changes } }));

export function stopHubDatasetDownload(): void {
  stopDownload?.abort();
}

/** The Hub splits kept whole in this browser. */
export async function refreshStoredHubDatasets(): Promise<void> {
  try {
    const stored: StoredHubDataset[] = [];
    for (const m of await storage.listStoredModels()) {
      const names = parseKey(m.key);
      if (names && m.savedAt !== null) stored.push({ key: m.key, ...names, bytes: m.bytes });
    }
    setHubDataset({ stored });
  } catch (e) {
    setHubDataset({ error: `Could not list the stored datasets: ${message(e)}` });
  }
}

/** The stored split that `ref` names: its config as given, or the only one kept of that repo and split. */
function storedMatch(ref: { repo: string; config?: string; split: string }): StoredHubDataset | undefined {
  const candidates = get().hubDataset.stored.filter((d) => d.repo === ref.repo && d.split === ref.split);
  if (ref.config) return candidates.find((d) => d.config === ref.config);
  return candidates.length === 1 ? candidates[0] : candidates.find((d) => d.config === 'default');
}

/** A stored split's Parquet files, in order (0000.parquet, 0001.parquet, …). */
async function storedFiles(key: string, name: string): Promise<Blob[]> {
  const source = await storage.modelFileSource(key, name);
  if (!source) throw new Error(`${name} is not in browser storage any more; download it again`);
  const files: Blob[] = [];
  for (let i = 0; ; i++) {
    const bytes = await source.readBytes(`${String(i).padStart(4, '0')}.parquet`);
    if (!bytes) break;
    files.push(new Blob([bytes as BlobPart]));
  }
  if (files.length === 0) throw new Error(`${name}: no Parquet file is kept; download it again`);
  return files;
}

/**
 * Loads a split of a Hub dataset as the dataset: from browser storage when it was kept whole before,
 * else downloaded with progress (a stopped or broken download keeps what arrived, and the next one
 * resumes there).
 */
export async function loadHubDataset(input: HubDatasetRef): Promise<void> {
  const ref = { repo: input.repo.trim(), config: input.config?.trim() || undefined, split: input.split?.trim() || 'train' };
  // The newest dataset request wins: a demo set loading at start-up, or a file dropped meanwhile.
  const ticket = ++session.datasetTicket;
  setHubDataset({ error: null, busy: { label: `looking for ${ref.repo}`, fraction: null } });
  let key: string | null = null;
  let staging: ModelStaging | null = null;
  try {
    let found = storedMatch(ref);
    if (!found) {
      stopDownload = new AbortController();
      setHubDataset({ downloading: true });
      void requestPersistentStorage().catch(() => false);
      try {
        const result = await downloadHubDataset(
          ref,
          async (listing) => {
            key = hubDatasetKey(ref.repo, listing.config, listing.split);
            staging = await storage.stageModel(key);
            return staging;
          },
          (p) =>
            setHubDataset({
              busy: {
                label: `downloading ${ref.repo}: file ${p.file} of ${p.files}, ${(p.loaded / 2 ** 20).toFixed(1)} MB`,
                fraction: (p.file - 1) / p.files,
              },
            }),
          {
            token: savedHubToken(),
            signal: stopDownload.signal,
            access: { kind: 'dataset', tokenHint: 'add it in Model → Hugging Face Hub' },
          },
        );
        await staging!.commit(result.paths);
      } finally {
        stopDownload = null;
        setHubDataset({ downloading: false });
        await refreshStoredHubDatasets();
        void refreshStorageUsage();
      }
      found = storedMatch({ ...ref, config: parseKey(key!)!.config });
      if (!found) throw new Error(`${ref.repo}: the download finished but is not in browser storage`);
    }
    const name = displayName(found);
    setHubDataset({ busy: null });
    const files = await storedFiles(found.key, name);
    if (ticket === session.datasetTicket) await loadDatasetFile(files, name);
  } catch (e) {
    const why =
      e instanceof DownloadStopped
        ? `Stopped the download of ${ref.repo}. What arrived is kept: downloading again resumes from there.`
        : message(e);
    setHubDataset({ error: why });
  } finally {
    setHubDataset({ busy: null });
  }
}

export async function deleteStoredHubDataset(key: string): Promise<void> {
  try {
    await storage.deleteModelFiles(key);
  } catch (e) {
    setHubDataset({ error: message(e) });
  }
  await refreshStoredHubDatasets();
  void refreshStorageUsage();
}
