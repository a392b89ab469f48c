import * as tf from '@tensorflow/tfjs';
import type { LogSoftmaxRowStats } from './selective-log-softmax';

/**
 * Composed-op references of the fused selective log-softmax: plain tfjs ops on any backend, the [N, V]
 * log-softmax materialised. They define what the kernel must compute, forward and (through tfjs's own
 * gradients) backward.
 */

/** log p(label) [N] as logSoftmax + gather; labels outside [0, V) give 0 and no gradient. */
export function selectiveLogSoftmaxComposed(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => gatherLabels(tf.logSoftmax(logits), labels));
}

/** The fused kernel's row statistics from composed ops. */
export function logSoftmaxRowStatsComposed(logits: tf.Tensor2D, labels: tf.Tensor1D): LogSoftmaxRowStats {
  return tf.tidy(() => {
    const logSoftmax = tf.logSoftmax(logits);
    const stats: LogSoftmaxRowStats = {
      logp: gatherLabels(logSoftmax, labels),
      logSumExp: tf.logSumExp(logits, 1) as tf.Tensor1D,
      logitMean: tf.mean(logits, 1) as tf.Tensor1D,
      // log Σ p² from the log-probabilities themselves: LSE(2z) − 2·LSE(z) subtracted directly would lose
      // everything below float32's resolution at |z| ~ 1e4.
      logSumP2: tf.logSumExp(tf.mul(logSoftmax, 2), 1) as tf.Tensor1D,
    };
    return stats as unknown as tf.TensorContainer;
  }) as unknown as LogSoftmaxRowStats;
}

function gatherLabels(logSoftmax: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const [rows, vocab] = logSoftmax.shape;
  const valid = tf.logicalAnd(tf.greaterEqual(labels, 0), tf.less(labels, vocab));
  const safeLabels = tf.where(valid, labels, tf.zerosLike(labels));
  const flatIndex = tf.add(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(vocab, 'int32')), safeLabels);
  const picked = tf.gather(tf.reshape(logSoftmax, [-1]), flatIndex) as tf.Tensor1D;
  return tf.where(valid, picked, tf.zerosLike(picked));
}
