import type { LoraConfig } from '../core/model/types';
import type { ModelInfo } from '../worker/protocol';

export interface MemoryEstimate {
  weights: number;
  adapter: number;
  activations: number;
  logits: number;
  total: number;
}

/**
 * A rough upper bound on GPU memory for one training micro-batch, in bytes: float32 base weights,
 * the LoRA parameters with their gradients and AdamW moments, the activations a backward pass keeps
 * (per layer and token: attention projections, MLP, and the T×T attention probabilities per head),
 * and the LM-head logits of every row. tfjs also keeps freed buffers pooled, so the real peak can be
 * higher; treat this as the order of magnitude.
 */
export function estimateTrainingMemory(model: ModelInfo, lora: LoraConfig, batchSize: number, maxLength: number): MemoryEstimate {
  const f32 = 4;
  const rows = 2 * batchSize;
  const T = maxLength;
  const d = model.hiddenSize;
  const weights = model.parameters * f32;
  const targets =
    lora.target_modules === 'all-linear'
      ? model.linearModuleNames
      : lora.target_modules.length > 0
        ? lora.target_modules
        : model.defaultTargets;
  let loraParams = 0;
  for (const t of targets) loraParams += lora.r * (model.linearModuleFeatures[t] ?? 0);
  const adapter = loraParams * f32 * 4;
  const perTokenPerLayer = 10 * d + 4 * model.intermediateSize + 2 * model.heads * T;
  const activations = rows * T * model.layers * perTokenPerLayer * f32;
  const logits = rows * T * model.vocabSize * f32 * 2;
  return { weights, adapter, activations, logits, total: weights + adapter + activations + logits };
}
