/**
 * Downloads a model repo from the Hugging Face Hub: config, tokenizer files and safetensors weights
 * (one file or an index and its shards), straight into browser storage a chunk at a time, with byte
 * progress. A broken download resumes with an HTTP Range request from the bytes already kept (at once
 * a few times, and on the next click after that). Gated repos take a Hugging Face access token, kept
 * in this browser only. The page does this (not the worker) so the page's Content-Security-Policy
 * governs where it may connect.
 */
import type { ModelStaging } from '../storage';
import { confinedPath } from '../core/model/sources';
import { downloadFile as downloadHubFile, HUB_ENDPOINT as HUB, hubFetch, REPO_PATTERN, type HubOptions } from '../core/hub/download';

export { DownloadInterrupted, DownloadStopped, HubAccessError, REPO_PATTERN, type HubOptions } from '../core/hub/download';

const WANTED_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'model.safetensors.index.json',
  'model.safetensors',
];

const TOKEN_KEY = 'dpo-studio.hf-token';

/** The Hugging Face token this browser keeps (localStorage), or null. */
export function savedHubToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null;
  }
}

/** Keeps `token` in this browser's localStorage (it is sent to huggingface.co only); null forgets it. */
export function saveHubToken(token: string | null): void {
  if (token?.trim()) localStorage.setItem(TOKEN_KEY, token.trim());
  else localStorage.removeItem(TOKEN_KEY);
}

/** A file's download URL; a path that would leave the repo (".." and the like) is refused. */
export function fileUrl(repo: string, path: string): string {
  return `${HUB}/${repo}/resolve/main/${confinedPath(path, repo).split('/').map(encodeURIComponent).join('/')}`;
}

interface Sibling {
  rfilename: string;
  size?: number;
}

/** Every file of the repo, with sizes where the Hub reports them, after checking the model files are there. */
async function listFiles(repo: string, options: HubOptions): Promise<Sibling[]> {
  const response = await hubFetch(`${HUB}/api/models/${repo}?blobs=true`, repo, repo, options);
  const info = (await response.json()) as { siblings?: Sibling[] };
  const siblings = info.siblings ?? [];
  const names = new Set(siblings.map((s) => s.rfilename));
  if (!names.has('config.json')) throw new Error(`${repo} has no config.json at its root: not a transformers model repo`);
  if (!names.has('model.safetensors') && !names.has('model.safetensors.index.json')) {
    throw new Error(
      `${repo} has no safetensors weights (model.safetensors or model.safetensors.index.json); PyTorch .bin files cannot be read`,
    );
  }
  if (!names.has('tokenizer.json')) throw new Error(`${repo} has no tokenizer.json (a fast tokenizer file is needed)`);
  return siblings;
}

export interface ModelFileJob {
  repo: string;
  path: string;
  /** Bytes, as the Hub lists it; null when unknown. */
  size: number | null;
  staging: ModelStaging;
  /** Bytes of this file kept so far, as they grow. */
  onKept: (bytes: number) => void;
}

/** A model repo's file into `job.staging`, resuming from what is kept (see core/hub/download.ts). */
export function downloadFile(job: ModelFileJob, options: HubOptions = {}): Promise<void> {
  const { repo, path, size, staging, onKept } = job;
  return downloadHubFile({ url: fileUrl(repo, path), what: `${repo}/${path}`, repo, path, size, sink: staging, onKept }, options);
}

export interface HubProgress {
  file: string;
  /** Bytes kept, counting what earlier attempts kept. */
  loaded: number;
  /** 0 when the Hub did not report sizes. */
  total: number;
}

/**
 * Every file the studio needs from `repo`, into `staging` (resuming what an earlier attempt kept),
 * committed as the stored model once all are complete. Returns the files' paths.
 */
export async function downloadHubModel(
  repo: string,
  staging: ModelStaging,
  onProgress: (p: HubProgress) => void,
  options: HubOptions = {},
): Promise<string[]> {
  if (!REPO_PATTERN.test(repo))
    throw new Error(`"${repo}" is not a Hub repo id; write it as owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct`);
  const siblings = await listFiles(repo, options);
  const sizeOf = (path: string) => siblings.find((s) => s.rfilename === path)?.size ?? null;
  const wanted = WANTED_FILES.filter((name) => siblings.some((s) => s.rfilename === name));
  // With a single weights file, a stray index is not needed.
  const files = wanted.includes('model.safetensors') ? wanted.filter((f) => f !== 'model.safetensors.index.json') : wanted;
  const kept = new Map<string, number>();
  let total = files.reduce((n, f) => n + (sizeOf(f) ?? 0), 0);
  const fetchFile = (path: string) =>
    downloadFile(
      {
        repo,
        path,
        size: sizeOf(path),
        staging,
        onKept: (bytes) => {
          kept.set(path, bytes);
          onProgress({ file: path, loaded: [...kept.values()].reduce((a, b) => a + b, 0), total });
        },
      },
      options,
    );
  for (const f of files) await fetchFile(f);
  const all = [...files];
  if (files.includes('model.safetensors.index.json')) {
    const index = await staging.readText('model.safetensors.index.json');
    const map = (JSON.parse(index ?? '{}') as { weight_map?: Record<string, string> }).weight_map ?? {};
    const shards = [...new Set(Object.values(map))];
    if (shards.length === 0) throw new Error(`${repo}/model.safetensors.index.json lists no weight files`);
    total += shards.reduce((n, f) => n + (sizeOf(f) ?? 0), 0);
    for (const shard of shards) await fetchFile(shard);
    all.push(...shards);
  }
  await staging.commit(all);
  return all;
}
