import { create } from 'zustand';
import { DEFAULT_DPO_CONFIG, DEFAULT_LORA_CONFIG, type DPOConfig } from '../core/config';
import type { PairView } from '../core/data/pair-view';
import type { LogEntry } from '../core/dpo/trainer';
import type { LoraConfig } from '../core/model/types';
import type {
  DatasetSummary,
  EngineInfo,
  GpuFailureInfo,
  ModelInfo,
  PairScores,
  TokenRatioView,
  PreviewRow,
  Sample,
  TokenStats,
  TrainState,
} from '../worker/protocol';
import { DEFAULT_SAVE_STEPS, type RunRecord } from '../storage';
import { withRunNames } from './format';
import { DEFAULT_MEMORY_BUDGET } from './memory';

/** Where the person's memory budget is kept between visits. */
export const MEMORY_BUDGET_KEY = 'dpo-studio.memoryBudget';

function storedMemoryBudget(): number {
  const stored = typeof localStorage === 'undefined' ? null : Number(localStorage.getItem(MEMORY_BUDGET_KEY));
  return stored && Number.isFinite(stored) && stored > 0 ? stored : DEFAULT_MEMORY_BUDGET;
}

export type Section = 'dataset' | 'model' | 'configure' | 'train' | 'runs' | 'samples' | 'lab' | 'export';

export type ThemeChoice = 'system' | 'light' | 'dark';

/** Work in progress with a label, and a fraction when its size is known. */
export interface Busy {
  label: string;
  fraction: number | null;
}

/** The studio's settings for a run: TRL's DPOConfig plus the LoRA adapter and checkpointing. */
export interface StudioConfig {
  dpo: DPOConfig;
  lora: LoraConfig;
  /** Checkpoint every N optimizer steps (TrainingArguments' save_steps). */
  saveSteps: number;
}

/**
 * The schema's defaults (core/config: TRL's, with a LoRA learning rate of 5e-5 instead of TRL's 1e-6),
 * except logging every step: logging changes no number (metrics are averaged over the interval), and
 * live charts want points. LoRA defaults are TRL's example scripts' (r 16, α 32, dropout 0.05).
 */
export const DEFAULT_STUDIO_CONFIG: StudioConfig = {
  dpo: { ...DEFAULT_DPO_CONFIG, logging_steps: 1 },
  lora: DEFAULT_LORA_CONFIG,
  saveSteps: DEFAULT_SAVE_STEPS,
};

export interface TrainingView {
  runId: string | null;
  state: TrainState | 'idle' | 'interrupted';
  step: number;
  totalSteps: number;
  secondsPerStep: number | null;
  tokensPerSecond: number | null;
  message: string | null;
  /** Asked to pause: the current step finishes first. */
  pausing: boolean;
  checkpoint: { step: number; error: string | null } | null;
  history: LogEntry[];
  /** The step under way and when it began (epoch ms): the Train view shows the time elapsed within it. */
  current: { step: number; startedAt: number } | null;
  /** The GPU failure that ended the run: what was being done, the device's words, what to change. */
  failure: GpuFailureInfo | null;
  /** The memory plan's total for this run's settings (bytes), set when it starts. */
  plannedBytes: number | null;
  /** Measured by the worker: the most tensor memory held at once, and the WebGPU buffer pool (null on the CPU). */
  memory: { peakBytes: number; gpuBytes: number | null } | null;
}

/** A Hub dataset split kept in browser storage. */
export interface StoredHubDataset {
  key: string;
  repo: string;
  config: string;
  split: string;
  bytes: number;
}

export interface StudioState {
  section: Section;
  theme: ThemeChoice;
  engine: EngineInfo | null;
  engineError: string | null;

  model: ModelInfo | null;
  modelBusy: Busy | null;
  modelError: string | null;
  adapterError: string | null;

