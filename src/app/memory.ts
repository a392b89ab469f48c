/**
 * The studio's memory plan: core/train/memory-plan filled from what the page knows (the worker's
 * ModelInfo, the engine's limits, the settings, the dataset's longest pair) and checked against the
 * person's memory budget before Train is offered.
 */
import { checkMemoryPlan, NO_DEVICE_LIMITS, planTrainingMemory, type DeviceLimits, type MemoryPlan } from '../core/train/memory-plan';
import type { EngineInfo, ModelInfo, TokenStats } from '../worker/protocol';
import type { StudioConfig } from './store';

export type { MemoryPlan };

/**
 * The budget Train is checked against unless the person sets one. WebGPU tells a page nothing about
 * the device's memory (only its per-buffer limits), and a browser may stop a tab's GPU work well short
 * of what the GPU holds; 4 GiB is what a low-end discrete GPU or an 8 GB laptop sharing its memory with
 * the GPU can give one tab. A person who knows their machine raises it.
 */
export const DEFAULT_MEMORY_BUDGET = 4 * 2 ** 30;

/** WebGPU's default limits: what a device offers when the engine has not said (128 MiB binding, 256 MiB buffer). */
const WEBGPU_DEFAULT_LIMITS: DeviceLimits = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 };

/** The limits a plan is checked against: the WebGPU device's, or none on WebAssembly and the CPU. */
export function deviceLimitsOf(engine: EngineInfo | null): DeviceLimits {
  if (engine?.backend !== 'webgpu') return NO_DEVICE_LIMITS;
  const { maxStorageBufferBindingSize, maxBufferSize } = engine.webgpu;
  return {
    maxStorageBufferBindingSize: maxStorageBufferBindingSize ?? WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize,
    maxBufferSize: maxBufferSize ?? Math.max(maxStorageBufferBindingSize ?? 0, WEBGPU_DEFAULT_LIMITS.maxBufferSize),
  };
}

/** What a studio plan reads of the page's state. */
export interface StudioMemoryInput {
  model: ModelInfo;
  config: StudioConfig;
  engine: EngineInfo | null;
  /** The dataset's token counts, when tokenized: rows are no longer than its longest pair. */
  tokenStats?: TokenStats | null;
}

/** The plan of a run with these settings on this engine: rows at max_length, or the dataset's longest pair. */
export function planStudioMemory({ model, config, engine, tokenStats }: StudioMemoryInput): MemoryPlan {
  const c = config.dpo;
  const stats = tokenStats && tokenStats.maxLength === c.max_length ? tokenStats : null;
  const longest = stats ? stats.longest.prompt + Math.max(stats.longest.chosen, stats.longest.rejected) : undefined;
  return planTrainingMemory({
    model: model.shape,
    lora: config.lora,
    per_device_train_batch_size: c.per_device_train_batch_size,
    max_length: c.max_length,
    // The model's context bounds a row whatever the settings.
    longest: Math.min(longest ?? Infinity, model.maxPositions),
    gradient_checkpointing: c.gradient_checkpointing,
    precompute_ref_log_probs: c.precompute_ref_log_probs,
    per_device_eval_batch_size: c.per_device_eval_batch_size,
    evaluates: c.eval_split > 0,
    gradient_accumulation_steps: c.gradient_accumulation_steps,
    referenceAdapter: model.startAdapter !== null,
    lmHead: engine?.backend === 'webgpu' ? 'fused' : 'composed',
    attention: engine?.backend === 'webgpu' ? 'flash' : 'composed',
    limits: deviceLimitsOf(engine),
  });
}

/** Why the plan cannot run on this engine within the budget, or null. */
export function memoryRefusal(input: StudioMemoryInput, budgetBytes: number): string | null {
  const plan = planStudioMemory(input);
  return checkMemoryPlan(plan, deviceLimitsOf(input.engine), budgetBytes, {
    raiseBudget: 'raise the memory budget in Model',
    gradientCheckpointing: input.config.dpo.gradient_checkpointing,
  });
}
