/**
 * The typed message protocol between the studio page and its training worker.
 *
 * The page sends commands; each carries an id and gets exactly one `reply` (its result, or an error
 * message). Long work also streams events that are not replies: progress, training status, log
 * entries, checkpoints. The page never computes a loss; it renders what these messages carry.
 */
import type { ModelShape } from '../core/train/memory-plan';
import type { PromptSplit } from '../core/data/extract-prompt';
import type { DatasetLayout } from '../core/data/layouts';
import type { ReadOptions } from '../core/data/read';
import type { PairView } from '../core/data/pair-view';
import type { DataIssue, DatasetFormat, PreferenceRow, Text, TruncationMode } from '../core/data/types';
import type { DPOConfig } from '../core/dpo/config';
import type { PairGradient } from '../core/dpo/pair-gradients';
import type { GpuFailureInfo } from '../core/gpu';
import type { WebGpuLimits } from '../core/gpu/webgpu-backend';
import type { LogEntry } from '../core/dpo/trainer';
import type { Architecture, LoraConfig } from '../core/model/types';

export type { GpuFailureInfo, LogEntry };

/** Which tfjs backend the worker should use: WebGPU when the browser has it, or WebAssembly on request. */
export type BackendPreference = 'auto' | 'wasm';

/** The WebGPU device's limits: the adapter's own, or WebGPU's defaults (128 MiB binding, 256 MiB buffer). */
export type { WebGpuLimits };

export interface WebGpuInfo {
  available: boolean;
  vendor: string;
  architecture: string;
  description: string;
  /** Why WebGPU is not used, in words a person can act on. */
  reason?: string;
  /** The largest storage buffer one binding may hold (bytes): the device's, once it is started. */
  maxStorageBufferBindingSize?: number;
  /** The largest buffer the device may create (bytes). */
  maxBufferSize?: number;
  /** Which limits the device was asked for. */
  limits?: WebGpuLimits;
}

/** tfjs's WebAssembly backend as it started: SIMD, and threads where the page is cross-origin isolated. */
export interface WasmInfo {
  simd: boolean;
  threads: number;
  /** Whether the page is cross-origin isolated: without it, one thread. */
  isolated: boolean;
}

export interface EngineInfo {
  /** WebGPU; else tfjs's WebAssembly backend; the pure-JavaScript CPU backend only where WebAssembly fails. */
  backend: 'webgpu' | 'wasm' | 'cpu';
  webgpu: WebGpuInfo;
  /** Set on the WebAssembly backend. */
  wasm?: WasmInfo;
  /** Fused WGSL kernels on WebGPU, composed tfjs ops elsewhere. */
  kernels: 'fused' | 'composed';
}

/** Where a model comes from. File objects survive structured cloning, so a folder pick travels as is. */
export type ModelSource =
  | { kind: 'url'; id: string; name: string; baseUrl: string }
  | { kind: 'files'; id: string; name: string; files: File[] }
  | { kind: 'stored'; id: string; name: string };

export interface AdapterSummary {
  name: string;
  r: number;
  lora_alpha: number;
  targetModules: string[];
  modules: number;
  parameters: number;
}

export interface ModelInfo {
  /** Stable key of the source: "demo", "hub:owner/name", "folder:name". Runs remember it. */
  id: string;
  name: string;
  architecture: Architecture;
  modelType: string;
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocabSize: number;
  maxPositions: number;
  tiedEmbeddings: boolean;
  parameters: number;
  /** Distinct names of the linear modules LoRA may adapt ("q_proj", …), in model order. */
  linearModuleNames: string[];
  /**
   * For each of those names, Σ (in + out features) over every module of that name: LoRA of rank r on
   * it trains r times this many parameters.
   */
  linearModuleFeatures: Record<string, number>;
  /** PEFT's default LoRA targets for this architecture. */
  defaultTargets: string[];
  tokenizer: { vocabSize: number; eosToken: string | null; padTokenId: number | null; chatTemplate: boolean };
  /** An adapter that came with the model folder or was loaded afterwards; training starts from it. */
  startAdapter: AdapterSummary | null;
  /** What the memory plan reads of the model: one layer's linears, q/k norms, sizes. */
  shape: ModelShape;
}

