/**
 * What the benchmark driver (run.ts, Node) and the bench page (page.ts, Chromium) say to each other.
 * The driver asks for one measurement at a time, so a shape that hangs or loses the device costs only
 * itself: the driver gives up on it after a time limit and continues on a fresh page.
 */
import type { RandomCheckpointDims } from '../../src/core/model/random-checkpoint';

/**
 * Which limits the page's device was created with: the adapter's own (what tfjs asks for), or WebGPU's
 * defaults (maxStorageBufferBindingSize 128 MiB, maxBufferSize 256 MiB), the limits many devices give.
 */
export type DeviceLimits = 'adapter' | 'webgpu-default';

/** The adapter and the limits that decide which shapes fit. */
export interface AdapterReport {
  backend: string;
  limits: DeviceLimits;
  vendor: string;
  architecture: string;
  description: string;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  userAgent: string;
}

/** Why a measurement has no value: a limit of the adapter, a skip, or an error in our code. */
export interface Failure {
  /**
   * 'limit': allocation, buffer-size or dispatch limit, device lost, time limit. 'skipped': the driver
   * did not try it (its matMul work alone would outlast the time limit). 'error': anything else.
   */
  kind: 'limit' | 'skipped' | 'error';
  reason: string;
  /**
   * The page may no longer measure truthfully (a GPU error can leave invalid buffers in tfjs's pool, a
   * lost device stays lost): the driver replaces it before the next case.
   */
  tainted?: boolean;
}

export interface MatmulProbeCase {
  /** The probe doubles n from 256 until one multiplication takes at least this long (or n reaches maxN). */
  minRunMs: number;
  maxN: number;
  timedRuns: number;
}

export interface MatmulProbeResult {
  /** Square size of the multiplication that was timed: [n, n] × [n, n]. */
  n: number;
  medianMs: number;
  gflops: number;
}

/**
 * linear: a frozen linear layer's y = x·Wᵀ and dx = dy·W (N tokens, V out-features, d in-features);
 * attention: causal attention with SmolLM2-135M's heads (N = T tokens, V query heads, d head size).
 */
export type KernelName = 'selective_log_softmax' | 'lm_head_logps' | 'linear' | 'attention';
export type KernelPath = 'fused' | 'composed';

export interface KernelCase {
  kernel: KernelName;
  path: KernelPath;
  N: number;
  V: number;
  /** Hidden size d of the LM-head case (hidden [N, d], head [V, d]), a linear case's in-features (W [V, d]); unused by selective log-softmax. */
  hidden: number;
  /** With 0, the peak is taken during the first timed run. */
  warmupRuns: number;
  timedRuns: number;
  /** Whether the forward pass alone is timed too (a second series of runs). */
  timeForward: boolean;
  /** The device the case runs on. */
  limits: DeviceLimits;
  /** Cases run in ascending priority; issue 3's done-when figures come first (see plan.ts). */
  priority: number;
  seed: number;
}

export interface Measured {
  /** Median wall time of the timed runs, ms. */
  medianMs: number;
  /** Peak of tf.memory().numBytesInGPU during one run (kernels: above what was held before it). */
  peakBytes: number;
}

export interface KernelMeasured extends Measured {
  /** Median wall time of the forward pass alone (what the reference pass runs), ms; null when not timed. */
  forwardMedianMs: number | null;
  /** Row slices the fused path got the head in (1: one tensor); 0 for selective log-softmax and composed. */
  headSlices: number;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: Failure };

export type ModelName = 'tiny' | 'smollm2-135m-shape';

/** Sizes of a Llama-family model, in config.json names: a random checkpoint's, with tying stated. */
export type ModelDims = RandomCheckpointDims & { tie_word_embeddings: boolean };

export interface LoraShape {
  r: number;
  lora_alpha: number;
  target_modules: string[];
}

export interface StepCase {
  model: ModelName;
  dims: ModelDims;
  lora: LoraShape;
  /** Preference pairs per step; the batch holds 2·pairs rows (chosen, then rejected). */
  pairs: number;
  /** Tokens per row; the first half is prompt, the rest completion. */
  seqLen: number;
  kernels: boolean;
  /** Each layer recomputed in the backward pass instead of its activations kept. */
  gradientCheckpointing: boolean;
  warmupRuns: number;
  timedRuns: number;
  /** Cases run in ascending priority; issue 3's done-when figures come first (see plan.ts). */
  priority: number;
  seed: number;
}

export interface StepMeasured extends Measured {
  /** Tokens in one step: 2·pairs·seqLen (every position of chosen and rejected rows). */
  tokens: number;
  /** Completion tokens scored by the LM head in one forward pass. */
  scoredTokens: number;
  /** Which fused kernels the step used (empty with kernels off). */
  fusedKernels: string[];
}

/** The page's side: window.bench. */
export interface BenchApi {
  ready(): Promise<AdapterReport>;
  matmulProbe(c: MatmulProbeCase): Promise<Outcome<MatmulProbeResult>>;
  kernel(c: KernelCase): Promise<Outcome<KernelMeasured>>;
  step(c: StepCase): Promise<Outcome<StepMeasured>>;
  /** The step's reference log-probs per row (step-cases.ts stepLogps). */
  logps(c: StepCase): Promise<Outcome<number[]>>;
}

declare global {
  interface Window {
    bench: BenchApi;
  }
}
