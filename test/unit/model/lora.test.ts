import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { cloneAdapterFrozen, createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import type { Architecture, CausalLM, ForwardOptions, LoraAdapter, LoraConfig } from '../../../src/core/model/types';
import { logSoftmax64, referenceLogits, relativeMaxError } from './reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

const LLAMA_DIMS: RandomCheckpointDims = {
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};
const GPT2_DIMS: RandomCheckpointDims = { ...LLAMA_DIMS, intermediate_size: 64, num_key_value_heads: 4 };

function tinyModel(arch: Architecture, dims: RandomCheckpointDims, seed = 1, edit?: (configJson: Record<string, unknown>) => void) {
  const { configJson, tensors } = randomCheckpoint(arch, dims, seed, { std: 0.25 });
  edit?.(configJson);
  const host = new Map([...tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
  const model = createCausalLM(parseModelConfig(configJson, 'config.json'), host, 'tiny');
  return { model, configJson, tensors };
}

function loraConfig(overrides: Partial<LoraConfig> = {}): LoraConfig {
  return { r: 4, lora_alpha: 16, lora_dropout: 0, target_modules: [], use_rslora: false, ...overrides };
}

function logits(model: CausalLM, rows: number[][], options: ForwardOptions): Float32Array {
  const out = tf.tidy(() => model.logits(tf.tensor2d(rows, undefined, 'int32'), options));
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return data;
}

/** Gives every B a seeded random value, so the adapter changes the model. */
function randomizeB(adapter: LoraAdapter, seed: number): void {
  let n = 0;
  for (const { B } of adapter.modules.values()) {
    const value = tf.randomNormal(B.shape, 0, 0.1, 'float32', seed + n++);
    B.assign(value);
    value.dispose();
  }
}

/**
 * The base weights with each adapted module's W replaced in float64 by W + scaling·B·A
 * (nn.Linear, [out, in]) or W + scaling·(B·A)ᵀ (Conv1D, [in, out]), as PEFT's merge does.
 */
function mergedWeights(tensors: Tensors, adapter: LoraAdapter, scaling: number, conv1d: boolean) {
  const merged = new Map<string, { shape: number[]; data: Float64Array }>();
  for (const [name, t] of tensors) merged.set(name, { shape: t.shape, data: Float64Array.from(t.data) });
  for (const [path, { A, B }] of adapter.modules) {
    const a = A.dataSync();
    const b = B.dataSync();
    const [r, inF] = A.shape;
    const outF = B.shape[0];
    const w = merged.get(`${path}.weight`)!;
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b[o * r + k] * a[k * inF + i];
        w.data[conv1d ? i * outF + o : o * inF + i] += scaling * s;
      }
    }
  }
  return merged;
}

function referenceLogProbs(configJson: Record<string, unknown>, tensors: Parameters<typeof referenceLogits>[1], rows: number[][]) {
  return Float64Array.from(rows.flatMap((ids) => referenceLogits(configJson, tensors, ids).flatMap((l) => [...logSoftmax64(l)])));
}

function modelLogProbs(model: CausalLM, rows: number[][], options: ForwardOptions) {
  const data = logits(model, rows, options);
  const V = model.config.vocab_size;
  const out: number[] = [];
  for (let p = 0; p < data.length / V; p++) out.push(...logSoftmax64(data.subarray(p * V, (p + 1) * V)));
  return Float64Array.from(out);
}

const ROWS = [
  [3, 14, 15, 9, 26, 5, 35, 8],
  [27, 18, 28, 1, 8, 28, 45, 9],
];

describe('LoRA initialisation', () => {
  it('draws A from U(−1/√in, 1/√in) and sets B to zero, reproducibly per seed', () => {
    const { model } = tinyModel('LlamaForCausalLM', LLAMA_DIMS);
    const adapter = createLoraAdapter(model, loraConfig({ r: 8 }), 42);
    expect([...adapter.modules.keys()]).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    const bound = 1 / Math.sqrt(32);
    const values: number[] = [];
    for (const [path, { A, B }] of adapter.modules) {
      expect(A.shape).toEqual([8, 32]);
      expect(B.shape).toEqual(path.endsWith('v_proj') ? [16, 8] : [32, 8]);
      expect(A.trainable && B.trainable).toBe(true);
      expect([...B.dataSync()].every((v) => v === 0)).toBe(true);
      values.push(...A.dataSync());
    }
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(0.98 * bound);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.1 * bound);
    // Uniform on ±bound has variance bound²/3; 1024 draws put the estimate within a few percent.
    expect(variance / ((bound * bound) / 3)).toBeGreaterThan(0.88);
    expect(variance / ((bound * bound) / 3)).toBeLessThan(1.12);

    const again = createLoraAdapter(model, loraConfig({ r: 8 }), 42);
    const other = createLoraAdapter(model, loraConfig({ r: 8 }), 43);
    const first = (a: LoraAdapter) => [...a.modules.values()][0].A.dataSync();
    expect(first(again)).toEqual(first(adapter));
    expect(first(other)).not.toEqual(first(adapter));
    for (const a of [adapter, again, other]) disposeAdapter(a);
    model.dispose();
  });

  it('scales by lora_alpha / r, or lora_alpha / √r with rsLoRA', () => {
    const { model } = tinyModel('LlamaForCausalLM', LLAMA_DIMS);
    const plain = createLoraAdapter(model, loraConfig({ r: 4, lora_alpha: 16 }), 1);
    const rs = createLoraAdapter(model, loraConfig({ r: 4, lora_alpha: 16, use_rslora: true }), 1);
    expect(plain.scaling).toBe(4);
    expect(rs.scaling).toBe(8);
    disposeAdapter(plain);
    disposeAdapter(rs);
    model.dispose();
  });

  it('with B = 0 the adapted model equals the base exactly', () => {
    const { model } = tinyModel('Qwen2ForCausalLM', LLAMA_DIMS);
    const adapter = createLoraAdapter(model, loraConfig({ target_modules: 'all-linear' }), 5);
    expect(logits(model, ROWS, { adapter })).toEqual(logits(model, ROWS, { adapter: null }));
    disposeAdapter(adapter);
    model.dispose();
  });
});

