import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ROW_STAT, runSelectiveLogSoftmax, runSelectiveLogSoftmaxGrad } from './selective-log-softmax-programs';

/**
 * The fused selective log-softmax as tfjs kernels on the webgpu backend, with its gradient registered,
 * so `tf.grad` runs through it. Importing this module registers the kernels.
 */

const FORWARD_KERNEL = 'DpoSelectiveLogSoftmax';
const BACKWARD_KERNEL = 'DpoSelectiveLogSoftmaxGrad';

/** Per-row statistics of a log-softmax, each [N]; the same fields for the fused and composed paths. */
export interface LogSoftmaxRowStats {
  /** log p(label), 0 where the label is outside [0, V) (an ignored position). */
  logp: tf.Tensor1D;
  /** log Σ_v exp(z_v). */
  logSumExp: tf.Tensor1D;
  /** Mean logit over the vocabulary. */
  logitMean: tf.Tensor1D;
  /** log Σ_v p_v² = LSE(2z) − 2·LSE(z). */
  logSumP2: tf.Tensor1D;
}

/** Upstream gradients of the row statistics, each [N]; null where nothing flows back. */
export interface RowStatGrads {
  logp: tf.Tensor1D | null;
  logSumExp: tf.Tensor1D | null;
  logitMean: tf.Tensor1D | null;
  logSumP2: tf.Tensor1D | null;
}

/** The forward statistics the backward pass recomputes the softmax from, each [N]. */
export interface RowShift {
  max: tf.Tensor1D;
  logS1: tf.Tensor1D;
  logSumP2: tf.Tensor1D;
}

function input(inputs: tf.NamedTensorInfoMap, name: string): tf.TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`selective log-softmax kernel: input '${name}' is missing`);
  return t;
}

if (tf.getKernel(FORWARD_KERNEL, 'webgpu') === undefined) {
  tf.registerKernel({
    kernelName: FORWARD_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => runSelectiveLogSoftmax(backend as WebGPUBackend, input(inputs, 'logits'), input(inputs, 'labels')),
  });
  tf.registerKernel({
    kernelName: BACKWARD_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) =>
      runSelectiveLogSoftmaxGrad(backend as WebGPUBackend, input(inputs, 'logits'), input(inputs, 'labels'), input(inputs, 'terms')),
  });
  tf.registerGradient({
    kernelName: FORWARD_KERNEL,
    inputsToSave: ['logits', 'labels'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [logits, labels, stats] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
      const g = tf.unstack(dy as tf.Tensor2D, 1) as tf.Tensor1D[];
      const s = tf.unstack(stats, 1) as tf.Tensor1D[];
      const vocab = logits.shape[1];
      // The max column is the shift every other statistic is taken relative to; treating it as a
      // constant is exact for all of them (their gradients do not depend on the shift). Its own
      // gradient, a one-hot at the argmax, cancels against logS1's in logsumexp = max + logS1, the only
      // form in which the public ops use it.
      const terms = gradTerms(
        { logp: g[ROW_STAT.logp], logSumExp: g[ROW_STAT.logS1], logitMean: g[ROW_STAT.logitMean], logSumP2: g[ROW_STAT.logSumP2] },
        { max: s[ROW_STAT.max], logS1: s[ROW_STAT.logS1], logSumP2: s[ROW_STAT.logSumP2] },
        validLabels(labels, 0, vocab),
        vocab,
      );
      return { logits: () => selectiveLogSoftmaxGradKernel(logits, labels, terms) };
    },
  });
}

function assertWebGpu(op: string): void {
  const backend = tf.getBackend();
  if (backend !== 'webgpu') {
    throw new Error(
      `${op}: the fused kernel runs on the 'webgpu' backend only (current backend: '${backend}'); use the composed reference elsewhere`,
    );
  }
}

function assertLogitsAndLabels(op: string, logits: tf.Tensor, labels: tf.Tensor): void {
  if (logits.rank !== 2 || logits.dtype !== 'float32') {
    throw new Error(`${op}: logits must be [N, V] float32, got [${logits.shape.join(', ')}] ${logits.dtype}`);
  }
  if (labels.rank !== 1 || labels.dtype !== 'int32' || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`${op}: labels must be [${logits.shape[0]}] int32, got [${labels.shape.join(', ')}] ${labels.dtype}`);
  }
}

