/**
 * Resumable downloads from the Hugging Face Hub, shared by the studio (into browser storage) and the
 * CLI (into a cache folder): a file arrives a chunk at a time into a sink that keeps what arrived,
 * and a broken download resumes with an HTTP Range request from the bytes kept. Failures say what
 * to do: a gated repo (401/403) asks for a token, a missing one names itself, a busy or broken
 * connection is retried.
 *
 *   hubFetch(url, what, repo, options, headers?): Response        errors as the classes below
 *   downloadFile({ url, what, repo, path, size, sink, onKept }, options)
 */

/** The Hub's address; the CLI honours HF_ENDPOINT, as huggingface_hub does. */
export const HUB_ENDPOINT = 'https://huggingface.co';

/** A Hub repo id: owner/name. */
export const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The Hub refused a repo (HTTP 401 or 403): gated or private, and what to do about it in this front end. */
export class HubAccessError extends Error {
  override readonly name = 'HubAccessError';
  constructor(
    readonly repo: string,
    readonly status: number,
    readonly hadToken: boolean,
    /** Where the repo's page is, and how a token is given here ("paste it below", "set it as HF_TOKEN"). */
    where: { kind: 'model' | 'dataset'; tokenHint: string } = { kind: 'model', tokenHint: 'paste it below' },
  ) {
    const page = `huggingface.co/${where.kind === 'dataset' ? 'datasets/' : ''}${repo}`;
    super(
      hadToken
        ? status === 401
          ? `${repo}: the Hub did not accept the Hugging Face token (HTTP 401). Check it at huggingface.co/settings/tokens, ${where.tokenHint}, and retry.`
          : `${repo} is gated, and this token's account has no access yet (HTTP 403). Open ${page} signed in as that account, accept the license (some repos wait for approval), then retry.`
        : `${repo} is gated (HTTP ${status}): the Hub needs a Hugging Face access token. Accept the license on ${page} while signed in, create a read token at huggingface.co/settings/tokens, ${where.tokenHint}, and download again.`,
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
  /** The Hub's address (a mirror, or a local stand-in in tests); huggingface.co when not given. */
  endpoint?: string;
  /** Sent as Authorization: Bearer to huggingface.co; null for public repos. */
  token?: string | null;
  /** Stops the download (DownloadStopped), keeping what arrived. */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Immediate resumptions of a broken file before giving up (the next download resumes again). */
  retries?: number;
  /** Waits between resumptions (tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  /** What access errors say: a model's or a dataset's page, and how a token is given here. */
  access?: { kind: 'model' | 'dataset'; tokenHint: string };
}

export async function hubFetch(
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
  if (response.status === 401 || response.status === 403) throw new HubAccessError(repo, response.status, token !== null, options.access);
  if (response.status === 404) throw new Error(`${what}: not found on the Hub (HTTP 404); check the owner/name spelling`);
  if (response.status === 429 || response.status >= 500) throw new DownloadInterrupted(`${what}: the Hub answered HTTP ${response.status}`);
  if (!response.ok && response.status !== 416) throw new Error(`${what}: the Hub answered HTTP ${response.status} ${response.statusText}`);
  return response;
}

/** The first byte of a 206 answer's Content-Range ("bytes 500-999/1000" → 500), or null. */
function rangeStart(response: Response): number | null {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : null;
}

/** Where a download is kept: what arrived of each path survives an interruption. */
export interface DownloadSink {
  /** Bytes of `path` kept so far (0 for none). */
  keptBytes(path: string): Promise<number>;
  /** Writes `path` from byte `from` (0, or keptBytes to append to what is kept), chunk by chunk. */
  openWriter(path: string, from: number): Promise<{ write(chunk: Uint8Array): Promise<void>; close(): Promise<void> }>;
}

export interface FileJob {
  /** Where the file is fetched from. */
  url: string;
  /** How messages name it ("owner/name/config.json"). */
  what: string;
  /** The repo it belongs to (access errors name it). */
  repo: string;
  /** Its path in the sink. */
  path: string;
  /** Bytes, as the Hub lists it; null when unknown. */
  size: number | null;
  sink: DownloadSink;
  /** Bytes of this file kept so far, as they grow. */
  onKept: (bytes: number) => void;
}

/**
 * One attempt at a file: what is kept stays, the rest is asked for with Range: bytes=<kept>- and
 * appended as it arrives. Throws DownloadInterrupted when the connection breaks or closes early.
 */
async function downloadOnce(job: FileJob, options: HubOptions): Promise<void> {
  const { url, what, repo, path, size, sink, onKept } = job;
  let from = await sink.keptBytes(path);
  if (size !== null && from > size) from = 0; // not this file's bytes (the repo changed): start over
  onKept(from);
  if (size !== null && from === size) return;
  const response = await hubFetch(url, what, repo, options, from > 0 ? { Range: `bytes=${from}-` } : {});
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
  // Where the Hub lists no size, the answer's length tells a whole body from one cut short.
  const length = response.headers.get('content-encoding') ? null : Number(response.headers.get('content-length') ?? NaN);
  const expected = size ?? (length !== null && Number.isFinite(length) ? from + length : null);
  const reader = response.body.getReader();
  const writer = await sink.openWriter(path, from);
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
  if (expected !== null && kept < expected) {
    throw new DownloadInterrupted(`${what}: the connection closed after ${kept} of ${expected} bytes`);
  }
  if (size !== null && kept > size) throw new Error(`${what}: ${kept} bytes arrived, but the Hub lists ${size}`);
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A file into `job.sink`, resuming from what is kept after each interruption, `retries` times. */
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