describe('target module selection', () => {
  it('all-linear takes every projection and never the output head', () => {
    const { model } = tinyModel('LlamaForCausalLM', LLAMA_DIMS);
    const adapter = createLoraAdapter(model, loraConfig({ target_modules: 'all-linear' }), 1);
    const names = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
    const expected = [0, 1].flatMap((l) =>
      names.map((n) => `model.layers.${l}.${['gate_proj', 'up_proj', 'down_proj'].includes(n) ? 'mlp' : 'self_attn'}.${n}`),
    );
    expect([...adapter.modules.keys()]).toEqual(expected);
    disposeAdapter(adapter);
    model.dispose();

    const gpt2 = tinyModel('GPT2LMHeadModel', GPT2_DIMS).model;
    const all = createLoraAdapter(gpt2, loraConfig({ target_modules: 'all-linear' }), 1);
    expect([...all.modules.keys()]).toEqual(
      [0, 1].flatMap((l) => ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((n) => `transformer.h.${l}.${n}`)),
    );
    disposeAdapter(all);
    gpt2.dispose();
  });

  it('matches targets as PEFT does: the whole path or a dot-separated suffix', () => {
    const { model } = tinyModel('GPT2LMHeadModel', GPT2_DIMS);
    const byDefault = createLoraAdapter(model, loraConfig(), 1);
    expect([...byDefault.modules.keys()]).toEqual(['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']);
    expect(byDefault.config.target_modules).toEqual(['c_attn']);
    const cProj = createLoraAdapter(model, loraConfig({ target_modules: ['c_proj'] }), 1);
    expect(cProj.modules.size).toBe(4);
    const attnOnly = createLoraAdapter(model, loraConfig({ target_modules: ['attn.c_proj', 'transformer.h.1.mlp.c_fc'] }), 1);
    expect([...attnOnly.modules.keys()]).toEqual([
      'transformer.h.0.attn.c_proj',
      'transformer.h.1.attn.c_proj',
      'transformer.h.1.mlp.c_fc',
    ]);
    for (const a of [byDefault, cProj, attnOnly]) disposeAdapter(a);
    model.dispose();
  });

  it('names the available modules when a target matches none', () => {
    const { model } = tinyModel('LlamaForCausalLM', LLAMA_DIMS);
    expect(() => createLoraAdapter(model, loraConfig({ target_modules: ['q_proj', 'qkv_proj'] }), 1)).toThrow(
      /"qkv_proj" matches no linear module of LlamaForCausalLM; available module names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/,
    );
    // "proj" is not a dot-separated suffix of "q_proj".
    expect(() => createLoraAdapter(model, loraConfig({ target_modules: ['proj'] }), 1)).toThrow(/"proj" matches no linear module/);
    expect(() => createLoraAdapter(model, loraConfig({ r: 0 }), 1)).toThrow(/r must be a positive integer/);
    model.dispose();
  });
});

