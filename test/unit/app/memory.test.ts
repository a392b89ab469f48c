import { describe, expect, it } from 'vitest';
import { DEFAULT_MEMORY_BUDGET, deviceLimitsOf, memoryRefusal, planStudioMemory } from '../../../src/app/memory';
import { DEFAULT_STUDIO_CONFIG, type StudioConfig } from '../../../src/app/store';
import { architectureOf } from '../../../src/core/model/architectures/registry';
import { parseModelConfig } from '../../../src/core/model/config';
import { modelShapeOf, NO_DEVICE_LIMITS } from '../../../src/core/train/memory-plan';
import type { EngineInfo, ModelInfo, TokenStats } from '../../../src/worker/protocol';

/** A Qwen2-shaped model: hidden 64, 2 layers, 4 heads of 16 of which 2 key/value heads (kv width 32), MLP 128. */
const d = 64;
const kv = 32;
const ffn = 128;
const layers = 2;
const config = parseModelConfig(
  {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: 100,
    hidden_size: d,
    intermediate_size: ffn,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 128,
    tie_word_embeddings: true,
  },
  'test',
);
const core = modelShapeOf(config, architectureOf(config));
const model: ModelInfo = {
  id: 'test',
  name: 'test',
  architecture: 'Qwen2ForCausalLM',
  modelType: 'qwen2',
  hiddenSize: d,
  intermediateSize: ffn,
  layers,
  heads: 4,
  kvHeads: 2,
  vocabSize: 100,
  maxPositions: 128,
  tiedEmbeddings: true,
  parameters: core.parameters,
  linearModuleNames: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  linearModuleFeatures: {
    q_proj: layers * (d + d),
    k_proj: layers * (d + kv),
    v_proj: layers * (d + kv),
    o_proj: layers * (d + d),
    gate_proj: layers * (d + ffn),
    up_proj: layers * (d + ffn),
    down_proj: layers * (ffn + d),
  },
  defaultTargets: ['q_proj', 'v_proj'],
  tokenizer: { vocabSize: 100, eosToken: null, padTokenId: 0, chatTemplate: false },
  startAdapter: null,
  shape: core,
};

const webgpu = (binding: number, buffer?: number): EngineInfo => ({
  backend: 'webgpu',
  kernels: 'fused',
  webgpu: { available: true, vendor: 'v', architecture: 'a', description: '', maxStorageBufferBindingSize: binding, maxBufferSize: buffer },
});
const cpu: EngineInfo = {
  backend: 'cpu',
  kernels: 'composed',
  webgpu: { available: false, vendor: '', architecture: '', description: '' },
};

function settings(dpo: Partial<StudioConfig['dpo']> = {}): StudioConfig {
  return { ...DEFAULT_STUDIO_CONFIG, dpo: { ...DEFAULT_STUDIO_CONFIG.dpo, ...dpo } };
}

describe('the studio’s memory plan', () => {
  it('plans from the shape the worker reports (one layer’s linears as config.json gives them: Qwen2’s q/k/v biases)', () => {
    expect(core.linears.filter((l) => l.bias).map((l) => l.path)).toEqual(['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj']);
    const withoutBiases = { ...model, shape: { ...core, linears: core.linears.map((l) => ({ ...l, bias: false })) } };
    expect(planStudioMemory({ model, config: settings(), engine: cpu }).total).not.toBe(
      planStudioMemory({ model: withoutBiases, config: settings(), engine: cpu }).total,
    );
  });

  it('plans the fused head on WebGPU and the composed one on the CPU, rows as long as the model’s context at most', () => {
    const onGpu = planStudioMemory({ model, config: settings(), engine: webgpu(128 * 2 ** 20) });
    const onCpu = planStudioMemory({ model, config: settings(), engine: cpu });
    // max_length 1024 is cut to the model's 128 positions.
    expect(onGpu.seq).toBe(128);
    expect(onCpu.lmHead).toBeGreaterThan(onGpu.lmHead);
    expect(onCpu.weights).toBe(core.parameters * 4);
    // The dataset's longest pair shortens the rows when tokenized under the same max_length.
    const stats = { maxLength: 1024, longest: { prompt: 10, chosen: 20, rejected: 6 } } as TokenStats;
    expect(planStudioMemory({ model, config: settings(), engine: cpu, tokenStats: stats }).seq).toBe(30);
    expect(planStudioMemory({ model, config: settings({ max_length: 512 }), engine: cpu, tokenStats: stats }).seq).toBe(128);
  });

  it('takes the device’s limits, WebGPU’s defaults where the engine has not said, none on the CPU', () => {
    expect(deviceLimitsOf(cpu)).toEqual(NO_DEVICE_LIMITS);
    expect(deviceLimitsOf(webgpu(2 ** 30, 2 ** 31))).toEqual({ maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 31 });
    expect(deviceLimitsOf(webgpu(128 * 2 ** 20))).toEqual({ maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 });
  });

  it('refuses a plan over the budget or over a binding, with the setting to change', () => {
    const input = { model, config: settings({ per_device_train_batch_size: 8, max_length: 128 }), engine: webgpu(128 * 2 ** 20) };
    expect(memoryRefusal(input, DEFAULT_MEMORY_BUDGET)).toBeNull();
    expect(memoryRefusal(input, 2 ** 20)).toMatch(
      /over the 1 MiB memory budget: lower per_device_train_batch_size \(8\) or max_length \(128\), or raise the memory budget in Model$/,
    );
    // WebGPU runs flash attention: 64 pairs × 4 heads × 128² float32 would be 32 MiB of attention scores,
    // but no such buffer exists, so a 16 MiB binding holds the plan; its largest buffer is one layer's
    // MLP activations, 128 rows × 128 tokens × 128 float32 = 8 MiB, over a 4 MiB binding.
    const big = { ...input, config: settings({ per_device_train_batch_size: 64, max_length: 128 }), engine: webgpu(16 * 2 ** 20) };
    expect(memoryRefusal(big, DEFAULT_MEMORY_BUDGET)).toBeNull();
    expect(memoryRefusal({ ...big, engine: webgpu(4 * 2 ** 20) }, DEFAULT_MEMORY_BUDGET)).toBe(
      "the MLP activations of one layer need 8 MiB in one buffer, over this device's 4 MiB binding limit: lower per_device_train_batch_size (64) or max_length (128)",
    );
  });

  it('counts the adapter from the model’s own module widths, and grows with batch and length', () => {
    const lora = { r: 8, lora_alpha: 16, lora_dropout: 0, use_rslora: false, target_modules: [] };
    const at = (pairs: number, length: number) =>
      planStudioMemory({ model, config: { ...settings({ per_device_train_batch_size: pairs, max_length: length }), lora }, engine: cpu });
    const small = at(1, 16);
    // PEFT's defaults for Qwen2: q_proj [64 → 64] and v_proj [64 → 32] per layer, A and B, with gradient and both moments.
    expect(small.adapter).toBe(layers * 8 * (d + d + d + kv) * 4 * 4);
    expect(small.total).toBe(small.weights + small.adapter + small.activations + small.lmHead);
    const big = at(4, 32);
    expect(big.activations).toBeGreaterThan(8 * small.activations);
    expect(big.weights).toBe(small.weights);
  });
});
