import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collatePreference } from '../../../src/core/data/collate';
import { DEFAULT_DPO_CONFIG, type DPOConfig } from '../../../src/core/dpo/config';
import { referenceLogps } from '../../../src/core/dpo/batch';
import { completionIndex } from '../../../src/core/dpo/logps';
import { DPOTrainer } from '../../../src/core/dpo/trainer';
import { DEFAULT_MAX_CHUNK_BYTES, planLmHeadChunks } from '../../../src/core/kernels/lm-head-logps';
import { architectureOf } from '../../../src/core/model/architectures/registry';
import { parseModelConfig } from '../../../src/core/model/config';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import type { ModelConfig } from '../../../src/core/model/types';
import { tensorMemoryMeter } from '../../../src/core/train/memory-meter';
import {
  checkMemoryPlan,
  LM_HEAD_BLOCK_BYTES,
  modelShapeOf,
  NO_DEVICE_LIMITS,
  planTrainingMemory,
  type MemoryPlanInput,
} from '../../../src/core/train/memory-plan';
import { examplePairs, tinyModel, tokenize } from '../../helpers/tiny';

const MiB = 2 ** 20;

function config(raw: Record<string, unknown>): ModelConfig {
  return parseModelConfig(raw, 'test');
}

/** Llama: hidden 16, 2 heads of 8 (1 key/value head), MLP 32, vocabulary 50, 2 layers, tied. */
const tiny = config({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 50,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  tie_word_embeddings: true,
});

const qwen05 = config({
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
  max_position_embeddings: 32768,
});

const WEBGPU_DEFAULTS = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };

function input(c: ModelConfig, o: Partial<MemoryPlanInput> = {}): MemoryPlanInput {
  return {
    model: modelShapeOf(c, architectureOf(c)),
    lora: { r: 2, target_modules: ['q_proj'] },
    per_device_train_batch_size: 1,
    max_length: 4,
    gradient_checkpointing: false,
    precompute_ref_log_probs: false,
    lmHead: 'composed',
    limits: NO_DEVICE_LIMITS,
    ...o,
  };
}

