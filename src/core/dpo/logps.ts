import * as tf from '@tensorflow/tfjs';
import type { PreferenceBatch } from '../data/types';
import type { HeadWeight } from '../model/types';
import { headRows, matMulTransposed } from '../model/weights';

/**
 * Where the completion tokens of a collated batch are. Logits at position t score the token at t+1,
 * so a completion token at t+1 is predicted by the hidden state at t. Only those positions go through
 * the LM head: prompt and padding positions are never scored (TRL computes and then masks them; the
 * sums are the same).
 */
export interface CompletionIndex {
  /** Rows in the batch (2B: chosen rows, then rejected rows). */
  rows: number;
  /** Flat index r·T + t of each predicting hidden state, in row-major order. */
  positions: Int32Array;
  /** The token each position predicts (input_ids[r, t+1]). */
  labels: Int32Array;
  /** The row of each position. */
  rowOf: Int32Array;
  /** Per-token weight in the row sum: 1, or ld_alpha past the pair's shared completion length. */
  weights: Float32Array;
  /** Completion tokens per row (unweighted). */
  tokenCounts: number[];
}

/**
 * Builds the index of a batch. With ldAlpha (LD-DPO), tokens of a completion beyond the shorter
 * completion of its pair weigh ldAlpha instead of 1.
 */
export function completionIndex(batch: PreferenceBatch, ldAlpha: number | null = null): CompletionIndex {
  const { B, T, input_ids, completion_mask } = batch;
  const rows = 2 * B;
  const tokenCounts = new Array<number>(rows).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let t = 1; t < T; t++) tokenCounts[r] += completion_mask[r * T + t];
  }
  const n = tokenCounts.reduce((a, b) => a + b, 0);
  const positions = new Int32Array(n);
  const labels = new Int32Array(n);
  const rowOf = new Int32Array(n);
  const weights = new Float32Array(n);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    const pair = r % B;
    const shared = Math.min(tokenCounts[pair], tokenCounts[pair + B]);
    let ordinal = 0;
    for (let t = 1; t < T; t++) {
      if (!completion_mask[r * T + t]) continue;
      positions[k] = r * T + t - 1;
      labels[k] = input_ids[r * T + t];
      rowOf[k] = r;
      weights[k] = ldAlpha !== null && ordinal >= shared ? ldAlpha : 1;
      ordinal++;
      k++;
    }
  }
  return { rows, positions, labels, rowOf, weights, tokenCounts };
}

/** Per-token results of scoring hidden states against the LM head. */
export interface TokenScores {
  /** log p(label) for each scored position, [N]. */
  logp: tf.Tensor1D;
  /** Mean of the logits over the vocabulary, [N] (for logits/chosen and logits/rejected). */
  logitMean: tf.Tensor1D;
  /** Entropy of the predictive distribution −Σ_v p_v log p_v, [N] (TRL's entropy metric; no gradient). */
  entropy: tf.Tensor1D;
  /** The first index of the largest logit, as float32, [N] (TRL's mean_token_accuracy; no gradient). */
  argmax: tf.Tensor1D;
  /** log Σ_v p_v² = LSE(2z) − 2·LSE(z), [N] (WPO weights); only when asked for. */
  logSumP2?: tf.Tensor1D;
}

/**
 * Scores N hidden states [N, d] against the head [V, d]: the composed-op reference, materialising the
 * [N, V] logits. Log-softmax in float32 with max subtraction (tf.logSumExp subtracts the max).
 */
export function scoreTokensComposed(hidden: tf.Tensor2D, head: HeadWeight, labels: tf.Tensor1D, withWpo: boolean): TokenScores {
  return tidyObject(() => {
    const [n] = hidden.shape;
    const vocab = headRows(head);
    const logits = matMulTransposed(hidden, head);
    const lse = tf.logSumExp(logits, 1);
    const flatIndex = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(vocab, 'int32')), labels) as tf.Tensor1D;
    const picked = gatherRows(tf.reshape(logits, [-1, 1]), flatIndex).reshape([-1]);
    const logSoftmax = tf.sub(logits, tf.expandDims(lse, 1));
    const out: TokenScores = {
      logp: tf.sub(picked, lse) as tf.Tensor1D,
      logitMean: tf.mean(logits, 1) as tf.Tensor1D,
      entropy: tf.neg(tf.sum(tf.mul(tf.exp(logSoftmax), logSoftmax), 1)) as tf.Tensor1D,
      argmax: tf.cast(tf.argMax(logits, 1), 'float32') as tf.Tensor1D,
    };
    // log Σ p² as LSE(2·log p): subtracting 2·LSE(z) from LSE(2z) loses precision at large logits.
    if (withWpo) out.logSumP2 = tf.logSumExp(tf.mul(logSoftmax, 2), 1) as tf.Tensor1D;
    return out;
  });
}

export type TokenScorer = typeof scoreTokensComposed;