export interface DatasetSummary {
  name: string;
  bytes: number;
  fingerprint: string;
  format: DatasetFormat | null;
  formatCounts: Partial<Record<DatasetFormat, number>>;
  /** The source columns' layout (prompt/chosen/rejected, SHP, stack-exchange-paired, …). */
  layout: DatasetLayout | null;
  rows: number;
  /** Whether the rows stay in the file and are read when needed (a file too large to hold). */
  onDemand: boolean;
  identicalPairs: number;
  /** How rows without a prompt field were split into prompt and completions. */
  promptSplit: PromptSplit;
  /** The columns that rate chosen and rejected, when the file has them, and the margin rows were filtered by. */
  ratingColumns: readonly [string, string] | null;
  minRatingMargin: number | null;
  /** Valid rows whose prompt was implicit (split off chosen and rejected). */
  implicitPrompts: number;
  /** Implicit string prompts that end inside a word, and the first few of their lines. */
  midWordPrompts: number;
  midWordLines: number[];
  /** The first of them: how its prompt ends and its chosen answer starts. */
  midWordExample: { line: number; promptEnd: string; chosenStart: string } | null;
  /** Every problem, in line order (the page pages and downloads them). */
  issues: DataIssue[];
}

export interface Histogram {
  /** Lower edge of each bin; bins have equal width. */
  edges: number[];
  width: number;
  prompt: number[];
  chosen: number[];
  rejected: number[];
}

/** Token statistics of the loaded dataset under the loaded tokenizer and a max_length. */
export interface TokenStats {
  maxLength: number | null;
  truncationMode: TruncationMode;
  pairs: number;
  /** Pairs whose prompt alone reaches max_length (keep_start): TRL drops them. */
  dropped: number;
  /** Pairs with a prompt+completion sequence longer than max_length: cut by the collator. */
  truncated: number;
  mismatches: number;
  failed: number;
  longest: { prompt: number; chosen: number; rejected: number };
  histogram: Histogram;
  /** Tokenization problems (dropped, failed, prefix mismatches), with lines. */
  issues: DataIssue[];
}

export interface PreviewRow {
  /** Index among the dataset's valid rows. */
  index: number;
  line: number;
  prompt: string;
  chosen: string;
  rejected: string;
  identical: boolean;
  /** Token counts when a tokenizer has seen the row. */
  tokens: { prompt: number; chosen: number; rejected: number } | null;
}

/** Settings of a run beyond DPOConfig. */
export interface RunSpec {
  runId: string;
  config: DPOConfig;
  lora: LoraConfig;
  /** Checkpoint every this many optimizer steps (and on pause and stop). */
  saveSteps: number;
  /** Continue from the run's latest checkpoint instead of starting at step 0. */
  resume: boolean;
  /**
   * The run's own pairs (a lab experiment's), read for this run only: the dataset loaded in the studio
   * stays as it is. Absent: the loaded dataset.
   */
  dataset?: { file: Blob; name: string };
}

export type TrainState = 'preparing' | 'running' | 'paused' | 'stopped' | 'finished' | 'failed';

export interface PairScore {
  line: number;
  policyChosen: number;
  policyRejected: number;
  referenceChosen: number;
  referenceRejected: number;
  loss: number;
}

export interface PairScores {
  /** What the policy was: "run 3 (step 40)", "adapter.zip", "base model". */
  policy: string;
  split: 'eval' | 'train';
  pairs: PairScore[];
  metrics: Record<string, number>;
}

/** One completion's tokens with their log-probs under the policy and the reference. */
export interface TokenRatioSideView {
  /** Each token and its text decoded alone (a byte of a longer character shows as U+FFFD). */
  tokens: { id: number; text: string }[];
  policy: number[];
  reference: number[];
}

/** What DPO changed in one pair, token by token (see core/dpo/token-ratios.ts). */
export interface TokenRatioView {
  /** What the policy was: "run <id> at step 12", "adapter.zip", "base model (no adapter)". */
  policy: string;
  line: number;
  beta: number;
  chosen: TokenRatioSideView;
  rejected: TokenRatioSideView;
}

