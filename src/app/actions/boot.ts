/** Start-up: the worker, stored runs and settings, the demo model and dataset; theme and backend choice. */
import { backendName, engine } from '../engine';
import { DEFAULT_STUDIO_CONFIG, get, set, useStudio, type StudioConfig } from '../store';
import { applyTheme, savedTheme } from '../theme';
import { FIRST_VISIT_CONFIG } from './preset';
import { DEMO_DATASETS, loadDatasetFile, loadDemoDataset } from './dataset';
import { onEvent } from './events';
import { refreshStoredHubDatasets } from './hub-dataset';
import { loadModel, refreshStoredModels } from './model';
import { refreshRuns, refreshStorageUsage } from './runs';
import { storedDatasetFiles } from '../../storage';
import { demoModel, message, session, showStoredRun, storage, storedHubSource } from './session';

const CONFIG_KEY = 'dpo-studio-config';
/** The run the Train view showed and the dataset that was loaded: a reload opens on them again. */
const SHOWN_RUN_KEY = 'dpo-studio-shown-run';
const DATASET_KEY = 'dpo-studio-dataset';
/** The person's choice of WebAssembly over WebGPU (absent: WebGPU where there is one). */
const BACKEND_KEY = 'dpo-studio-backend';

/** The settings of the last session, over the defaults (a field added since falls back to its default). */
function savedConfig(): StudioConfig {
  try {
    const saved = JSON.parse(localStorage.getItem(CONFIG_KEY) ?? 'null') as Partial<StudioConfig> | null;
    if (!saved || typeof saved !== 'object') return FIRST_VISIT_CONFIG;
    return {
      dpo: { ...DEFAULT_STUDIO_CONFIG.dpo, ...saved.dpo },
      lora: { ...DEFAULT_STUDIO_CONFIG.lora, ...saved.lora },
      saveSteps: typeof saved.saveSteps === 'number' ? saved.saveSteps : DEFAULT_STUDIO_CONFIG.saveSteps,
    };
  } catch {
    return DEFAULT_STUDIO_CONFIG;
  }
}

/** Starts the worker, lists stored runs, and opens with the demo model and a demo dataset (or the interrupted run's). */
export async function boot(): Promise<void> {
  const theme = savedTheme();
  applyTheme(theme);
  set({ theme, config: savedConfig() });
  // Settings survive a reload, as runs do.
  useStudio.subscribe((s, prev) => {
    if (s.config !== prev.config) localStorage.setItem(CONFIG_KEY, JSON.stringify(s.config));
    if (s.training.runId && s.training.runId !== prev.training.runId) localStorage.setItem(SHOWN_RUN_KEY, s.training.runId);
    if (s.dataset && s.dataset.fingerprint !== prev.dataset?.fingerprint) localStorage.setItem(DATASET_KEY, s.dataset.fingerprint);
  });
  engine().subscribe(onEvent);
  // A tab put away may be discarded, and a closing one ends its worker: checkpoint a run in progress
  // at the end of its current step, so as little as possible is left to redo.
  const checkpointSoon = () => {
    if (get().training.state === 'running')
      void engine()
        .call('checkpointSoon', {})
        .catch(() => undefined);
  };
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') checkpointSoon();
  });
  window.addEventListener('pagehide', checkpointSoon);
  // 'cpu' is what earlier versions stored for the same choice.
  const preference = ['wasm', 'cpu'].includes(localStorage.getItem(BACKEND_KEY) ?? '') ? 'wasm' : 'auto';
  try {
    // ?webgpu-limits=default: the device gets WebGPU's default limits, as on many laptops.
    const limits = new URLSearchParams(location.search).get('webgpu-limits') === 'default' ? 'default' : 'adapter';
    const info = await engine().call('init', { backend: preference, limits });
    set({ engine: info });
    if (!info.webgpu.available) {
      set({
        notice:
          `No WebGPU in this browser, so training runs on ${backendName(info)}: the same numbers, only slower. ${info.webgpu.reason ?? ''}`.trim(),
      });
    }
  } catch (e) {
    set({ engineError: `The training engine could not start: ${message(e)}` });
    return;
  }
  const runs = await refreshRuns();
  void refreshStorageUsage();
  void refreshStoredModels();
  void refreshStoredHubDatasets();
  // An interrupted run first (it can resume), else the run the Train view last showed, with the
  // settings Configure held (they are the person's, kept above), not the run's.
  const unfinished = runs.find((r) => r.status === 'running' || r.status === 'paused');
  const lastShown = runs.find((r) => r.id === localStorage.getItem(SHOWN_RUN_KEY));
  if (unfinished) showStoredRun(unfinished);
  else if (lastShown) showStoredRun(lastShown, { keepConfig: true });
  const shown = unfinished ?? lastShown;
  const model = shown && shown.model.kind === 'hub' ? storedHubSource(shown.model.id, shown.model.name) : demoModel();
  await loadModel(model);
  // The interrupted run's dataset, else the one loaded last, when browser storage holds it.
  for (const fingerprint of [unfinished?.dataset.fingerprint, localStorage.getItem(DATASET_KEY)]) {
    if (!fingerprint || session.datasetTicket !== 0) continue;
    const stored = await storage.getDataset(fingerprint).catch(() => undefined);
    if (stored) await loadDatasetFile(storedDatasetFiles(stored), stored.name, stored.options);
  }
  if (session.datasetTicket === 0) await loadDemoDataset(DEMO_DATASETS[0].url, DEMO_DATASETS[0].name);
}

export function setTheme(theme: ReturnType<typeof get>['theme']): void {
  applyTheme(theme);
  set({ theme });
}

/** Switching the backend restarts the page: tfjs's tensors live on one backend. */
export function chooseBackend(backend: 'auto' | 'wasm'): void {
  if (backend === 'wasm') localStorage.setItem(BACKEND_KEY, 'wasm');
  else localStorage.removeItem(BACKEND_KEY);
  location.reload();
}
