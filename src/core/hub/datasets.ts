/**
 * Preference datasets from the Hugging Face Hub by name: the Hub converts every dataset to Parquet and
 * lists those files per config and split (GET /api/datasets/<owner>/<name>/parquet). A split's files
 * are downloaded in order into a sink (browser storage in the studio, a cache folder in the CLI),
 * each resumable from the bytes kept, then read as one table.
 *
 *   listParquetFiles({ repo, config?, split? }, options): { config, split, files }
 *   downloadHubDataset(ref, sink, onProgress, options): { config, split, paths }
 */
import { downloadFile, HUB_ENDPOINT, hubFetch, REPO_PATTERN, type DownloadSink, type HubOptions } from './download';

/** A dataset on the Hub: owner/name, and which config and split (TRL's dataset_config, dataset_train_split). */
export interface HubDatasetRef {
  repo: string;
  /** The only config, or "default", when not given. */
  config?: string;
  /** "train" when not given. */
  split?: string;
}

export interface ParquetListing {
  config: string;
  split: string;
  /** The split's Parquet files in order: where each is fetched from, and its name in the sink. */
  files: { url: string; path: string }[];
}

/** Parquet listing: config → split → URLs of that split's files. */
type ParquetIndex = Record<string, Record<string, string[]>>;

/** Access errors name the dataset's page, and say how a token is given where the caller runs. */
function asDataset(options: HubOptions): HubOptions {
  return { ...options, access: { kind: 'dataset', tokenHint: options.access?.tokenHint ?? 'paste it below' } };
}

function endpointOf(options: HubOptions): string {
  return (options.endpoint ?? HUB_ENDPOINT).replace(/\/+$/, '');
}

function list(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

/** The Parquet files of a dataset's split, after checking the repo id, the config and the split. */
export async function listParquetFiles(ref: HubDatasetRef, given: HubOptions = {}): Promise<ParquetListing> {
  const { repo } = ref;
  const options = asDataset(given);
  if (!REPO_PATTERN.test(repo)) {
    throw new Error(`"${repo}" is not a Hub dataset id; write it as owner/name, e.g. trl-lib/ultrafeedback_binarized`);
  }
  const endpoint = endpointOf(options);
  const response = await hubFetch(`${endpoint}/api/datasets/${repo}/parquet`, `dataset ${repo}`, repo, options);
  let index: ParquetIndex;
  try {
    index = (await response.json()) as ParquetIndex;
  } catch (e) {
    throw new Error(`dataset ${repo}: the Hub's Parquet listing is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const configs = index && typeof index === 'object' ? Object.keys(index) : [];
  if (configs.length === 0) {
    throw new Error(
      `dataset ${repo} has no Parquet files on the Hub (the Hub converts datasets to Parquet unless they are script-based or failed to convert); download its files and pass one with --data instead`,
    );
  }
  let config = ref.config;
  if (config === undefined) {
    if (configs.length === 1) config = configs[0];
    else if (configs.includes('default')) config = 'default';
    else throw new Error(`dataset ${repo} has ${configs.length} configs (${list(configs)}); name one of them as the config`);
  } else if (!configs.includes(config)) {
    throw new Error(`dataset ${repo} has no config "${config}"; it has ${list(configs)}`);
  }
  const splits = Object.keys(index[config] ?? {});
  const split = ref.split ?? 'train';
  const urls = index[config]?.[split];
  if (!Array.isArray(urls) || urls.length === 0) {
    throw new Error(`dataset ${repo} (config "${config}") has no split "${split}"; it has ${list(splits) || 'none'}`);
  }
  const origin = new URL(endpoint).origin;
  const files = urls.map((url, i) => {
    // Only the Hub itself is asked for the files (its answer could name any host).
    const parsed = new URL(url, endpoint);
    if (parsed.origin !== origin) throw new Error(`dataset ${repo}: the Hub listed a Parquet file on another host (${parsed.origin})`);
    return { url: parsed.href, path: `${String(i).padStart(4, '0')}.parquet` };
  });
  return { config, split, files };
}

export interface DatasetProgress {
  /** 1-based index of the file coming in, of `files`. */
  file: number;
  files: number;
  /** Bytes kept of every file so far. */
  loaded: number;
}

/** A split's Parquet files into a sink, each resumed from what is kept. Returns the sink paths in order. */
export async function downloadHubDataset(
  ref: HubDatasetRef,
  /** Where the files go, or how to find that once the config and split are known. */
  sinkFor: DownloadSink | ((listing: ParquetListing) => Promise<DownloadSink>),
  onProgress: (p: DatasetProgress) => void,
  given: HubOptions = {},
): Promise<ParquetListing & { paths: string[] }> {
  const options = asDataset(given);
  const listing = await listParquetFiles(ref, options);
  const sink = typeof sinkFor === 'function' ? await sinkFor(listing) : sinkFor;
  const kept = new Map<string, number>();
  const total = () => [...kept.values()].reduce((a, b) => a + b, 0);
  for (const [i, file] of listing.files.entries()) {
    await downloadFile(
      {
        url: file.url,
        what: `${ref.repo} (${listing.config}/${listing.split}) file ${i + 1} of ${listing.files.length}`,
        repo: ref.repo,
        path: file.path,
        size: null,
        sink,
        onKept: (bytes) => {
          kept.set(file.path, bytes);
          onProgress({ file: i + 1, files: listing.files.length, loaded: total() });
        },
      },
      options,
    );
  }
  return { ...listing, paths: listing.files.map((f) => f.path) };
}