describe('planTrainingMemory against hand counts', () => {
  it('reads the shape from config.json: every weight once, one layer’s linears with their widths', () => {
    const shape = modelShapeOf(tiny, architectureOf(tiny));
    // embed 50·16; per layer: 2 norms, q 16·16, k 8·16, v 8·16, o 16·16, gate/up 32·16, down 16·32; final norm.
    const perLayer = 2 * 16 + 256 + 128 + 128 + 256 + 3 * 512;
    expect(shape.parameters).toBe(800 + 2 * perLayer + 16);
    expect(shape.linears.map((l) => [l.path, l.inFeatures, l.outFeatures])).toEqual([
      ['self_attn.q_proj', 16, 16],
      ['self_attn.k_proj', 16, 8],
      ['self_attn.v_proj', 16, 8],
      ['self_attn.o_proj', 16, 16],
      ['mlp.gate_proj', 16, 32],
      ['mlp.up_proj', 16, 32],
      ['mlp.down_proj', 32, 16],
    ]);
  });

  it('a tiny Llama: 1 pair of 4 tokens, LoRA r=2 on q_proj, composed LM head, no checkpointing', () => {
    const plan = planTrainingMemory(input(tiny));
    // d 16, q width 16, k width 8, MLP 32, attention floats per row-token H·T = 8; rows 2, n = 8 row-tokens.
    // One layer's saved activations per row-token: 10d + 9q + 8k + 5f + 3·H·T + 6, plus q_proj's
    // adapter (its base output and LoRA term, x·Aᵀ and the scaled copy: 2·16 + 2·2).
    const act = 10 * 16 + 9 * 16 + 8 * 8 + 5 * 32 + 3 * 8 + 6 + (2 * 16 + 2 * 2);
    // Its gradients: 6f + 7d (MLP, post norm) + 8q + 7k + 3·H·T (attention) + (8 + 1 adapter)·d (input
    // norm, projections' inputs) + 4 statistics + 2r for the adapter.
    const grad = 6 * 32 + 7 * 16 + 8 * 16 + 7 * 8 + 3 * 8 + 9 * 16 + 4 + 2 * 2;
    // The first layer's gradients stop at q_proj's adapter: no input norm (5d + 2), no k and v
    // projections' input gradients (2d), no k chain (5k) or v chain (2k).
    const skipped = 5 * 16 + 2 + 2 * 16 + 5 * 8 + 2 * 8;
    const finalNorm = 4 * 16 + 3 + (5 * 16 + 2);
    const ids = 1;
    const tables = 4 * 4 + 2 * 4 * 8 + 8 * 8;
    expect(act).toBe(594);
    expect(grad).toBe(664);
    expect(plan.activations).toBe((2 * (act + grad) - skipped + finalNorm + ids) * 8 * 4 + tables * 4);
    // 6 scored positions (3 a row): hidden and its gradient, logits and exp saved, 6 logit gradients, 1 being summed.
    expect(plan.lmHead).toBe((2 * 6 * 16 + 9 * 6 * 50) * 4);
    expect(plan.weights).toBe(modelShapeOf(tiny, architectureOf(tiny)).parameters * 4);
    // A and B of q_proj in 2 layers: 2·(2·16 + 16·2) parameters, with gradient and two moments.
    expect(plan.adapter).toBe(2 * (2 * 16 + 16 * 2) * 4 * 4);
    expect(plan.total).toBe(plan.weights + plan.adapter + plan.activations + plan.lmHead);
    expect(plan.peakPass).toBe('training step');
    // The forward-only reference pass: one layer's intermediates (without the adapter) beside its input, then the head.
    expect(plan.forwardBytes).toBe((act - 36 + 16 + 4 * 16 + 3 + ids) * 8 * 4 + tables * 4);
  });

  it('with gradient checkpointing: layer inputs and their gradients, and one layer recomputed whole', () => {
    const plan = planTrainingMemory(input(tiny, { gradient_checkpointing: true }));
    const act = 594;
    const grad = 664;
    const tables = 4 * 4 + 2 * 4 * 8 + 8 * 8;
    expect(plan.stepBytes - plan.lmHead).toBe((2 * 2 * 16 + act + grad + 16 + 4 * 16 + 3 + (5 * 16 + 2) + 1) * 8 * 4 + tables * 4);
  });

  it('Qwen2.5-0.5B (vocabulary 151,936, hidden 896, 24 layers, 14/2 heads, MLP 4,864, tied): TRL’s defaults on WebGPU’s default limits', () => {
    const shape = modelShapeOf(qwen05, architectureOf(qwen05));
    expect(shape.parameters).toBe(494_032_768);
    const plan = planTrainingMemory(
      input(qwen05, {
        lora: { r: 16, target_modules: [] },
        per_device_train_batch_size: 8,
        max_length: 1024,
        gradient_checkpointing: true,
        lmHead: 'fused',
        limits: WEBGPU_DEFAULTS,
      }),
    );
    expect(plan.weights).toBe(494_032_768 * 4);
    // PEFT's defaults for Qwen2: q_proj (896 → 896) and v_proj (896 → 128), r 16, in 24 layers.
    expect(plan.adapter).toBe(24 * 16 * (896 + 896 + 896 + 128) * 4 * 4);
    // The attention scores of one layer: 16 rows · 14 heads · 1024² float32 = 896 MiB.
    expect(plan.largestBuffer).toEqual({
      bytes: 16 * 14 * 1024 * 1024 * 4,
      what: 'the attention scores of one layer',
      settings: ['per_device_train_batch_size (8)', 'max_length (1024)'],
    });
    // One layer per row-token (q/k/v biased, adapters on q and v): saved and gradient floats.
    const [d, q, k, f, s] = [896, 896, 128, 4864, 14 * 1024];
    const act = 10 * d + 9 * q + 8 * k + 5 * f + 3 * s + 6 + (2 * 896 + 32) + (2 * 128 + 32) + (896 + 128 + 128);
    const grad = 6 * f + 7 * d + 8 * q + 7 * k + 3 * s + 10 * d + 4 + 2 * 16 * 2;
    const n = 16 * 1024;
    const tables = 1024 * 1024 + 2 * 1024 * 64 + 64 * 64;
    // The reference pass frees each layer as it goes (one layer's intermediates, adapter off): the
    // checkpointed step is the peak.
    expect(plan.peakPass).toBe('training step');
    expect(plan.forwardBytes).toBe((act - (2 * 896 + 32) - (2 * 128 + 32) + d + 4 * d + 3 + 1) * n * 4 + tables * 4);
    expect(plan.stepBytes).toBe(
      (2 * 24 * d + act + grad + d + 4 * d + 3 + 5 * d + 2 + 1) * n * 4 + tables * 4 + (2 * 16 * 1023 * d + 2 * 112 * 37449) * 4,
    );
    // The fused head's block is planLmHeadChunks' own: the head comes in 37,449-row blocks (128 MiB of 896 floats).
    const chunks = planLmHeadChunks(16 * 1023, 37449, 896, 128 * MiB);
    expect(chunks).toEqual({ rowsPerChunk: 112, vocabPerChunk: 37449 });
    expect(LM_HEAD_BLOCK_BYTES).toBe(DEFAULT_MAX_CHUNK_BYTES);
  });
});

