import * as tf from '@tensorflow/tfjs';
import type { PreferenceBatch } from '../data/types';
import type { CausalLM, ForwardOptions, LoraAdapter } from '../model/types';
import type { LossConfig } from './config';
import { dpoLoss, rewardMetrics, type LossInputs } from './losses';
import { completionIndex, sequenceLogps, type CompletionIndex, type TokenScorer } from './logps';

/** The models a DPO batch runs through. The reference shares the policy's base weights. */
export interface DpoModels {
  model: CausalLM;
  /** The policy is base + this adapter (null: the base model itself, e.g. evaluating a plain checkpoint). */
  policy: LoraAdapter | null;
  /** null: the reference is the base model with adapters off; else a frozen starting adapter. */
  reference: LoraAdapter | null;
  /** Replaces the composed LM-head scoring (e.g. with a fused WebGPU kernel). */
  scorer?: TokenScorer;
  /** Replaces the composed DPO loss (e.g. with a fused WebGPU kernel); same contract as dpoLoss. */
  loss?: typeof dpoLoss;
}

/** Everything read back from one batch, as plain numbers. Arrays have one entry per pair. */
export interface BatchResult {
  loss: number;
  perPairLoss: Float32Array;
  chosenRewards: Float32Array;
  rejectedRewards: Float32Array;
  chosenLogps: Float32Array;
  rejectedLogps: Float32Array;
  refChosenLogps: Float32Array;
  refRejectedLogps: Float32Array;
  /** Σ over chosen (rejected) completion tokens of the vocabulary-mean logit, and the token count. */
  logitSumChosen: number;
  logitSumRejected: number;
  tokensChosen: number;
  tokensRejected: number;
  /** Σ of the policy's predictive entropy over chosen and rejected completion tokens. */
  entropySum: number;
  /** Chosen completion tokens whose largest logit is the label's. */
  correctChosen: number;
  /** Attention-mask total of the forward pass (prompt counted in both rows, as TRL's num_tokens). */
  numTokens: number;
}

function idsTensor(batch: PreferenceBatch): tf.Tensor2D {
  return tf.tensor2d(batch.input_ids, [2 * batch.B, batch.T], 'int32');
}

/**
 * Reference log-probs of every row, [2B] (chosen rows then rejected rows), computed without a
 * gradient tape: the base weights with adapters off, or with the frozen reference adapter.
 */
export async function referenceLogps(models: DpoModels, batch: PreferenceBatch, index: CompletionIndex): Promise<Float32Array> {
  const logps = tf.tidy(() => {
    const ids = idsTensor(batch);
    const hidden = models.model.hidden(ids, { adapter: models.reference });
    return sequenceLogps(hidden, models.model.headWeight(), index, { scorer: models.scorer }).logps;
  });
  const out = (await logps.data()) as Float32Array;
  logps.dispose();
  return out;
}

/** Tensors kept from inside the gradient tape so their values can be read afterwards. */
interface Kept {
  perPair: tf.Tensor1D;
  chosenRewards: tf.Tensor1D;
  rejectedRewards: tf.Tensor1D;
  logps: tf.Tensor1D;
  logitSums: tf.Tensor1D;
  entropySums: tf.Tensor1D;
  correctCounts: tf.Tensor1D;
}

/** How the policy's forward pass runs: LoRA dropout and gradient checkpointing (ForwardOptions). */
export type PolicyForward = Pick<ForwardOptions, 'dropout' | 'dropoutSeed' | 'gradientCheckpointing'>;

/**
 * The policy side of a batch: forward pass of chosen and rejected rows together, completion log-probs,
 * and the DPO loss against the given reference log-probs. Returns the loss tensor; the tensors needed
 * for metrics are handed to `keep` (they outlive the surrounding tidy/gradient scope).
 */
