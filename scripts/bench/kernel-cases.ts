/**
 * The kernel measurements: selective log-softmax and LM-head log-probs, fused or composed, forward and
 * backward together (value and input gradient, as a training step needs them), on random inputs.
 */
import * as tf from '@tensorflow/tfjs';
import { scoreTokensComposed, type TokenScorer } from '../../src/core/dpo/logps';
import { scoreTokensFused, selectiveLogSoftmax, selectiveLogSoftmaxComposed } from '../../src/core/kernels';
import { Rng } from '../../src/core/random';
import { assertFits, firstElement, measureRuns, type Run } from './measure';
import type { KernelCase, KernelMeasured } from './protocol';

/** Distinct random rows generated on the host; the [N, V] logits tile them on the device. */
const LOGIT_ROWS_DRAWN = 64;

function normals(count: number, scale: number, rng: Rng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = scale * rng.normal();
  return out;
}

function labelsFor(rows: number, vocab: number, rng: Rng): tf.Tensor1D {
  return tf.tensor1d(Int32Array.from({ length: rows }, () => rng.int(vocab)), 'int32');
}

/** Upstream weights of the per-row results, so the gradient is not the same for every row. */
function rowWeights(rows: number, rng: Rng): tf.Tensor1D {
  return tf.tensor1d(Float32Array.from({ length: rows }, () => 0.5 + rng.next()));
}

/**
 * Logits [N, V] with entries N(0, 3²). Drawing 600 M host values for the largest shape would take
 * minutes, so a block of rows is drawn and tiled on the device; every row still has its own label.
 */
function randomLogits(rows: number, vocab: number, rng: Rng): tf.Tensor2D {
  assertFits('logits', [rows, vocab]);
  const drawn = Math.min(rows, LOGIT_ROWS_DRAWN);
  const block = tf.tensor2d(normals(drawn * vocab, 3, rng), [drawn, vocab]);
  if (drawn === rows) return block;
  const tiled = tf.tile(block, [Math.ceil(rows / drawn), 1]);
  return tiled.shape[0] === rows ? tiled : tf.slice(tiled, [0, 0], [rows, vocab]);
}

/** The forward pass alone, and forward with backward to the input gradient. */
interface KernelRuns {
  forward: Run;
  forwardBackward: Run;
}

function selectiveLogSoftmaxRuns(c: KernelCase, rng: Rng): KernelRuns {
  const logits = randomLogits(c.N, c.V, rng);
  const labels = labelsFor(c.N, c.V, rng);
  const weights = rowWeights(c.N, rng);
  const op = c.path === 'fused' ? selectiveLogSoftmax : selectiveLogSoftmaxComposed;
  const lossOf = (z: tf.Tensor) => tf.sum(tf.mul(op(z as tf.Tensor2D, labels), weights));
  return {
    forward: () => firstElement(op(logits, labels)),
    forwardBackward: () => firstElement(tf.grad(lossOf)(logits)),
  };
}

function lmHeadRuns(c: KernelCase, rng: Rng): KernelRuns {
  assertFits('head', [c.V, c.hidden]);
  // Hidden states of unit scale and a head of std 1/√d give logits of unit scale, as a trained model's.
  const hidden = tf.tensor2d(normals(c.N * c.hidden, 1, rng), [c.N, c.hidden]);
  const head = tf.tensor2d(normals(c.V * c.hidden, 1 / Math.sqrt(c.hidden), rng), [c.V, c.hidden]);
  const labels = labelsFor(c.N, c.V, rng);
  const weights = rowWeights(c.N, rng);
  const scorer: TokenScorer = c.path === 'fused' ? scoreTokensFused : scoreTokensComposed;
  const lossOf = (h: tf.Tensor) => tf.sum(tf.mul(scorer(h as tf.Tensor2D, head, labels, false).logp, weights));
  return {
    forward: () => firstElement(scorer(hidden, head, labels, false).logp),
    forwardBackward: () => firstElement(tf.grad(lossOf)(hidden)),
  };
}

/**
 * Median times of forward + backward and of forward alone; peak bytes (of forward + backward) above
 * the inputs, which exist before the op in a real step too.
 */
export async function measureKernel(c: KernelCase): Promise<KernelMeasured> {
  const rng = new Rng(c.seed);
  const runs = c.kernel === 'selective_log_softmax' ? selectiveLogSoftmaxRuns(c, rng) : lmHeadRuns(c, rng);
  const both = await measureRuns(runs.forwardBackward, c.warmupRuns, c.timedRuns, 'inputs');
  const forward = await measureRuns(runs.forward, c.warmupRuns, c.timedRuns, 'inputs');
  return { ...both, forwardMedianMs: forward.medianMs };
}