describe('checkMemoryPlan', () => {
  const qwen = (o: Partial<MemoryPlanInput>) =>
    planTrainingMemory(input(qwen05, { lora: { r: 16, target_modules: [] }, lmHead: 'fused', limits: WEBGPU_DEFAULTS, ...o }));

  it('with flash attention: no [T, T] tensor, 2q + 2H floats per row-token for attention in each pass', () => {
    const plan = planTrainingMemory(input(tiny, { attention: 'flash' }));
    // The composed count's 3·H·T = 24 becomes 2q + 2H = 2·16 + 2·2 = 36 in the activations and in the gradients.
    const act = 594 - 24 + 36;
    const grad = 664 - 24 + 36;
    const skipped = 5 * 16 + 2 + 2 * 16 + 5 * 8 + 2 * 8;
    const finalNorm = 4 * 16 + 3 + (5 * 16 + 2);
    const tables = 4 * 4 + 2 * 4 * 8 + 8 * 8;
    expect(plan.activations).toBe((2 * (act + grad) - skipped + finalNorm + 1) * 8 * 4 + tables * 4);
    // At Qwen2.5-0.5B's 8 pairs of 1,024 tokens the composed scores (896 MiB) would be refused; flash
    // attention holds none, and the plan's largest buffer is another.
    const qwen = (o: Partial<MemoryPlanInput>) =>
      planTrainingMemory(input(qwen05, { lora: { r: 16, target_modules: [] }, lmHead: 'fused', limits: WEBGPU_DEFAULTS, ...o }));
    const long = qwen({ per_device_train_batch_size: 8, max_length: 1024, gradient_checkpointing: true, attention: 'flash' });
    expect(long.largestBuffer.what).not.toBe('the attention scores of one layer');
    const composed = qwen({ per_device_train_batch_size: 8, max_length: 1024, gradient_checkpointing: true });
    // With checkpointing one layer's activations and gradients are live at once: each loses 3·H·T and
    // gains 2q + 2H floats per row-token (H 14, T 1,024, q 896), over 16 rows × 1,024 tokens.
    expect(composed.activations - long.activations).toBe(2 * (3 * 14 * 1024 - (2 * 896 + 2 * 14)) * 16 * 1024 * 4);
  });

  it('refuses a buffer over the binding limit, naming it, its size, the limit and the settings that shrink it', () => {
    const plan = qwen({ per_device_train_batch_size: 8, max_length: 1024, gradient_checkpointing: true });
    expect(checkMemoryPlan(plan, WEBGPU_DEFAULTS)).toBe(
      "the attention scores of one layer need 896 MiB in one buffer, over this device's 128 MiB binding limit: " +
        'lower per_device_train_batch_size (8) or max_length (1024)',
    );
    // The composed head makes the logits whole: 2 rows × 255 positions × 151,936 float32.
    const composed = qwen({ per_device_train_batch_size: 1, max_length: 256, lmHead: 'composed' });
    expect(checkMemoryPlan(composed, WEBGPU_DEFAULTS)).toBe(
      "the logits need 296 MiB in one buffer, over this device's 128 MiB binding limit: lower per_device_train_batch_size (1) or max_length (256)",
    );
  });

  it('refuses a total over the budget, and says what to change', () => {
    const plan = qwen({ per_device_train_batch_size: 1, max_length: 256, gradient_checkpointing: false });
    expect(checkMemoryPlan(plan, WEBGPU_DEFAULTS)).toBeNull();
    const message = checkMemoryPlan(plan, WEBGPU_DEFAULTS, 4 * 2 ** 30, {
      raiseBudget: 'raise the GPU memory budget',
      gradientCheckpointing: false,
    });
    expect(message).toMatch(
      /^training needs about [\d.]+ GiB \(weights 1\.8 GiB, adapter and AdamW 17 MiB, activations [\d.]+ GiB, LM head \d+ MiB\), over the 4\.0 GiB memory budget: /,
    );
    expect(message).toMatch(
      /: lower per_device_train_batch_size \(1\) or max_length \(256\), or turn gradient_checkpointing on, or raise the GPU memory budget$/,
    );
    expect(checkMemoryPlan(plan, WEBGPU_DEFAULTS, 2 ** 30, { raiseBudget: 'pass a larger --memory_budget_gb' })).toMatch(
      /: the weights alone need 1\.8 GiB; choose a smaller model or pass a larger --memory_budget_gb$/,
    );
    expect(checkMemoryPlan(plan, WEBGPU_DEFAULTS, plan.total)).toBeNull();
  });
});

