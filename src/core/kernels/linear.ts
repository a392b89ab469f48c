import * as tf from '@tensorflow/tfjs';
import type { FrozenProduct } from '../model/weights';
import { lmHeadHiddenGrad, lmHeadLogits } from './lm-head-matmul';

/**
 * A frozen linear layer's product on our kernels: y = x · Wᵀ for x [n, in] and W [out, in] (nn.Linear's
 * layout), forward on the register-tiled product of the LM head and backward dx = dy · W on its
 * hidden-gradient product. W is a frozen base weight: the op has no gradient for it.
 * Off WebGPU, or where `in` is not a multiple of 4, both products are tfjs's matMul.
 *
 * LoRA's rank-r products stay tfjs's (small, and deterministic: ../gpu/deterministic).
 */
export const frozenProductFused: FrozenProduct = (x, w) => {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor2D;
    // W is captured, not an input: it is a model weight that outlives the step, and has no gradient.
    return {
      value: lmHeadLogits(input, w),
      gradFunc: (dy: tf.Tensor) => {
        if (w.isDisposed) throw new Error('frozen linear: the weight was disposed before the backward pass');
        return lmHeadHiddenGrad(dy as tf.Tensor2D, w);
      },
    };
  });
  return f(x) as tf.Tensor2D;
};
