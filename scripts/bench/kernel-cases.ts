/**
 * The kernel measurements: selective log-softmax, LM-head log-probs and a frozen linear layer, ours
 * (fused) or composed, forward and backward together (value and input gradient, as a training step needs them), on random inputs.
 */
import * as tf from '@tensorflow/tfjs';
import { scoreTokensComposed } from '../../src/core/dpo/logps';
import { causalAttention, causalMask } from '../../src/core/model/architectures/llama';
import {
  frozenProductFused,
  useAttentionKernel,
  lmHeadSliceRows,
  scoreTokensFused,
  selectiveLogSoftmax,
  selectiveLogSoftmaxComposed,
  type LmHeadWeight,
  type SlicedHeadScorer,
} from '../../src/core/kernels';
import { Rng } from '../../src/core/random';
import { assertFits, firstElement, measureRuns, webgpu, type Run } from './measure';
import type { KernelCase, KernelMeasured } from './protocol';

/** Distinct random rows generated on the host; the [N, V] logits tile them on the device. */
const LOGIT_ROWS_DRAWN = 64;

function normals(count: number, scale: number, rng: Rng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = scale * rng.normal();
  return out;
}

function labelsFor(rows: number, vocab: number, rng: Rng): tf.Tensor1D {
  return tf.tensor1d(
    Int32Array.from({ length: rows }, () => rng.int(vocab)),
    'int32',
  );
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
  headSlices: number;
  /** The inputs, uploaded to the device before the peak is taken (tfjs uploads host data on first use). */
  inputs: tf.Tensor[];
}

function uploadInputs(inputs: tf.Tensor[]): void {
  for (const t of inputs) webgpu().uploadToGPU(t.dataId);
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
    headSlices: 0,
    inputs: [logits, labels, weights],
  };
}

/**
 * The head [V, d] with entries N(0, 1/d): one tensor where the device can bind it whole, otherwise
 * row slices within the binding limit, drawn slice by slice as a model too large for one binding would
 * hold its head. The composed path needs it whole and its [N, V] logits in one buffer.
 */
function randomHead(c: KernelCase, rng: Rng): LmHeadWeight {
  const scale = 1 / Math.sqrt(c.hidden);
  if (c.path === 'composed') {
    assertFits('head', [c.V, c.hidden]);
    assertFits('logits', [c.N, c.V]);
    return tf.tensor2d(normals(c.V * c.hidden, scale, rng), [c.V, c.hidden]);
  }
  const { maxBufferSize, maxStorageBufferBindingSize } = webgpu().device.limits;
  const sliceRows = lmHeadSliceRows(c.hidden, Math.min(maxBufferSize, maxStorageBufferBindingSize));
  if (c.V <= sliceRows) return tf.tensor2d(normals(c.V * c.hidden, scale, rng), [c.V, c.hidden]);
  const slices: tf.Tensor2D[] = [];
  for (let start = 0; start < c.V; start += sliceRows) {
    const rows = Math.min(sliceRows, c.V - start);
    slices.push(tf.tensor2d(normals(rows * c.hidden, scale, rng), [rows, c.hidden]));
  }
  return slices;
}

function lmHeadRuns(c: KernelCase, rng: Rng): KernelRuns {
  // Hidden states of unit scale and a head of std 1/√d give logits of unit scale, as a trained model's.
  const head = randomHead(c, rng);
  const hidden = tf.tensor2d(normals(c.N * c.hidden, 1, rng), [c.N, c.hidden]);
  const labels = labelsFor(c.N, c.V, rng);
  const weights = rowWeights(c.N, rng);
  const scorer: SlicedHeadScorer =
    c.path === 'fused' ? scoreTokensFused : (h, w, l, wpo) => scoreTokensComposed(h, w as tf.Tensor2D, l, wpo);
  const lossOf = (h: tf.Tensor) => tf.sum(tf.mul(scorer(h as tf.Tensor2D, head, labels, false).logp, weights));
  return {
    forward: () => firstElement(scorer(hidden, head, labels, false).logp),
    forwardBackward: () => firstElement(tf.grad(lossOf)(hidden)),
    headSlices: c.path === 'fused' ? (Array.isArray(head) ? head.length : 1) : 0,
    inputs: [hidden, ...(Array.isArray(head) ? head : [head]), labels, weights],
  };
}

