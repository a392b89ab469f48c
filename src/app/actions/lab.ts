/** What every lab experiment starts from: the demo model, the colour task and the demo preset. */
import { DEMO_PRESET } from '../../core/demo/preset';
import { get, set } from '../store';
import { DEMO_DATASETS, loadDemoDataset, scheduleTokenStats } from './dataset';
import { loadDemoModel } from './model';

/** The demo preset's settings, keeping the current checkpoint interval. */
export function applyDemoPreset(): void {
  set((s) => ({ config: { ...s.config, dpo: { ...DEMO_PRESET.dpo }, lora: { ...DEMO_PRESET.lora } }, parseErrors: {}, draftRunId: null }));
  scheduleTokenStats();
}

/** Loads the demo model (unless it is loaded) and the named demo dataset, then applies the preset. */
export async function prepareDemoExperiment(datasetFile = 'colors-train.jsonl'): Promise<void> {
  const demo = DEMO_DATASETS.find((d) => d.name === datasetFile);
  if (!demo) throw new Error(`no demo dataset named ${datasetFile}`);
  if (get().model?.id !== 'demo') await loadDemoModel();
  if (get().dataset?.name !== demo.name) await loadDemoDataset(demo.url, demo.name);
  applyDemoPreset();
}
