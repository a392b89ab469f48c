/**
 * `--dataset_name owner/name` in the CLI: the split's Parquet files from the Hub (HF_ENDPOINT, with
 * HF_TOKEN for gated datasets, as huggingface_hub reads them) into a cache folder under HF_HOME, each
 * file resumed from the bytes kept after an interruption. A split downloaded whole is read from the
 * cache without the network.
 */
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { downloadHubDataset, type DatasetProgress, type HubDatasetRef } from '../core/hub/datasets';
import type { DownloadSink } from '../core/hub/download';

/** Where downloaded splits are kept: $HF_HOME/dpo-studio/datasets (~/.cache/huggingface by default). */
export function datasetCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
  return join(home, 'dpo-studio', 'datasets');
}

/** The folder of one split: one level per name, each made safe as a folder name. */
function splitFolder(root: string, repo: string, config: string, split: string): string {
  const safe = (s: string) => encodeURIComponent(s).replace(/^\.+/, (dots) => '%2E'.repeat(dots.length));
  return join(root, safe(repo.replace('/', '--')), safe(config), safe(split));
}

/** Files written in place a chunk at a time; what arrived stays on the disk for the next attempt. */
function folderSink(dir: string): DownloadSink {
  return {
    async keptBytes(path) {
      return (await stat(join(dir, path)).catch(() => null))?.size ?? 0;
    },
    async openWriter(path, from) {
      await mkdir(dir, { recursive: true });
      const handle = await open(join(dir, path), from > 0 ? 'r+' : 'w');
      await handle.truncate(from);
      let position = from;
      return {
        async write(chunk) {
          await handle.write(chunk, 0, chunk.length, position);
          position += chunk.length;
        },
        async close() {
          await handle.close();
        },
      };
    },
  };
}

/** What a split downloaded whole records: its files in order. */
interface SplitManifest {
  repo: string;
  config: string;
  split: string;
  files: string[];
  downloadedAt: string;
}

const MANIFEST = 'files.json';

export interface HubDatasetFiles {
  /** How messages and row numbers name the split: "owner/name (config/split)". */
  name: string;
  paths: string[];
  /** True when the cache held it whole already. */
  cached: boolean;
}

/**
 * The split's Parquet files on this disk, downloaded (or resumed) where the cache does not hold them
 * whole. With `config` unset, a cached split of the "default" config is used if there is one.
 */
export async function fetchHubDataset(
  ref: HubDatasetRef,
  onProgress: (p: DatasetProgress) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<HubDatasetFiles> {
  const root = datasetCacheRoot(env);
  const split = ref.split ?? 'train';
  const cached = await readManifest(splitFolder(root, ref.repo, ref.config ?? 'default', split));
  if (cached) return cached;
  const staging = join(root, '.downloads', encodeURIComponent(`${ref.repo}|${ref.config ?? ''}|${split}`));
  const result = await downloadHubDataset(ref, folderSink(staging), onProgress, {
    endpoint: env.HF_ENDPOINT || undefined,
    token: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || null,
    access: { kind: 'dataset', tokenHint: 'set it as HF_TOKEN' },
  });
  const dir = splitFolder(root, ref.repo, result.config, result.split);
  const manifest: SplitManifest = {
    repo: ref.repo,
    config: result.config,
    split: result.split,
    files: result.paths,
    downloadedAt: new Date().toISOString(),
  };
  await writeFile(join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  // The whole split appears at once: a folder with a manifest is always complete.
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, '..'), { recursive: true });
  await rename(staging, dir);
  return { name: `${ref.repo} (${result.config}/${result.split})`, paths: result.paths.map((p) => join(dir, p)), cached: false };
}

async function readManifest(dir: string): Promise<HubDatasetFiles | null> {
  const text = await readFile(join(dir, MANIFEST), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const m = JSON.parse(text) as SplitManifest;
    return { name: `${m.repo} (${m.config}/${m.split})`, paths: m.files.map((f) => join(dir, f)), cached: true };
  } catch {
    return null;
  }
}