export interface SampleRequest {
  /** Dataset rows (by index among valid rows) whose prompts to answer, and/or a free prompt. */
  rowIndices: number[];
  freePrompt: string | null;
  maxNewTokens: number;
  temperature: number;
  seed: number;
}

export interface Sample {
  prompt: string;
  line: number | null;
  policy: string;
  reference: string;
}

/** Which model answers in the lab: the reference (the adapter off, or the run's start adapter) or the policy. */
export type AnswerModel = 'reference' | 'policy';

/** Prompts for the lab's answer sets. */
export type LabPromptSource =
  /** Typed prompts, one user message each. */
  | { kind: 'texts'; texts: string[] }
  /** The dataset's eval split as a run with this config holds it out; the first `count` prompts when it has none. */
  | { kind: 'eval'; count: number; config: DPOConfig }
  /** The dataset's first `count` distinct prompts. */
  | { kind: 'first'; count: number };

export interface AnswerRequest {
  prompts: LabPromptSource;
  models: AnswerModel[];
  answersPerPrompt: number;
  maxNewTokens: number;
  /** 0 is greedy. */
  temperature: number;
  seed: number;
}

export interface PromptAnswers {
  prompt: Text;
  /** The dataset line the prompt came from; null for a typed one. */
  line: number | null;
  /** answersPerPrompt answers of each model asked for; null for a model not asked. */
  reference: string[] | null;
  policy: string[] | null;
}

export interface AnswerSet {
  /** What the policy was: "run 3 at step 40", "adapter.zip", "base model (no adapter)". */
  policy: string;
  prompts: PromptAnswers[];
}

/** A file for the page to download; a Blob, so a large one need not sit in memory twice. */
export interface ExportedFile {
  fileName: string;
  blob: Blob;
}

export interface TrlExportRequest {
  config: DPOConfig;
  lora: LoraConfig;
  modelName: string;
}

/** Rows whose per-pair slope and LoRA gradient the lab measures (the corruption exercise's table). */
export interface PairGradientRequest {
  rows: PreferenceRow[];
  config: DPOConfig;
  /** The adapter shape measured when no run has trained one yet (a fresh adapter, as at step 0). */
  lora: LoraConfig;
}

export interface PairGradientTable {
  /** What the policy was: "run 3 at step 40", "base model (no adapter) + a fresh LoRA adapter (step 0)". */
  policy: string;
  /** One entry per request row, in order. */
  pairs: PairGradient[];
}

/** Every command: its arguments and the result its reply carries. */
export interface CommandMap {
  init: { args: { backend: BackendPreference; limits?: WebGpuLimits }; result: EngineInfo };
  loadModel: { args: { source: ModelSource }; result: ModelInfo };
  /** A PEFT adapter (its two files, or a zip of them) to start training from and to score/sample with. */
  loadAdapter: { args: { files: File[] }; result: ModelInfo };
  /** Parses a preference file (a File, or text from storage) with progress events. */
  /** One file, or a table stored as several Parquet files (a Hub split, in order). */
  loadDataset: { args: { files: Blob[]; name: string; options?: ReadOptions }; result: DatasetSummary };
  tokenStats: { args: { maxLength: number | null; truncationMode: TruncationMode }; result: TokenStats };
  /**
   * A page of rows, or of the rows whose text holds `query` (any case); `total` counts them all. A
   * search through a file read on demand that a newer search replaced ends early: `superseded`.
   */
  previewRows: {
    args: { offset: number; count: number; query?: string };
    result: { offset: number; total: number; query: string; rows: PreviewRow[]; superseded?: boolean };
  };
  /** One row as the model sees it: token ids and texts, and what truncation keeps under these settings. */
  pairTokens: {
    args: { index: number; maxLength: number | null; maxPromptLength: number | null; truncationMode: TruncationMode };
    result: PairView;
  };
  /** Starts (or resumes) a run; the reply comes once it is running; the run then reports by events. */
  train: { args: { spec: RunSpec }; result: { totalSteps: number; startStep: number } };
  pause: { args: Record<string, never>; result: null };
  /** Saves a checkpoint after the step in progress, training on (the page is being hidden or closed). */
  checkpointSoon: { args: Record<string, never>; result: null };
  resume: { args: Record<string, never>; result: null };
  stop: { args: Record<string, never>; result: null };
  scorePairs: { args: { config: DPOConfig; count: number }; result: PairScores };
  /**
   * The pair on `line`, token by token, under the active policy and its reference. `follow`: the view is
   * sent again (a tokenRatios event) after every logged step of a run, until asked for another pair or
   * with follow off. While a run trains, the reply is null and the first view comes at its next logging step.
   */
  tokenRatios: { args: { config: DPOConfig; line: number; follow: boolean }; result: TokenRatioView | null };
  generate: { args: SampleRequest; result: Sample[] };
  exportAdapter: { args: Record<string, never>; result: ExportedFile };
  exportMerged: { args: Record<string, never>; result: ExportedFile };
  exportTrl: { args: TrlExportRequest; result: ExportedFile };
  /** Lab answer sets: reference and/or policy answers to prompts, batched (before/after, make pairs). */
  answerPrompts: { args: AnswerRequest; result: AnswerSet };
  /** Per pair: |∂loss/∂Δ| and ‖∇ loss‖ over the LoRA parameters, under the active policy. */
  pairGradients: { args: PairGradientRequest; result: PairGradientTable };
}

