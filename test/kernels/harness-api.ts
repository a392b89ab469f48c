/**
 * What the kernel harness page (harness.ts, in Chromium on WebGPU) exposes on `window.kernels` for
 * kernels.spec.ts to call through page.evaluate. Types only: both sides import them.
 */

/** How a row of test logits is drawn: ordinary, all ≈ +1e4, all ≈ −1e4, or one +1e4 spike. */
export type RowKind = 'normal' | 'large' | 'veryNegative' | 'spike';

export interface SoftmaxCase {
  rows: number;
  vocab: number;
  seed: number;
  /** Row r is drawn as rowKinds[r % rowKinds.length]. */
  rowKinds: RowKind[];
  /** Some labels set outside [0, V) (−100 and V): ignored positions. */
  masked: boolean;
  /** Invocations per row of the forward program (the adapter's choice when absent). */
  invocationsPerRow?: number;
  /** Rows per dispatch dimension of the backward program (the device's 65,535 when absent). */
  rowsPerDispatchDimension?: number;
}

export interface LmHeadCase {
  rows: number;
  vocab: number;
  hiddenSize: number;
  seed: number;
  chunking: { rowsPerChunk?: number; vocabPerChunk?: number; maxChunkBytes?: number; maxBindingBytes?: number };
  /**
   * Rows of each head slice the fused scorer is given (summing to vocab), as a model holds a head larger
   * than the binding limit; absent: one head tensor. The reference always gets the whole head.
   */
  headSliceRows?: number[];
}

/** max |fused − reference| / max |reference| (guarded), and whether that comparison meant anything. */
export interface Comparison {
  relError: number;
  maxAbsReference: number;
  /** Every fused and reference value finite (a poisoned output left unwritten shows up here). */
  finite: boolean;
}

/** One comparison over all rows, then one per row kind. */
export type Compared = Record<'all' | RowKind, Comparison | undefined>;

export type RowStatName = 'logp' | 'logSumExp' | 'logitMean' | 'logSumP2';
export type ScoreName = 'logp' | 'logitMean' | 'logSumP2';
/** The metric-only outputs (no gradient): predictive entropy, and the first index of the largest logit (+1, so never all 0). */
export type MetricName = 'entropy' | 'argmax';
/** Which statistics the upstream gradient flows from (random weights per row). */
export type GradTarget<Name extends string> = Name | 'all';

export interface LmHeadResult {
  plan: { rowsPerChunk: number; vocabPerChunk: number };
  forward: Record<ScoreName | MetricName, Comparison>;
  grad: Record<GradTarget<ScoreName>, Comparison>;
  /** Without WPO the fused scorer returns no logSumP2, like the composed one. */
  wpoFieldOnlyWhenAsked: boolean;
  /** Whether a gradient w.r.t. the head (any of its slices) came back from each path. */
  headGradient: { fused: boolean; composed: boolean };
  /** Tensors left behind by a forward + backward run inside tf.tidy (should be 0). */
  leakedTensors: number;
  /** Peak tensor bytes above the starting level during forward + backward, and the full logits' size. */
  peakBytes: { fused: number; composed: number; fullLogits: number };
}

export interface KernelApi {
  ready(): Promise<{ backend: string; adapter: string; maxStorageBufferBindingSize: number }>;
  /** Runs a program that writes nothing after poisoning the buffer pool: how many outputs read NaN. */
  silentProgramReadsPoison(rows: number): Promise<{ nan: number; size: number }>;
  /**
   * Forward program straight into a NaN-filled output, against the statistics' definitions in float64;
   * the composed ops (the backward tests' reference) against the same, under `composed <name>`.
   */
  forwardProgram(c: SoftmaxCase): Promise<Record<RowStatName | `composed ${RowStatName}` | MetricName, Compared>>;
  /** Backward program straight into a NaN-filled output, against tf.grad of the composed ops. */
  backwardProgram(c: SoftmaxCase): Promise<Record<GradTarget<RowStatName>, Compared>>;
  /**
   * The registered ops (pool poisoned first): forward values against the float64 definitions, tf.grad
   * against tf.grad of the composed ops.
   */
  registeredOps(c: SoftmaxCase): Promise<{
    forward: Record<RowStatName, Compared>;
    selectiveLogSoftmax: Compared;
    grad: Record<GradTarget<RowStatName>, Compared>;
  }>;
  lmHead(c: LmHeadCase): Promise<LmHeadResult>;
  /**
   * The LM head's two products, each run straight into a NaN-filled output, against tf.matMul:
   * logits = hidden · headᵀ and dhidden = dlogits · head.
   */
  lmHeadMatmul(c: {
    rows: number;
    vocab: number;
    hiddenSize: number;
    seed: number;
  }): Promise<{ logits: Comparison; hiddenGrad: Comparison }>;
  /** scorerFor's choices and the errors of misuse. */
  choices(): Promise<Record<string, boolean | string>>;
}

declare global {
  interface Window {
    kernels: KernelApi;
  }
}
