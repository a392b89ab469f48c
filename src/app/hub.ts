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

const HUB = 'https://huggingface.co';

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

export const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

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

/** The Hub refused a repo (HTTP 401 or 403): gated or private, and what to do about it. */
export class HubAccessError extends Error {
  override readonly name = 'HubAccessError';
  constructor(
    readonly repo: string,
    readonly status: number,
    readonly hadToken: boolean,
  ) {
    super(
      hadToken
        ? status === 401
          ? `${repo}: the Hub did not accept the Hugging Face token (HTTP 401). Check it at huggingface.co/settings/tokens, paste it again, and retry.`
          : `${repo} is gated, and this token's account has no access yet (HTTP 403). Open huggingface.co/${repo} signed in as that account, accept the license (some repos wait for approval), then retry.`
        : `${repo} is gated (HTTP ${status}): the Hub needs a Hugging Face access token. Accept the license on huggingface.co/${repo} while signed in, create a read token at huggingface.co/settings/tokens, paste it below, and download again.`,
    );
  }
}

/** A failure worth retrying from the bytes kept: the connection broke, closed early, or the Hub was busy. */
export class DownloadInterrupted extends Error {
  override readonly name = 'DownloadInterrupted';
}

/** The person stopped the download; what arrived is kept for the next one to resume from. */
export class DownloadStopped extends Error {
  override readonly name = 'DownloadStopped';
}

export interface HubOptions {
  /** Sent as Authorization: Bearer to huggingface.co; null for public repos. */
  token?: string | null;
  /** Stops the download (DownloadStopped), keeping what arrived. */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Immediate resumptions of a broken file before giving up (the next download resumes again). */
  retries?: number;
  /** Waits between resumptions (tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
}

/** A file's download URL; a path that would leave the repo (".." and the like) is refused. */
export function fileUrl(repo: string, path: string): string {
  return `${HUB}/${repo}/resolve/main/${confinedPath(path, repo).split('/').map(encodeURIComponent).join('/')}`;
}

async function hubFetch(
  url: string,
  what: string,
  repo: string,
  options: HubOptions,
  headers: Record<string, string> = {},
): Promise<Response> {
  const token = options.token ?? null;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      credentials: 'omit',
      headers: token ? { ...headers, Authorization: `Bearer ${token}` } : headers,
      signal: options.signal,
    });
  } catch (e) {
    if (options.signal?.aborted) throw new DownloadStopped(`the download of ${what} was stopped`);
    throw new DownloadInterrupted(
      `could not reach the Hugging Face Hub for ${what} (offline, or blocked): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (response.status === 401 || response.status === 403) throw new HubAccessError(repo, response.status, token !== null);
  if (response.status === 404) throw new Error(`${what}: not found on the Hub (HTTP 404); check the owner/name spelling`);
  if (response.status === 429 || response.status >= 500) throw new DownloadInterrupted(`${what}: the Hub answered HTTP ${response.status}`);
  if (!response.ok && response.status !== 416) throw new Error(`${what}: the Hub answered HTTP ${response.status} ${response.statusText}`);
  return response;
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

/** The first byte of a 206 answer's Content-Range ("bytes 500-999/1000" → 500), or null. */
function rangeStart(response: Response): number | null {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : null;
}

export interface FileJob {
  repo: string;
  path: string;
  /** Bytes, as the Hub lists it; null when unknown. */
  size: number | null;
  staging: ModelStaging;
  /** Bytes of this file kept so far, as they grow. */
  onKept: (bytes: number) => void;
}

/**
 * One attempt at a file: what is kept stays, the rest is asked for with Range: bytes=<kept>- and
 * appended as it arrives. Throws DownloadInterrupted when the connection breaks or closes early.
 */
async function downloadOnce(job: FileJob, options: HubOptions): Promise<void> {
  const { repo, path, size, staging, onKept } = job;
  let from = await staging.keptBytes(path);
  if (size !== null && from > size) from = 0; // not this file's bytes (the repo changed): start over
  onKept(from);
  if (size !== null && from === size) return;
  const what = `${repo}/${path}`;
  const response = await hubFetch(fileUrl(repo, path), what, repo, options, from > 0 ? { Range: `bytes=${from}-` } : {});
  if (response.status === 416) {
    // Nothing past what is kept: complete when the size was unknown.
    if (from > 0 && size === null) return;
    throw new Error(`${what}: the Hub refused the range from byte ${from} (HTTP 416)`);
  }
  if (response.status === 206) {
    // A cross-origin answer may hide Content-Range (not exposed by CORS): a 206 to bytes=<from>- is that range.
    const start = rangeStart(response);
    if (start !== null && start !== from) throw new Error(`${what}: the Hub answered a range that does not start at byte ${from}`);
  } else {
    from = 0; // the whole file came back (no range support): keep it from the start
  }
  if (!response.body) throw new Error(`${what}: the Hub's answer has no body`);
  const reader = response.body.getReader();
  const writer = await staging.openWriter(path, from);
  let kept = from;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (options.signal?.aborted) throw new DownloadStopped(`the download of ${what} was stopped after ${kept} bytes`);
        throw new DownloadInterrupted(
          `${what}: the download broke off after ${kept} bytes (${e instanceof Error ? e.message : String(e)})`,
        );
      }
      if (chunk.done) break;
      await writer.write(chunk.value);
      kept += chunk.value.length;
      onKept(kept);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  } finally {
    // What arrived is kept, also after a failure: the next attempt resumes from it.
    await writer.close();
  }
  if (size !== null && kept < size) throw new DownloadInterrupted(`${what}: the connection closed after ${kept} of ${size} bytes`);
  if (size !== null && kept > size) throw new Error(`${what}: ${kept} bytes arrived, but the Hub lists ${size}`);
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A file into `job.staging`, resuming from what is kept after each interruption, `retries` times. */
export async function downloadFile(job: FileJob, options: HubOptions = {}): Promise<void> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await downloadOnce(job, options);
    } catch (e) {
      if (!(e instanceof DownloadInterrupted) || attempt >= retries || options.signal?.aborted) throw e;
      await (options.sleep ?? wait)(1000 * 2 ** attempt);
    }
  }
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
