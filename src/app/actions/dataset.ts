/** Loading preference files (with progress, newest request wins), previews and token statistics. */
import type { PromptSplit } from '../../core/data/extract-prompt';
import type { ReadOptions } from '../../core/data/read';
import { DEMO_DATASETS as DEMO_DATASET_FILES } from '../../core/demo/datasets';
import type { ColumnMapping } from '../../core/data/layouts';
import { engine, RefusedDatasetError } from '../engine';
import { get, set } from '../store';
import { leaveDemoPreset } from './preset';
import { message, session } from './session';

/** The demo preference sets served under /datasets/ (built with the demo model); the first opens at start. */
export const DEMO_DATASETS = DEMO_DATASET_FILES.map((d) => ({
  name: d.file,
  url: `/datasets/${d.file}`,
  title: d.title,
  about: d.description,
}));

let tokenStatsTimer: ReturnType<typeof setTimeout> | null = null;

/** The file the loaded dataset came from and how it was read, to read it again another way. */
let loaded: { files: Blob[]; name: string; options: ReadOptions } | null = null;
/** The last file refused for want of a valid pair, while its columns may still be mapped. */
let refused: { files: Blob[]; name: string; options: ReadOptions } | null = null;

/** A file (or a Hub split's Parquet files, in order) read in the worker as the dataset. */
export async function loadDatasetFile(file: Blob | Blob[], name: string, options: ReadOptions = {}): Promise<void> {
  const files = Array.isArray(file) ? file : [file];
  const ticket = ++session.datasetTicket;
  set({ datasetBusy: { label: `reading ${name}`, fraction: 0 }, datasetError: null });
  try {
    const summary = await engine().call('loadDataset', { files, name, options });
    if (ticket !== session.datasetTicket) return;
    loaded = { files, name, options };
    refused = null;
    set({
      dataset: summary,
      tokenStats: null,
      tokenError: null,
      preview: null,
      pairView: null,
      pairViewError: null,
      scores: null,
      samples: null,
      columnChoice: null,
    });
    // A Hub dataset's error is stale once another dataset loaded.
    set((s) => ({ hubDataset: { ...s.hubDataset, error: null } }));
    if (!DEMO_DATASETS.some((d) => d.name === name)) leaveDemoPreset(name);
    await showPreview(0);
    scheduleTokenStats(0);
  } catch (e) {
    if (ticket === session.datasetTicket) {
      // A table whose columns are not a known layout: offer to map them by hand.
      const columns = e instanceof RefusedDatasetError && e.columns.length >= 2 ? e.columns : null;
      refused = columns ? { files, name, options } : null;
      set({ datasetError: message(e), columnChoice: columns ? { name, columns } : null });
    }
  } finally {
    if (ticket === session.datasetTicket) set({ datasetBusy: null });
  }
}

/** The refused file, read again with its columns mapped to prompt (optional), chosen and rejected. */
export async function readWithColumns(columns: ColumnMapping): Promise<void> {
  if (!refused) return;
  await loadDatasetFile(refused.files, refused.name, { ...refused.options, columns });
}

/**
 * Reads the loaded file again with rows without a prompt split another way. Where no row survives
 * the new split, the dataset read before stays, and the error says why.
 */
export async function setPromptSplit(promptSplit: PromptSplit): Promise<void> {
  if (!loaded) return;
  const options: ReadOptions = { ...loaded.options };
  if (promptSplit === 'common_prefix') delete options.promptSplit;
  else options.promptSplit = promptSplit;
  await loadDatasetFile(loaded.files, loaded.name, options);
}

/** Reads the loaded file again keeping only rows whose rating margin is at least `margin` (null: every row). */
export async function setMinRatingMargin(margin: number | null): Promise<void> {
  if (!loaded) return;
  const options: ReadOptions = { ...loaded.options };
  if (margin === null) delete options.minRatingMargin;
  else options.minRatingMargin = margin;
  await loadDatasetFile(loaded.files, loaded.name, options);
}

export async function loadDemoDataset(url: string, name: string): Promise<void> {
  const before = session.datasetTicket;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    // A dev server answers a missing file with its index page.
    if (response.headers.get('content-type')?.startsWith('text/html')) throw new Error('it is not part of this build');
    const blob = await response.blob();
    // The person dropped a file while this was on its way: theirs wins.
    if (session.datasetTicket !== before) return;
    await loadDatasetFile(blob, name);
  } catch (e) {
    if (session.datasetTicket === before) set({ datasetError: `Could not load the demo dataset ${name}: ${message(e)}` });
  }
}

export const PREVIEW_PAGE = 8;

/** Counts page requests: only the newest one's reply is shown (a search of a large file takes a while). */
let previewRequests = 0;

/** A page of the rows, or of those whose text holds `query` (the search shown, when not given). */
export async function showPreview(page: number, query = get().preview?.query ?? ''): Promise<void> {
  const request = ++previewRequests;
  try {
    const preview = await engine().call('previewRows', { offset: page * PREVIEW_PAGE, count: PREVIEW_PAGE, query });
    if (request !== previewRequests || preview.superseded) return;
    set({ preview });
  } catch (e) {
    set({ datasetError: message(e) });
  }
}

/** Row `index` as the model sees it under the configured max_length, max_prompt_length and truncation mode. */
export async function showPairTokens(index: number | null): Promise<void> {
  if (index === null) {
    set({ pairView: null, pairViewError: null });
    return;
  }
  const { config, model } = get();
  if (!model) {
    set({ pairView: null, pairViewError: 'Load a model first: its tokenizer decides the tokens.' });
    return;
  }
  try {
    const pairView = await engine().call('pairTokens', {
      index,
      maxLength: config.dpo.max_length,
      maxPromptLength: config.dpo.max_prompt_length,
      truncationMode: config.dpo.truncation_mode,
    });
    set({ pairView, pairViewError: null });
  } catch (e) {
    set({ pairView: null, pairViewError: message(e) });
  }
}

/** Token statistics follow the model, the dataset, max_length and the truncation mode, a moment after they change. */
export function scheduleTokenStats(delayMs = 350): void {
  if (tokenStatsTimer) clearTimeout(tokenStatsTimer);
  tokenStatsTimer = setTimeout(() => void refreshTokenStats(), delayMs);
}

async function refreshTokenStats(): Promise<void> {
  const { model, dataset, config } = get();
  if (!model || !dataset) return;
  set({ tokenError: null });
  try {
    const stats = await engine().call('tokenStats', { maxLength: config.dpo.max_length, truncationMode: config.dpo.truncation_mode });
    set({ tokenStats: stats });
    const preview = get().preview;
    if (preview && preview.rows.some((r) => r.tokens === null)) await showPreview(Math.floor(preview.offset / PREVIEW_PAGE));
    // The pair shown follows the settings too.
    const shown = get().pairView;
    if (shown) await showPairTokens(shown.index);
  } catch (e) {
    set({ tokenError: message(e) });
  } finally {
    set({ tokenBusy: null });
  }
}
