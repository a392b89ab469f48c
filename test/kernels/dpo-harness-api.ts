/**
 * What the DPO harness page (dpo-harness.ts, in Chromium on WebGPU) exposes on `window.dpo` for
 * dpo-loss.spec.ts to call through page.evaluate. Types only: both sides import them.
 */
import type { LossConfig } from '../../src/core/dpo/config';
import type { Comparison } from './harness-api';

export type { Comparison };

/**
 * How a pair's log-probs are drawn: log-ratios of a few nats ('normal'); of ±largeScale nats, so that
 * |βΔ| is large ('large'); chosen ≡ rejected with equal references, so Δ = 0 and the 'aot' sort keys of
 * all such pairs tie ('tie', with 2 ≤ |u| ≤ 6); the policy equal to the reference, u = 0, as at step 1,
 * so every sort key of all such pairs ties ('start').
 */
export type PairKind = 'normal' | 'large' | 'tie' | 'start';

export interface LossCase {
  pairs: number;
  seed: number;
  /** Overrides of DEFAULT_DPO_CONFIG's loss fields. */
  config: Partial<LossConfig>;
  /** Pair i is drawn as pairKinds[i % pairKinds.length]. */
  pairKinds: PairKind[];
  /** |u| of 'large' pairs (default 400); f-divergences that exponentiate u need less. */
  largeScale?: number;
}

/**
 * One comparison over all pairs, then one per pair kind (absent where outputs are indexed by rank). Here
 * a Comparison's maxAbsReference is its scale: max |reference|, or for a combined loss the largest sum
 * over its loss types of |that type's term| (see scalesOf in dpo-harness.ts).
 */
export type Compared = { all: Comparison } & Partial<Record<PairKind, Comparison>>;

export interface LossGrads {
  chosen: Compared;
  rejected: Compared;
  /** Present when the loss has an 'sft' term. */
  sft?: Comparison;
}

export interface LossResult {
  /** The program run straight into a NaN-filled output: every cell written, values against dpoLoss. */
  program: {
    unwrittenCells: number;
    perPair: Compared;
    chosenRewards: Compared;
    rejectedRewards: Compared;
    loss: Comparison;
    lossGrad: LossGrads;
  };
  /** dpoLossFused (buffer pool poisoned first) against dpoLoss. */
  forward: { loss: Comparison; perPair: Compared; chosenRewards: Compared; rejectedRewards: Compared };
  /** tf.grads of the batch loss. */
  lossGrad: LossGrads;
  /**
   * tf.grads of λ·loss + Σ_i a_i·per_pair_i with random λ, a_i > 0 (positive, so that the upstream
   * gradient λ/B + a_i of a pair is no cancellation residue).
   */
  perPairGrad: LossGrads;
  /** tf.grads of Σ b_i·chosen_rewards_i + Σ d_i·rejected_rewards_i with random signed weights. */
  rewardGrad: LossGrads;
  /** Tensors left after forward + backward inside tf.tidy (should be 0). */
  leakedTensors: number;
}

export interface LossChoices {
  webgpuAutoIsFused: boolean;
  webgpuFusedIsFused: boolean;
  webgpuComposedIsComposed: boolean;
  cpuAutoIsComposed: boolean;
  cpuFusedError: string;
  /** Kernels dispatched by dpoLossFused at B = 8 and at B = DPO_LOSS_MAX_PAIRS + 1. */
  kernelsAtSmallBatch: string[];
  kernelsAboveLimit: string[];
  /** The fallback above the limit against dpoLoss. */
  aboveLimit: { loss: Comparison; perPair: Comparison; gradChosen: Comparison };
  missingWpoError: string;
  missingSftError: string;
  mismatchedShapeError: string;
}

export interface StepCase {
  seed: number;
  config: Partial<LossConfig>;
}

export interface StepResult {
  /** Reference log-probs, each path with its own scorer. */
  refLogps: Comparison;
  loss: { fused: number; composed: number };
  lossRelError: number;
  /** Per LoRA variable, fused against composed. */
  grads: Record<string, Comparison>;
  /** max |fused − composed| / max |composed| over every LoRA gradient together. */
  allGrads: Comparison;
  perPair: Comparison;
  /** Policy log-probs of every row (chosen rows, then rejected rows). */
  logps: Comparison;
  /**
   * Chosen and rejected rewards on the scale they are rounded at: max |Δ| over β·max |policy log-prob|
   * (a reward is β·(π − π_ref), the difference of two float32 sums of that size).
   */
  rewards: Comparison;
  /** How far policy and reference are apart (the gradient must not be trivially zero). */
  maxAbsGrad: number;
}

export interface TrainerResult {
  /** Logged entries of each run, one per step, without tokens_per_second. */
  fused: Record<string, number>[];
  composed: Record<string, number>[];
  /**
   * Mean |logit| of the base model over the batch: the size of the terms logits/chosen and
   * logits/rejected average over the vocabulary, which cancel to far less.
   */
  meanAbsLogit: number;
}

export interface DpoApi {
  ready(): Promise<{ backend: string; adapter: string }>;
  lossCase(c: LossCase): Promise<LossResult>;
  choices(): Promise<LossChoices>;
  fullStep(c: StepCase): Promise<StepResult>;
  trainerSteps(c: StepCase & { steps: number }): Promise<TrainerResult>;
}

declare global {
  interface Window {
    dpo: DpoApi;
  }
}