/** A frozen linear layer: x [N, d] · W [V, d]ᵀ, and the gradient to x, on our products or tfjs's matMul. */
function linearRuns(c: KernelCase, rng: Rng): KernelRuns {
  const x = tf.tensor2d(normals(c.N * c.hidden, 1, rng), [c.N, c.hidden]);
  const w = tf.tensor2d(normals(c.V * c.hidden, 1 / Math.sqrt(c.hidden), rng), [c.V, c.hidden]);
  const upstream = tf.tensor2d(normals(c.N * c.V, 1, rng), [c.N, c.V]);
  const op = (t: tf.Tensor2D) => (c.path === 'fused' ? frozenProductFused(t, w) : tf.matMul(t, w, false, true));
  return {
    forward: () => firstElement(op(x)),
    forwardBackward: () => firstElement(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t as tf.Tensor2D), upstream)))(x)),
    headSlices: 0,
    inputs: [x, w, upstream],
  };
}

/**
 * Causal attention through the model's own entry point (causalAttention), on our flash kernels or on
 * the composed ops: q [1, H, T, hd], k and v [1, H/3, T, hd] (SmolLM2's grouping), gradients to all three.
 */
function attentionRuns(c: KernelCase, rng: Rng): KernelRuns {
  const [T, heads, headDim] = [c.N, c.V, c.hidden];
  const kvHeads = heads / 3;
  const g = { batch: 1, seq: T, heads, kvHeads, headDim, scale: 1 / Math.sqrt(headDim), window: null };
  const q = tf.tensor4d(normals(heads * T * headDim, 1, rng), [1, heads, T, headDim]);
  const k = tf.tensor4d(normals(kvHeads * T * headDim, 1, rng), [1, kvHeads, T, headDim]);
  const v = tf.tensor4d(normals(kvHeads * T * headDim, 1, rng), [1, kvHeads, T, headDim]);
  const mask = causalMask(T, null);
  const upstream = tf.tensor2d(normals(T * heads * headDim, 1, rng), [T, heads * headDim]);
  // Process-wide, for this case's runs; the step cases set it again for theirs.
  useAttentionKernel(c.path);
  const op = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => causalAttention(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, mask, g);
  return {
    forward: () => firstElement(op(q, k, v)),
    forwardBackward: () =>
      firstElement(tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(op(a, b, d), upstream)))([q, k, v])[0]),
    headSlices: 0,
    inputs: [q, k, v, mask, upstream],
  };
}

/**
 * Median times of forward + backward and (when the case asks) of forward alone; peak bytes (of forward
 * + backward) above the inputs, which exist before the op in a real step too.
 */
export async function measureKernel(c: KernelCase): Promise<KernelMeasured> {
  const rng = new Rng(c.seed);
  const runs =
    c.kernel === 'selective_log_softmax'
      ? selectiveLogSoftmaxRuns(c, rng)
      : c.kernel === 'linear'
        ? linearRuns(c, rng)
        : c.kernel === 'attention'
          ? attentionRuns(c, rng)
          : lmHeadRuns(c, rng);
  uploadInputs(runs.inputs);
  const both = await measureRuns(runs.forwardBackward, c.warmupRuns, c.timedRuns, 'inputs');
  const forward = c.timeForward ? await measureRuns(runs.forward, c.warmupRuns, c.timedRuns, 'inputs') : null;
  return { ...both, forwardMedianMs: forward?.medianMs ?? null, headSlices: runs.headSlices };
}
