import { describe, expect, it } from 'vitest';
import { estimateTrainingMemory } from '../../../src/app/memory';
import type { ModelInfo } from '../../../src/worker/protocol';

/** A Llama-shaped model: hidden 64, 2 layers, 4 heads of which 2 key/value heads (kv width 32), MLP 128. */
const d = 64;
const kv = 32;
const ffn = 128;
const layers = 2;
const model: ModelInfo = {
  id: 'test',
  name: 'test',
  architecture: 'LlamaForCausalLM',
  modelType: 'llama',
  hiddenSize: d,
  intermediateSize: ffn,
  layers,
  heads: 4,
  kvHeads: 2,
  vocabSize: 100,
  maxPositions: 128,
  tiedEmbeddings: true,
  parameters: 123_456,
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
};
const lora = { r: 8, lora_alpha: 16, lora_dropout: 0, use_rslora: false };

describe('estimateTrainingMemory', () => {
  it('counts the adapter from the model’s own module sizes: A and B, their gradients and both AdamW moments', () => {
    // PEFT's defaults for Llama: q_proj [64 → 64] and v_proj [64 → 32] in each layer; A is r × in, B is out × r.
    const params = layers * (8 * (d + d) + 8 * (d + kv));
    expect(estimateTrainingMemory(model, { ...lora, target_modules: [] }, 1, 16).adapter).toBe(params * 4 * 4);
    const all = Object.values(model.linearModuleFeatures).reduce((a, b) => a + b, 0) * 8;
    expect(estimateTrainingMemory(model, { ...lora, target_modules: 'all-linear' }, 1, 16).adapter).toBe(all * 4 * 4);
  });

  it('adds float32 weights, activations and logits, growing with batch and length', () => {
    const small = estimateTrainingMemory(model, { ...lora, target_modules: [] }, 1, 16);
    expect(small.weights).toBe(123_456 * 4);
    expect(small.logits).toBe(2 * 16 * 100 * 4 * 2);
    expect(small.total).toBe(small.weights + small.adapter + small.activations + small.logits);
    const big = estimateTrainingMemory(model, { ...lora, target_modules: [] }, 4, 32);
    expect(big.activations).toBeGreaterThan(8 * small.activations);
    expect(big.weights).toBe(small.weights);
  });
});
