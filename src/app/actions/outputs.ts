/** What a run produces: pair scores, samples, and the exports (adapter, merged model, TRL script, metrics). */
import { metricsCsv, metricsJson } from '../../core/export/metrics';
import { downloadFile } from '../download';
import { engine } from '../engine';
import type { RunRecord } from '../../storage';
import type { ExportedFile } from '../../worker/protocol';
import { get, set } from '../store';
import { message, session } from './session';

export async function scorePairs(count: number): Promise<void> {
  set({ scoreBusy: true, scoreError: null });
  try {
    set({ scores: await engine().call('scorePairs', { config: get().config.dpo, count }) });
  } catch (e) {
    set({ scoreError: message(e) });
  } finally {
    set({ scoreBusy: false });
  }
}

/**
 * The token view of the pair on `line` under the active policy. With `follow`, a run in progress sends
 * it again at each logging step (events.ts puts it in the store); while a run trains the first view
 * comes at its next logging step.
 */
export async function showTokenRatios(line: number, follow: boolean): Promise<void> {
  set({ tokenRatiosBusy: true, tokenRatiosError: null, tokenFollow: follow ? { line } : null });
  try {
    const view = await engine().call('tokenRatios', { config: get().config.dpo, line, follow });
    if (view) set({ tokenRatios: view });
  } catch (e) {
    set({ tokenRatiosError: message(e) });
  } finally {
    set({ tokenRatiosBusy: false });
  }
}

export async function generateSamples(
  rowIndices: number[],
  freePrompt: string | null,
  maxNewTokens: number,
  temperature: number,
): Promise<void> {
  set({ sampleBusy: { label: 'generating', fraction: 0 }, sampleError: null });
  try {
    set({ samples: await engine().call('generate', { rowIndices, freePrompt, maxNewTokens, temperature, seed: get().config.dpo.seed }) });
  } catch (e) {
    set({ sampleError: message(e) });
  } finally {
    set({ sampleBusy: null });
  }
}

async function exportWith(label: string, work: () => Promise<ExportedFile>): Promise<void> {
  set({ exportBusy: label, exportError: null });
  try {
    const file = await work();
    downloadFile(file.fileName, file.blob);
  } catch (e) {
    set({ exportError: message(e) });
  } finally {
    set({ exportBusy: null });
  }
}

export function exportAdapter(): Promise<void> {
  return exportWith('packing the adapter', () => engine().call('exportAdapter', {}));
}

export function exportMerged(): Promise<void> {
  return exportWith('merging the adapter into the model', () => engine().call('exportMerged', {}));
}

export function exportTrl(): Promise<void> {
  const { config, model } = get();
  const modelName = session.modelSource?.kind === 'stored' ? session.modelSource.name : (model?.name ?? 'model');
  return exportWith('writing the TRL script', () => engine().call('exportTrl', { config: config.dpo, lora: config.lora, modelName }));
}

export function downloadMetrics(run: { name: string; history: RunRecord['history'] }, format: 'csv' | 'json'): void {
  const stem = run.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
  if (format === 'csv') downloadFile(`${stem}-metrics.csv`, metricsCsv(run.history), 'text/csv');
  else downloadFile(`${stem}-metrics.json`, metricsJson(run.history), 'application/json');
}