/** 1 where lo ≤ label < lo + width, else 0, as float32 [N]. */
export function validLabels(labels: tf.Tensor1D, lo: number, width: number): tf.Tensor1D {
  return tf.tidy(() => tf.cast(tf.logicalAnd(tf.greaterEqual(labels, lo), tf.less(labels, lo + width)), 'float32')) as tf.Tensor1D;
}

/**
 * Folds upstream gradients into the per-row coefficients of the backward kernel [N, 7]:
 *   d logp/dz = onehot − p,  d logsumexp/dz = p,  d mean/dz = 1/V,  d logΣp²/dz = 2q − 2p
 * (p = softmax(z), q = softmax(2z)), so dz = a·onehot + b + c·p + e·q with
 *   a = g_logp·valid, b = g_mean/V, c = g_lse − a − 2·g_p2, e = 2·g_p2.
 * `vocab` is the full vocabulary even when the kernel sees one slice of it.
 */
export function gradTerms(grads: RowStatGrads, shift: RowShift, valid: tf.Tensor1D, vocab: number): tf.Tensor2D {
  return tf.tidy(() => {
    const zero = tf.zerosLike(valid);
    const a = grads.logp ? tf.mul(grads.logp, valid) : zero;
    const b = grads.logitMean ? tf.div(grads.logitMean, vocab) : zero;
    const gP2 = grads.logSumP2 ?? zero;
    const c = tf.sub(tf.sub(grads.logSumExp ?? zero, a), tf.mul(gP2, 2));
    const e = tf.mul(gP2, 2);
    return tf.stack([a, b, c, e, shift.max, shift.logS1, shift.logSumP2], 1) as tf.Tensor2D;
  });
}

/** The forward kernel, packed [N, 7] in ROW_STAT order (differentiable w.r.t. logits through its first five columns). */
export function selectiveLogSoftmaxKernel(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor2D {
  assertWebGpu('selectiveLogSoftmax');
  assertLogitsAndLabels('selectiveLogSoftmax', logits, labels);
  return tf.engine().runKernel(FORWARD_KERNEL, { logits, labels }) as tf.Tensor2D;
}

/** The backward kernel: dlogits [N, V] from logits, labels and terms [N, 7] (see gradTerms). */
export function selectiveLogSoftmaxGradKernel(logits: tf.Tensor2D, labels: tf.Tensor1D, terms: tf.Tensor2D): tf.Tensor2D {
  assertWebGpu('selectiveLogSoftmax gradient');
  assertLogitsAndLabels('selectiveLogSoftmax gradient', logits, labels);
  return tf.engine().runKernel(BACKWARD_KERNEL, { logits, labels, terms }) as tf.Tensor2D;
}

/** Fused log p(label) [N] from logits [N, V] and int32 labels [N]; labels outside [0, V) give 0. */
export function selectiveLogSoftmax(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.squeeze(tf.slice(selectiveLogSoftmaxKernel(logits, labels), [0, ROW_STAT.logp], [-1, 1]), [1])) as tf.Tensor1D;
}

/** All fused row statistics in one pass over the logits. */
export function logSoftmaxRowStats(logits: tf.Tensor2D, labels: tf.Tensor1D): LogSoftmaxRowStats {
  return tf.tidy(() => {
    const cols = tf.unstack(selectiveLogSoftmaxKernel(logits, labels), 1) as tf.Tensor1D[];
    const stats: LogSoftmaxRowStats = {
      logp: cols[ROW_STAT.logp],
      logSumExp: tf.add(cols[ROW_STAT.max], cols[ROW_STAT.logS1]),
      logitMean: cols[ROW_STAT.logitMean],
      logSumP2: cols[ROW_STAT.logSumP2],
    };
    return stats as unknown as tf.TensorContainer;
  }) as unknown as LogSoftmaxRowStats;
}