describe('LoRA forward against the merged float64 reference', () => {
  const cases: {
    label: string;
    arch: Architecture;
    dims: RandomCheckpointDims;
    edit?: (configJson: Record<string, unknown>) => void;
    config: LoraConfig;
  }[] = [
    { label: 'Llama, all-linear', arch: 'LlamaForCausalLM', dims: LLAMA_DIMS, config: loraConfig({ target_modules: 'all-linear' }) },
    {
      label: 'Qwen2 (biased q/k/v), rsLoRA',
      arch: 'Qwen2ForCausalLM',
      dims: LLAMA_DIMS,
      config: loraConfig({ target_modules: ['q_proj', 'k_proj', 'v_proj', 'down_proj'], use_rslora: true }),
    },
    {
      label: 'Qwen3 (head_dim 16 ≠ hidden/heads, q/k norms), all-linear',
      arch: 'Qwen3ForCausalLM',
      dims: { ...LLAMA_DIMS, head_dim: 16 },
      config: loraConfig({ target_modules: 'all-linear' }),
    },
    {
      label: 'Gemma 3 (sliding and full layers), attention and MLP, rsLoRA',
      arch: 'Gemma3ForCausalLM',
      dims: { ...LLAMA_DIMS, head_dim: 12 },
      edit: (c) => {
        c.layer_types = ['full_attention', 'sliding_attention'];
        c.sliding_window = 3;
      },
      config: loraConfig({ target_modules: ['q_proj', 'o_proj', 'gate_proj', 'down_proj'], use_rslora: true }),
    },
    {
      label: 'GPT-2 Conv1D (fan_in_fan_out), all-linear',
      arch: 'GPT2LMHeadModel',
      dims: GPT2_DIMS,
      config: loraConfig({ target_modules: 'all-linear' }),
    },
  ];
  for (const c of cases) {
    it(c.label, () => {
      const { model, configJson, tensors } = tinyModel(c.arch, c.dims, 9, c.edit);
      const adapter = createLoraAdapter(model, c.config, 11);
      randomizeB(adapter, 100);
      const adapted = modelLogProbs(model, ROWS, { adapter });
      const { r, lora_alpha, use_rslora } = c.config;
      const scaling = use_rslora ? lora_alpha / Math.sqrt(r) : lora_alpha / r;
      const merged = mergedWeights(tensors, adapter, scaling, c.arch === 'GPT2LMHeadModel');
      expect(relativeMaxError(adapted, referenceLogProbs(configJson, merged, ROWS))).toBeLessThan(1e-4);
      // The adapter really moves the model, so the comparison above could have failed.
      expect(relativeMaxError(modelLogProbs(model, ROWS, { adapter: null }), adapted)).toBeGreaterThan(1e-2);
      disposeAdapter(adapter);
      model.dispose();
    });
  }
});

describe('LoRA dropout', () => {
  it('applies only when asked, with masks fixed by the seed, and never to the base path', () => {
    const { model } = tinyModel('LlamaForCausalLM', LLAMA_DIMS);
    const adapter = createLoraAdapter(model, loraConfig({ lora_dropout: 0.5 }), 3);
    const base = logits(model, ROWS, { adapter: null });
    // B = 0: dropout on the LoRA input changes nothing.
    expect(logits(model, ROWS, { adapter, dropout: true, dropoutSeed: 1 })).toEqual(base);
    randomizeB(adapter, 7);
    const off = logits(model, ROWS, { adapter });
    const seeded = logits(model, ROWS, { adapter, dropout: true, dropoutSeed: 1 });
    expect(logits(model, ROWS, { adapter, dropout: true, dropoutSeed: 1 })).toEqual(seeded);
    expect(seeded).not.toEqual(off);
    expect(logits(model, ROWS, { adapter, dropout: true, dropoutSeed: 2 })).not.toEqual(seeded);
    disposeAdapter(adapter);
    model.dispose();
  });
});

describe('frozen clone and disposal', () => {
  it('copies values into non-trainable variables that do not follow the original', () => {
    const { model } = tinyModel('LlamaForCausalLM', LLAMA_DIMS);
    const adapter = createLoraAdapter(model, loraConfig(), 3);
    randomizeB(adapter, 1);
    const frozen = cloneAdapterFrozen(adapter);
    expect(frozen.scaling).toBe(adapter.scaling);
    expect(logits(model, ROWS, { adapter: frozen })).toEqual(logits(model, ROWS, { adapter }));
    for (const [path, { A, B }] of frozen.modules) {
      expect(A.trainable || B.trainable).toBe(false);
      const original = adapter.modules.get(path)!;
      expect(A.dataSync()).toEqual(original.A.dataSync());
      expect(B.dataSync()).toEqual(original.B.dataSync());
    }
    const before = [...frozen.modules.values()][0].B.dataSync().slice();
    randomizeB(adapter, 2);
    expect([...frozen.modules.values()][0].B.dataSync()).toEqual(before);

    const count = tf.memory().numTensors;
    disposeAdapter(frozen);
    expect(tf.memory().numTensors).toBe(count - 2 * adapter.modules.size);
    disposeAdapter(adapter);
    model.dispose();
  });
});