  dataset: DatasetSummary | null;
  datasetBusy: Busy | null;
  datasetError: string | null;
  tokenStats: TokenStats | null;
  tokenBusy: Busy | null;
  tokenError: string | null;
  preview: { offset: number; total: number; query: string; rows: PreviewRow[] } | null;
  /** One pair as the model sees it (the row the person opened), or why it could not be shown. */
  pairView: PairView | null;
  pairViewError: string | null;
  /** A refused file whose columns the person can map to prompt / chosen / rejected. */
  columnChoice: { name: string; columns: string[] } | null;

  config: StudioConfig;
  /** Text a number field could not read, by field name: shown next to it, and it blocks Train. */
  parseErrors: Record<string, string>;

  training: TrainingView;
  trainError: string | null;
  /** The memory budget (bytes) the plan is checked against before Train is offered. */
  memoryBudget: number;

  runs: RunRecord[];
  compare: string[];
  /** A duplicated run, not started yet, whose settings Configure shows: Train starts it. */
  draftRunId: string | null;
  storage: { usage: number; quota: number } | null;

  scores: PairScores | null;
  scoreBusy: boolean;
  scoreError: string | null;
  /** The token view of one pair, what asks for it, and whether it follows the run at each logging step. */
  tokenRatios: TokenRatioView | null;
  tokenRatiosBusy: boolean;
  tokenRatiosError: string | null;
  tokenFollow: { line: number } | null;
  /** Whether a token view asked for follows a run's logging steps (the view's checkbox). */
  followTokens: boolean;
  samples: Sample[] | null;
  sampleBusy: Busy | null;
  sampleError: string | null;

  exportBusy: string | null;
  exportError: string | null;
  /** Something the person should know that belongs to no panel (a worker crash, a storage warning). */
  notice: string | null;
  /** The settings left the demo preset for TRL's defaults when this model or dataset loaded (Configure says so, with an undo). */
  presetSwitch: { from: string } | null;
  /** The worker's GPU device was lost: nothing more runs on it until the page is reloaded. */
  gpuLost: GpuFailureInfo | null;
  hub: { repo: string; busy: Busy | null; error: string | null; stored: { key: string; bytes: number }[] };
  /** Datasets from the Hub: the download under way, its error, and the splits kept in this browser. */
  hubDataset: { busy: Busy | null; error: string | null; downloading: boolean; stored: StoredHubDataset[] };
}

export const IDLE_TRAINING: TrainingView = {
  runId: null,
  state: 'idle',
  step: 0,
  totalSteps: 0,
  secondsPerStep: null,
  tokensPerSecond: null,
  message: null,
  pausing: false,
  checkpoint: null,
  history: [],
  current: null,
  failure: null,
  plannedBytes: null,
  memory: null,
};

export const useStudio = create<StudioState>(() => ({
  section: 'dataset',
  theme: 'system',
  engine: null,
  engineError: null,
  model: null,
  modelBusy: null,
  modelError: null,
  adapterError: null,
  dataset: null,
  datasetBusy: null,
  datasetError: null,
  tokenStats: null,
  tokenBusy: null,
  tokenError: null,
  preview: null,
  pairView: null,
  pairViewError: null,
  columnChoice: null,
  config: DEFAULT_STUDIO_CONFIG,
  parseErrors: {},
  training: IDLE_TRAINING,
  trainError: null,
  memoryBudget: storedMemoryBudget(),
  runs: [],
  compare: [],
  draftRunId: null,
  storage: null,
  scores: null,
  scoreBusy: false,
  scoreError: null,
  tokenRatios: null,
  tokenRatiosBusy: false,
  tokenRatiosError: null,
  tokenFollow: null,
  followTokens: true,
  samples: null,
  sampleBusy: null,
  sampleError: null,
  exportBusy: null,
  exportError: null,
  notice: null,
  presetSwitch: null,
  gpuLost: null,
  hub: { repo: '', busy: null, error: null, stored: [] },
  hubDataset: { busy: null, error: null, downloading: false, stored: [] },
}));

export const set = useStudio.setState;
export const get = useStudio.getState;

/** A policy label from the worker with each saved run named as the Runs table names it (withRunNames). */
export function usePolicyLabel(label: string): string {
  const runs = useStudio((s) => s.runs);
  return withRunNames(label, runs);
}