/**
 * Rows of x [M, k] at idx [N], with a scatter as gradient (a row picked twice gets both gradients). tfjs's own gather
 * gradient is a segment sum whose CPU kernel costs O(M·N), which dominated a training step.
 */
export function gatherRows(x: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, indices, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([indices]);
    return {
      value: tf.gather(input, indices),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.scatterND(tf.expandDims(saved[0], 1), dy, input.shape), tf.zerosLike(saved[0])],
    };
  });
  return f(x, idx) as tf.Tensor2D;
}

/**
 * out[r] = Σ of x[i] over the i with segments[i] = r, for r < count: tf.unsortedSegmentSum's value,
 * summed in one fixed order on every backend (tfjs's WebGPU kernel adds with atomics, in whatever
 * order the GPU runs them). Each segment's values are gathered, in index order, into a row padded
 * with zeros, and the rows are summed: a segment's sum depends on its own values only, so two
 * segments with the same values (a pair whose rejected answer equals its chosen one) give the same
 * bits, wherever they sit in the batch.
 */
export function segmentSum(x: tf.Tensor1D, segments: ArrayLike<number>, count: number): tf.Tensor1D {
  return tf.tidy(() => segmentSummer(segments, count)(x));
}

/**
 * segmentSum for several x over the same segments: the padded layout is built, and its index
 * uploaded, once. Call inside a tidy; the index tensor lives until the tidy ends.
 */
export function segmentSummer(segments: ArrayLike<number>, count: number): (x: tf.Tensor1D) => tf.Tensor1D {
  const n = segments.length;
  const members: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < n; i++) {
    const r = segments[i];
    if (!(r >= 0 && r < count)) throw new Error(`segmentSum: segment id ${r} at ${i} is not in [0, ${count})`);
    members[r].push(i);
  }
  const width = Math.max(1, ...members.map((m) => m.length));
  // Padding reads slot n, a zero appended to x.
  const layout = new Int32Array(count * width).fill(n);
  members.forEach((m, r) => layout.set(m, r * width));
  const index = tf.tensor1d(layout, 'int32');
  return (x) => {
    if (x.shape[0] !== n) throw new Error(`segmentSum: ${x.shape[0]} values against ${n} segment ids`);
    return tf.tidy(() => {
      const padded = tf.concat([tf.reshape(x, [n, 1]), tf.zeros([1, 1])], 0) as tf.Tensor2D;
      return tf.sum(tf.reshape(gatherRows(padded, index), [count, width]), 1) as tf.Tensor1D;
    });
  };
}

/** tf.tidy for a function returning an object of tensors (tidy's own typing wants a TensorContainer). */
function tidyObject<T extends object>(fn: () => T): T {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as T;
}

/** Sequence-level log-probs and the side quantities the metrics and losses need. */
export interface SequenceLogps {
  /** Σ (weighted) completion log-probs per row, [2B]. */
  logps: tf.Tensor1D;
  /** Σ over completion tokens of the vocabulary-mean logit per row, [2B] (no gradient needed). */
  logitSums: tf.Tensor1D;
  /** Σ over completion tokens of the predictive entropy per row, [2B] (no gradient needed). */
  entropySums: tf.Tensor1D;
  /** Completion tokens per row whose largest logit is the label's, [2B] (no gradient needed). */
  correctCounts: tf.Tensor1D;
  /** Unweighted Σ log p per row, [2B] (sft loss, WPO). */
  plainLogps: tf.Tensor1D;
  /** Σ log Σ_v p_v² per row, [2B], when WPO is on. */
  logSumP2Sums?: tf.Tensor1D;
}

/**
 * Completion log-probs of every row of a batch from the model's final hidden states [rows, T, d].
 */
export function sequenceLogps(
  hidden: tf.Tensor3D,
  head: HeadWeight,
  index: CompletionIndex,
  options: { withWpo?: boolean; scorer?: TokenScorer } = {},
): SequenceLogps {
  return tidyObject(() => {
    const d = hidden.shape[2];
    const flat = tf.reshape(hidden, [-1, d]) as tf.Tensor2D;
    const picked = gatherRows(flat, tf.tensor1d(index.positions, 'int32'));
    const labels = tf.tensor1d(index.labels, 'int32');
    const scorer = options.scorer ?? scoreTokensComposed;
    const scores = scorer(picked, head, labels, options.withWpo ?? false);
    const weights = tf.tensor1d(index.weights, 'float32');
    const segment = segmentSummer(index.rowOf, index.rows);
    const out: SequenceLogps = {
      logps: segment(tf.mul(scores.logp, weights) as tf.Tensor1D),
      plainLogps: segment(scores.logp),
      logitSums: segment(scores.logitMean),
      entropySums: segment(scores.entropy),
      correctCounts: segment(tf.cast(tf.equal(scores.argmax, tf.cast(labels, 'float32')), 'float32') as tf.Tensor1D),
    };
    if (scores.logSumP2) out.logSumP2Sums = segment(scores.logSumP2);
    return out;
  });
}