export function policyLoss(
  models: DpoModels,
  batch: PreferenceBatch,
  index: CompletionIndex,
  refLogps: Float32Array,
  config: LossConfig,
  keep: (kept: Kept) => void,
  forward: PolicyForward = {},
): tf.Scalar {
  const B = batch.B;
  const ids = idsTensor(batch);
  const hidden = models.model.hidden(ids, {
    adapter: models.policy,
    dropout: forward.dropout ?? false,
    dropoutSeed: forward.dropoutSeed ?? 0,
    gradientCheckpointing: forward.gradientCheckpointing ?? false,
  });
  const seq = sequenceLogps(hidden, models.model.headWeight(), index, {
    scorer: models.scorer,
    withWpo: config.use_weighting,
  });
  const counts = tf.tensor1d(index.tokenCounts, 'float32');
  const ref = tf.tensor1d(refLogps, 'float32');
  const half = <T extends tf.Tensor1D>(x: T, start: number) => tf.slice(x, [start], [B]) as tf.Tensor1D;

  const inputs: LossInputs = {
    chosen_logps: half(seq.logps, 0),
    rejected_logps: half(seq.logps, B),
    ref_chosen_logps: half(ref, 0),
    ref_rejected_logps: half(ref, B),
    chosen_lengths: half(counts, 0),
    rejected_lengths: half(counts, B),
  };
  if (config.loss_type.includes('sft')) {
    // Cross-entropy averaged over all chosen completion tokens of the batch (one scalar).
    const chosenTokens = index.tokenCounts.slice(0, B).reduce((a, b) => a + b, 0);
    inputs.sft_loss = tf.div(tf.neg(tf.sum(half(seq.plainLogps, 0))), Math.max(chosenTokens, 1)) as tf.Scalar;
  }
  if (config.use_weighting && seq.logSumP2Sums) {
    // WPO: w = exp(mean_t [log p(y_t) − log Σ_v p_v²]) per sequence; a pair weighs w_c·w_r (dpoLoss detaches it).
    const w = tf.exp(tf.div(tf.sub(seq.plainLogps, seq.logSumP2Sums), tf.maximum(counts, 1))) as tf.Tensor1D;
    inputs.wpo_weights = tf.mul(half(w, 0), half(w, B)) as tf.Tensor1D;
  }
  const out = (models.loss ?? dpoLoss)(inputs, config);
  const kept: Kept = {
    perPair: out.per_pair,
    chosenRewards: out.chosen_rewards,
    rejectedRewards: out.rejected_rewards,
    logps: seq.logps,
    logitSums: seq.logitSums,
    entropySums: seq.entropySums,
    correctCounts: seq.correctCounts,
  };
  for (const t of Object.values(kept)) tf.keep(t);
  keep(kept);
  return out.loss;
}

/** Reads kept tensors back into a BatchResult and frees them. */
export async function readBatchResult(
  loss: number,
  kept: Kept,
  batch: PreferenceBatch,
  index: CompletionIndex,
  refLogps: Float32Array,
): Promise<BatchResult> {
  const B = batch.B;
  const [perPair, chosenRewards, rejectedRewards, logps, logitSums, entropySums, correctCounts] = (await Promise.all([
    kept.perPair.data(),
    kept.chosenRewards.data(),
    kept.rejectedRewards.data(),
    kept.logps.data(),
    kept.logitSums.data(),
    kept.entropySums.data(),
    kept.correctCounts.data(),
  ])) as Float32Array[];
  for (const t of Object.values(kept)) (t as tf.Tensor).dispose();
  const sum = (a: ArrayLike<number>, from: number, to: number) => {
    let s = 0;
    for (let i = from; i < to; i++) s += a[i];
    return s;
  };
  let numTokens = 0;
  for (const m of batch.attention_mask) numTokens += m;
  return {
    loss,
    perPairLoss: perPair,
    chosenRewards,
    rejectedRewards,
    chosenLogps: logps.slice(0, B),
    rejectedLogps: logps.slice(B),
    refChosenLogps: refLogps.slice(0, B),
    refRejectedLogps: refLogps.slice(B),
    logitSumChosen: sum(logitSums, 0, B),
    logitSumRejected: sum(logitSums, B, 2 * B),
    tokensChosen: sum(index.tokenCounts, 0, B),
    tokensRejected: sum(index.tokenCounts, B, 2 * B),
    entropySum: sum(entropySums, 0, 2 * B),
    correctChosen: sum(correctCounts, 0, B),
    numTokens,
  };
}

/** Loss and metrics of a batch with no gradient (evaluation and the `eval` command). */
export async function evaluateBatch(
  models: DpoModels,
  batch: PreferenceBatch,
  config: LossConfig,
  refLogps?: Float32Array,
): Promise<BatchResult> {
  const index = completionIndex(batch, config.ld_alpha);
  const ref = refLogps ?? (await referenceLogps(models, batch, index));
  let kept: Kept | undefined;
  const loss = tf.tidy(() => policyLoss(models, batch, index, ref, config, (k) => (kept = k)));
  const value = (await loss.data())[0];
  loss.dispose();
  return readBatchResult(value, kept!, batch, index, ref);
}

/**
 * The TRL metric names of one batch (the trainer averages them over a logging interval). As TRL: the
 * entropy is a token-weighted mean over chosen and rejected completion tokens, mean_token_accuracy the
 * fraction of chosen completion tokens predicted by the largest logit; either is 0 with no tokens.
 */
export function batchMetrics(r: BatchResult): Record<string, number> {
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / Math.max(a.length, 1);
  const completionTokens = r.tokensChosen + r.tokensRejected;
  return {
    loss: r.loss,
    entropy: completionTokens > 0 ? r.entropySum / completionTokens : 0,
    mean_token_accuracy: r.tokensChosen > 0 ? r.correctChosen / r.tokensChosen : 0,
    ...rewardMetrics(r.chosenRewards, r.rejectedRewards),
    'logps/chosen': mean(r.chosenLogps),
    'logps/rejected': mean(r.rejectedLogps),
    'logits/chosen': r.logitSumChosen / Math.max(r.tokensChosen, 1),
    'logits/rejected': r.logitSumRejected / Math.max(r.tokensRejected, 1),
  };
}