export type CommandType = keyof CommandMap;
export type CommandArgs<K extends CommandType> = CommandMap[K]['args'];
export type CommandResult<K extends CommandType> = CommandMap[K]['result'];

export type Command = { [K in CommandType]: { id: number; type: K } & CommandArgs<K> }[CommandType];

/** Long-running work that reports progress. */
export type Task = 'model' | 'adapter' | 'dataset' | 'tokenize' | 'reference' | 'export' | 'generate' | 'score' | 'answer';

export type WorkerEvent =
  | { type: 'reply'; id: number; ok: true; result: unknown }
  /** `failure` when the GPU failed (out of memory, a validation error, device loss, a stall): `error` is its message. */
  /** `columns`: a file with no valid pair, and the source columns a column mapping could name. */
  | { type: 'reply'; id: number; ok: false; error: string; failure?: GpuFailureInfo; columns?: string[] }
  /** fraction in [0, 1], or null when the amount of work is unknown. */
  | { type: 'progress'; task: Task; label: string; fraction: number | null }
  | {
      type: 'trainStatus';
      runId: string;
      state: TrainState;
      step: number;
      totalSteps: number;
      message?: string;
      /** A run that failed on the GPU: what was being done, the device's words, what to change. */
      failure?: GpuFailureInfo;
    }
  /** The current optimizer step began (the studio shows the time elapsed within it). */
  | { type: 'stepStarted'; runId: string; step: number; startedAt: number }
  /** The GPU failed during a command or a run; after a device loss nothing more runs until a reload. */
  | { type: 'gpuFailure'; failure: GpuFailureInfo }
  | {
      type: 'trainProgress';
      runId: string;
      step: number;
      totalSteps: number;
      /** Mean seconds per optimizer step over the recent steps. */
      secondsPerStep: number;
      tokensPerSecond: number;
      /** The most tensor memory held at once in this run (bytes), and the WebGPU buffer pool's size (null elsewhere). */
      memory: { peakBytes: number; gpuBytes: number | null };
    }
  | { type: 'log'; runId: string; entry: LogEntry }
  /** The followed pair's token view, after a logged step of the run. */
  | { type: 'tokenRatios'; runId: string; view: TokenRatioView }
  /** The run's whole metric history, sent when a run resumes from a checkpoint. */
  | { type: 'history'; runId: string; entries: LogEntry[] }
  | { type: 'checkpoint'; runId: string; step: number; saved: true }
  | { type: 'checkpoint'; runId: string; step: number; saved: false; message: string }
  | { type: 'warning'; message: string };

export type ReplyEvent = Extract<WorkerEvent, { type: 'reply' }>;
export type StreamEvent = Exclude<WorkerEvent, ReplyEvent>;
