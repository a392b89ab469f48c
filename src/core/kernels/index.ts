/**
 * Our WGSL kernels as tfjs ops on the webgpu backend, their composed-op references, and the choice
 * between them. Importing this module registers the kernels (and, through the webgpu backend package,
 * the backend itself where navigator.gpu exists). Browser and Vite-run code only: see shaders.ts.
 */
import { scoreTokensComposed, type TokenScorer } from '../dpo/logps';
import { dpoLoss } from '../dpo/losses';
import { setAttentionKernel } from '../model/architectures/llama';
import { setFrozenProduct } from '../model/weights';
import { flashAttention, flashAttentionFits } from './attention';
import { dpoLossFused } from './dpo-loss';
import { frozenProductFused } from './linear';
import { scoreTokensFused } from './lm-head-logps';

export type KernelMode = 'auto' | 'fused' | 'composed';

/** The LM-head scorer for a backend: 'auto' takes the fused kernels on 'webgpu', composed ops elsewhere. */
export function scorerFor(backendName: string, mode: KernelMode): TokenScorer {
  if (mode === 'composed') return scoreTokensComposed;
  if (backendName === 'webgpu') return scoreTokensFused;
  if (mode === 'fused') {
    throw new Error(`scorerFor: the fused kernels run on the 'webgpu' backend only, not '${backendName}'; use mode 'auto' or 'composed'`);
  }
  return scoreTokensComposed;
}

/** The DPO loss for a backend: 'auto' takes the fused kernel on 'webgpu', the composed ops elsewhere. */
export function lossFor(backendName: string, mode: KernelMode): typeof dpoLoss {
  if (mode === 'composed') return dpoLoss;
  if (backendName === 'webgpu') return dpoLossFused;
  if (mode === 'fused') {
    throw new Error(`lossFor: the fused kernels run on the 'webgpu' backend only, not '${backendName}'; use mode 'auto' or 'composed'`);
  }
  return dpoLoss;
}

/**
 * Whether frozen linear layers (every base projection) run on our kernels: 'auto' and 'fused' yes, on
 * the webgpu backend (elsewhere the op is tfjs's matMul); 'composed' no. Process-wide, as tfjs's backend
 * is: the worker and the CLI set it when WebGPU starts, the bench per case.
 */
export function useLinearKernels(mode: KernelMode): void {
  setFrozenProduct(mode === 'composed' ? null : frozenProductFused);
}

/**
 * Whether causal attention runs on our flash kernels ('auto', 'fused': on the webgpu backend, for heads
 * up to 256 wide; the composed ops elsewhere) or on the composed ops ('composed'). Process-wide.
 */
export function useAttentionKernel(mode: KernelMode): void {
  setAttentionKernel(
    mode === 'composed'
      ? null
      : (q, k, v, g) => {
          const shape = { heads: g.heads, kvHeads: g.kvHeads, headDim: g.headDim, scale: g.scale, window: g.window };
          return flashAttentionFits(shape) ? flashAttention(q, k, v, shape) : null;
        },
  );
}

/** Both kernel choices at once, ready for DpoModels' `scorer` and `loss` fields. */
export function kernelsFor(backendName: string, mode: KernelMode): { scorer: TokenScorer; loss: typeof dpoLoss } {
  return { scorer: scorerFor(backendName, mode), loss: lossFor(backendName, mode) };
}

export { logSoftmaxRowStats, selectiveLogSoftmax, type LogSoftmaxRowStats } from './selective-log-softmax';
export { logSoftmaxRowStatsComposed, selectiveLogSoftmaxComposed } from './selective-log-softmax-composed';
export {
  DEFAULT_MAX_CHUNK_BYTES,
  lmHeadSliceRows,
  makeFusedScorer,
  planLmHeadChunks,
  scoreTokensFused,
  type LmHeadChunkPlan,
  type LmHeadChunking,
  type LmHeadWeight,
  type SlicedHeadScorer,
} from './lm-head-logps';
export { dpoLossFused } from './dpo-loss';
export { frozenProductFused } from './linear';
export { flashAttention, flashAttentionFits, FLASH_ATTENTION_MAX_HEAD_DIM, type AttentionShape } from './attention';
export {
  DPO_LOSS_COLUMN,
  DPO_LOSS_COLUMNS,
  DPO_LOSS_MAX_PAIRS,
  dpoLossUniformValues,
  runDpoLoss,
  type DpoLossProgramInputs,
} from './dpo-loss-program';