describe('the plan against tfjs’s measured peak (CPU backend, one DPOTrainer step)', () => {
  const meter = tensorMemoryMeter();
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([false, true])('gradient_checkpointing %s: within a fifth of the peak the step really holds', async (checkpointing) => {
    const before = meter.current;
    const { model, tokenizer } = tinyModel('LlamaForCausalLM', 3, 32);
    // Rows cut to 24 tokens, so the collated batch is exactly max_length long.
    const pairs = tokenize(examplePairs().slice(0, 4), tokenizer, 24).filter((p) => p.prompt_ids.length < 20);
    const c: DPOConfig = {
      ...DEFAULT_DPO_CONFIG,
      max_length: 24,
      per_device_train_batch_size: pairs.length,
      gradient_checkpointing: checkpointing,
      max_steps: 1,
      logging_steps: 1,
    };
    const lora = { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false };
    const policy = createLoraAdapter(model, lora, 5);
    const trainer = new DPOTrainer({
      models: { model, policy, reference: null },
      train: pairs,
      config: c,
      padTokenId: tokenizer.padTokenId!,
    });
    const batch = collatePreference(pairs, {
      max_length: 24,
      max_prompt_length: null,
      truncation_mode: 'keep_start',
      pad_token_id: tokenizer.padTokenId!,
    });
    expect(batch.T).toBe(24);
    const scored = completionIndex(batch).positions.length;
    meter.resetPeak();
    await trainer.step();
    const measured = meter.peak - before;
    const plan = planTrainingMemory({
      model: modelShapeOf(model.config, architectureOf(model.config)),
      lora,
      per_device_train_batch_size: pairs.length,
      max_length: 24,
      gradient_checkpointing: checkpointing,
      precompute_ref_log_probs: false,
      lmHead: 'composed',
      limits: NO_DEVICE_LIMITS,
      scoredPerRow: scored / (2 * pairs.length),
    });
    console.log(
      `memory plan, checkpointing ${checkpointing}: planned ${plan.total} bytes, measured peak ${measured} (${(plan.total / measured).toFixed(3)}×)`,
    );
    expect(plan.total / measured).toBeGreaterThan(0.8);
    expect(plan.total / measured).toBeLessThan(1.2);
    trainer.dispose();
    disposeAdapter(policy);
    model.dispose();
  });

  it('the reference pass: one layer’s intermediates at a time, within 20% of the plan', async () => {
    const { model, tokenizer } = tinyModel('LlamaForCausalLM', 3, 32);
    const pairs = tokenize(examplePairs().slice(0, 4), tokenizer, 24);
    const batch = collatePreference(pairs, {
      max_length: 24,
      max_prompt_length: null,
      truncation_mode: 'keep_start',
      pad_token_id: tokenizer.padTokenId!,
    });
    const index = completionIndex(batch);
    // The mask and RoPE tables of this length are cached by the model: made once, before measuring.
    await referenceLogps({ model, policy: null, reference: null }, batch, index);
    const before = meter.current;
    meter.resetPeak();
    await referenceLogps({ model, policy: null, reference: null }, batch, index);
    const measured = meter.peak - before;
    const plan = planTrainingMemory({
      model: modelShapeOf(model.config, architectureOf(model.config)),
      lora: { r: 4, target_modules: ['q_proj', 'v_proj'] },
      per_device_train_batch_size: pairs.length,
      max_length: batch.T,
      gradient_checkpointing: true,
      precompute_ref_log_probs: false,
      lmHead: 'composed',
      limits: NO_DEVICE_LIMITS,
      scoredPerRow: index.positions.length / (2 * pairs.length),
    });
    const T = batch.T;
    const tables = (T * T + 2 * T * 8 + 8 * 8) * 4;
    const ratio = measured / (plan.forwardBytes - tables);
    console.log(
      `memory plan, reference pass: planned ${plan.forwardBytes - tables} bytes, measured peak ${measured} (${ratio.toFixed(3)}×)`,
    );
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.2);
    model.dispose();
  });
});
