import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { lmHeadMatmulFits, runLmHeadHiddenGrad, runLmHeadLogits } from './lm-head-matmul-programs';

/**
 * The fused LM head's two products as tfjs kernels on the webgpu backend (registered on import). They
 * are used inside the LM head's custom gradient, which states the backward pass itself, so neither
 * needs a gradient of its own. A hidden size that is not a multiple of 4 takes tfjs's matMul instead.
 */

const LOGITS_KERNEL = 'DpoLmHeadLogits';
const HIDDEN_GRAD_KERNEL = 'DpoLmHeadHiddenGrad';

function input(inputs: tf.NamedTensorInfoMap, name: string): tf.TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`LM-head kernel: input '${name}' is missing`);
  return t;
}

if (tf.getKernel(LOGITS_KERNEL, 'webgpu') === undefined) {
  tf.registerKernel({
    kernelName: LOGITS_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => runLmHeadLogits(backend as WebGPUBackend, input(inputs, 'hidden'), input(inputs, 'head')),
  });
  tf.registerKernel({
    kernelName: HIDDEN_GRAD_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => runLmHeadHiddenGrad(backend as WebGPUBackend, input(inputs, 'dlogits'), input(inputs, 'head')),
  });
}

/** logits [M, V] = hidden [M, d] · head [V, d]ᵀ. */
export function lmHeadLogits(hidden: tf.Tensor2D, head: tf.Tensor2D): tf.Tensor2D {
  if (tf.getBackend() !== 'webgpu' || !lmHeadMatmulFits(hidden.shape[1])) return tf.matMul(hidden, head, false, true);
  return tf.engine().runKernel(LOGITS_KERNEL, { hidden, head }) as tf.Tensor2D;
}

/** dhidden [M, d] = dlogits [M, V] · head [V, d]. */
export function lmHeadHiddenGrad(dlogits: tf.Tensor2D, head: tf.Tensor2D): tf.Tensor2D {
  if (tf.getBackend() !== 'webgpu' || !lmHeadMatmulFits(head.shape[1])) return tf.matMul(dlogits, head);
  return tf.engine().runKernel(HIDDEN_GRAD_KERNEL, { dlogits, head }) as tf.Tensor2D;
}
