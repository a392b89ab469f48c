import * as tf from '@tensorflow/tfjs';

const GATHER = 'GatherV2';

/**
 * The gradient of a gather along axis 0 as one scatter-add (duplicate indices sum). tfjs's own is an
 * unsorted segment sum whose CPU kernel makes a masked pass over the whole gradient per vocabulary
 * row: with a trainable embedding it took half of every SFT step.
 */
function scatterGatherGradient(original: tf.GradConfig): tf.GradConfig {
  return {
    kernelName: GATHER,
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, saved, attrs) => {
      const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
      const [x, indices] = saved;
      if (axis !== 0 || batchDims !== 0) return original.gradFunc(dy, saved, attrs);
      const rows = indices.size;
      return {
        x: () => tf.scatterND(tf.reshape(indices, [rows, 1]), tf.reshape(dy as tf.Tensor, [rows, ...x.shape.slice(1)]), x.shape),
        indices: () => tf.zerosLike(indices),
      };
    },
  };
}

/**
 * Runs fn (which builds and differentiates a tape) with the scatter-add gather gradient installed, then
 * puts tfjs's own back, so nothing outside an SFT step sees a changed gradient registry. fn must be
 * synchronous: the registry is global.
 */
export function withScatterGatherGradient<T>(fn: () => T): T {
  const original = tf.getGradient(GATHER) as tf.GradConfig | undefined;
  if (!original) return fn();
  tf.registerGradient(scatterGatherGradient(original));
  try {
    return fn();
  } finally {
    tf.registerGradient(original);
  }
}
