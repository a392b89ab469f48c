/**
 * WGSL sources of our kernels, kept as plain files in shaders/ and inlined as text by Vite (`?raw`).
 * The browser build and Vite-run tests import it as it is; the CLI imports it only when it starts
 * WebGPU, after registering its own `?raw` loader (src/cli/raw-text-hooks.mjs).
 */
import selectiveLogSoftmaxForward from '../../../shaders/selective_log_softmax.wgsl?raw';
import selectiveLogSoftmaxBackward from '../../../shaders/selective_log_softmax_backward.wgsl?raw';
import lmHeadLogits from '../../../shaders/lm_head_logits.wgsl?raw';
import lmHeadHiddenGrad from '../../../shaders/lm_head_hidden_grad.wgsl?raw';
import attentionCommon from '../../../shaders/attention_common.wgsl?raw';
import attentionForward from '../../../shaders/attention_forward.wgsl?raw';
import attentionBackwardQuery from '../../../shaders/attention_backward_query.wgsl?raw';
import attentionBackwardKey from '../../../shaders/attention_backward_key.wgsl?raw';

export const shaders = {
  selectiveLogSoftmaxForward,
  selectiveLogSoftmaxBackward,
  lmHeadLogits,
  lmHeadHiddenGrad,
  attentionCommon,
  attentionForward,
  attentionBackwardQuery,
  attentionBackwardKey,
} as const;
