import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCausalLM } from '../../../src/core/model/load';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import { serializeSafetensors } from '../../../src/core/model/safetensors';
import { memorySource } from '../../../src/core/model/sources';
import type { Architecture, CausalLM } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';
import { logSoftmax64, referenceLogits, relativeMaxError, type ReferenceTensors } from './reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

function folder(configJson: Record<string, unknown>, tensors: Tensors) {
  return memorySource(
    new Map<string, Uint8Array | string>([
      ['config.json', JSON.stringify(configJson)],
      ['model.safetensors', serializeSafetensors(tensors)],
    ]),
    'tiny-model',
  );
}

/** Log-softmax of the model's logits, per row and position, in float64. */
function modelLogProbs(model: CausalLM, rows: number[][]): Float64Array[][] {
  const logits = tf.tidy(() => model.logits(tf.tensor2d(rows, undefined, 'int32'), { adapter: null }));
  const data = logits.dataSync();
  const [B, T, V] = logits.shape;
  logits.dispose();
  return Array.from({ length: B }, (_, b) =>
    Array.from({ length: T }, (_, t) => logSoftmax64(data.subarray((b * T + t) * V, (b * T + t + 1) * V))),
  );
}

function referenceLogProbs(configJson: Record<string, unknown>, tensors: ReferenceTensors, ids: number[]): Float64Array[] {
  return referenceLogits(configJson, tensors, ids).map(logSoftmax64);
}

function flat(rows: Float64Array[]): Float64Array {
  return Float64Array.from(rows.flatMap((r) => [...r]));
}

function randomIds(rng: Rng, vocab: number, length: number): number[] {
  return Array.from({ length }, () => rng.int(vocab));
}

interface Case {
  label: string;
  arch: Architecture;
  dims: RandomCheckpointDims;
  edit?: (configJson: Record<string, unknown>) => void;
}

const CASES: Case[] = [
  {
    label: 'Llama, grouped-query attention (4 heads, 2 KV heads), tied embeddings',
    arch: 'LlamaForCausalLM',
    dims: {
      vocab_size: 96,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      tie_word_embeddings: true,
    },
  },
  {
    label: 'Llama 3 rope_scaling (head_dim 16 puts frequencies in all three bands)',
    arch: 'LlamaForCausalLM',
    dims: { vocab_size: 80, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1 },
    edit: (c) => {
      c.rope_theta = 500000;
      c.rope_scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    },
  },
  {
    label: 'Llama with linear rope scaling',
    arch: 'LlamaForCausalLM',
    dims: { vocab_size: 72, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4 },
    edit: (c) => {
      c.rope_scaling = { type: 'linear', factor: 4 };
    },
  },
  {
    label: 'Mistral with a sliding window of 4 (shorter than the sequences)',
    arch: 'MistralForCausalLM',
    dims: { vocab_size: 64, hidden_size: 32, intermediate_size: 56, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 },
    edit: (c) => {
      c.sliding_window = 4;
    },
  },
  {
    label: 'Qwen2 with q/k/v biases and rope_theta 1e6',
    arch: 'Qwen2ForCausalLM',
    dims: {
      vocab_size: 120,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      tie_word_embeddings: true,
    },
  },
  {
    label: 'Qwen3: head_dim 16 ≠ hidden/heads (q is 64 wide on a 32 hidden), GQA (4 heads, 2 KV heads), q/k norms, tied',
    arch: 'Qwen3ForCausalLM',
    dims: {
      vocab_size: 88,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      tie_word_embeddings: true,
    },
  },
  {
    label: 'Gemma 3: sliding window 3 on mixed layer types, query_pre_attn_scalar ≠ head_dim, local and global RoPE bases',
    arch: 'Gemma3ForCausalLM',
    dims: {
      vocab_size: 76,
      hidden_size: 32,
      intermediate_size: 40,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 12,
    },
    edit: (c) => {
      c.layer_types = ['sliding_attention', 'full_attention', 'sliding_attention', 'sliding_attention'];
      c.sliding_window = 3;
      c.query_pre_attn_scalar = 20;
      c.rope_theta = 500;
      c.rope_local_base_freq = 40;
    },
  },
  {
    label: 'Gemma 3: layers from sliding_window_pattern 2, linear rope scaling on full layers, untied head, MQA',
    arch: 'Gemma3ForCausalLM',
    dims: {
      vocab_size: 70,
      hidden_size: 24,
      intermediate_size: 36,
      num_hidden_layers: 3,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 16,
      tie_word_embeddings: false,
    },
    edit: (c) => {
      delete c.layer_types;
      c.sliding_window_pattern = 2;
      c.sliding_window = 4;
      c.rope_theta = 1000;
      c.rope_scaling = { rope_type: 'linear', factor: 3 };
    },
  },
  {
    label: 'GPT-2',
    arch: 'GPT2LMHeadModel',
    dims: {
      vocab_size: 100,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      max_position_embeddings: 16,
    },
  },
];

const GPT2_CASE = CASES.findIndex((c) => c.arch === 'GPT2LMHeadModel');
const QWEN3_CASE = CASES.findIndex((c) => c.arch === 'Qwen3ForCausalLM');
const GEMMA3_CASE = CASES.findIndex((c) => c.arch === 'Gemma3ForCausalLM');

// Larger than initializer_range so that attention is far from uniform and every weight moves the logits.
const STD = 0.25;
const TOLERANCE = 1e-4;

describe('architectures against the float64 reference', () => {
  for (const [index, c] of CASES.entries()) {
    it(c.label, async () => {
      const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 100 + index, { std: STD });
      c.edit?.(configJson);
      const { model, config } = await loadCausalLM(folder(configJson, tensors));
      expect(config.architecture).toBe(c.arch);
      const rng = new Rng(7 + index);
      let worst = 0;
      const check = (got: Float64Array, want: Float64Array) => {
        const error = relativeMaxError(got, want);
        worst = Math.max(worst, error);
        expect(error).toBeLessThan(TOLERANCE);
      };
      const V = c.dims.vocab_size;

      // Full-length rows.
      const rows = [randomIds(rng, V, 10), randomIds(rng, V, 10), randomIds(rng, V, 10)];
      const got = modelLogProbs(model, rows);
      rows.forEach((ids, r) => check(flat(got[r]), flat(referenceLogProbs(configJson, tensors, ids))));

      // A right-padded batch: each row's real positions equal the unpadded sequence's.
      const lengths = [12, 7, 3];
      const sequences = lengths.map((n) => randomIds(rng, V, n));
      const pad = V - 1;
      const padded = sequences.map((s) => [...s, ...Array<number>(12 - s.length).fill(pad)]);
      const gotPadded = modelLogProbs(model, padded);
      sequences.forEach((ids, r) => check(flat(gotPadded[r].slice(0, ids.length)), flat(referenceLogProbs(configJson, tensors, ids))));
      if (process.env.REPORT_REFERENCE_ERRORS) console.log(`${c.label}: largest relative error ${worst.toExponential(2)}`);
      model.dispose();
    });
  }

  it('the rope-scaling and sliding-window cases would fail if the feature were ignored', () => {
    const rng = new Rng(3);
    for (const [index, strip] of [
      [1, (c: Record<string, unknown>) => delete c.rope_scaling],
      [2, (c: Record<string, unknown>) => delete c.rope_scaling],
      [3, (c: Record<string, unknown>) => delete c.sliding_window],
      // Without them the layers would see keys 4096 back (Gemma3TextConfig's default), or all slide (pattern 6).
      [GEMMA3_CASE, (c: Record<string, unknown>) => delete c.sliding_window],
      [GEMMA3_CASE, (c: Record<string, unknown>) => delete c.layer_types],
      [GEMMA3_CASE, (c: Record<string, unknown>) => delete c.rope_local_base_freq],
      [GEMMA3_CASE, (c: Record<string, unknown>) => delete c.query_pre_attn_scalar],
      [GEMMA3_CASE + 1, (c: Record<string, unknown>) => delete c.rope_scaling],
      [GEMMA3_CASE + 1, (c: Record<string, unknown>) => delete c.sliding_window_pattern],
    ] as const) {
      const c = CASES[index];
      const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 100 + index, { std: STD });
      c.edit?.(configJson);
      const plain = { ...configJson };
      strip(plain);
      const ids = randomIds(rng, c.dims.vocab_size, 12);
      const withFeature = flat(referenceLogProbs(configJson, tensors, ids));
      const without = flat(referenceLogProbs(plain, tensors, ids));
      expect(relativeMaxError(without, withFeature)).toBeGreaterThan(100 * TOLERANCE);
    }
  });

  it('Llama with attention_bias and mlp_bias biases every projection, o_proj included', async () => {
    const c = CASES[0];
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 8, { std: STD });
    configJson.attention_bias = true;
    configJson.mlp_bias = true;
    await expect(loadCausalLM(folder(configJson, tensors))).rejects.toThrow('missing tensor "model.layers.0.self_attn.q_proj.bias"');
    const rng = new Rng(4);
    for (const [name, t] of [...tensors]) {
      if (!/_proj\.weight$/.test(name)) continue;
      const out = t.shape[0];
      tensors.set(name.replace(/weight$/, 'bias'), { shape: [out], data: Float32Array.from({ length: out }, () => 0.3 * rng.normal()) });
    }
    const { model } = await loadCausalLM(folder(configJson, tensors));
    const ids = randomIds(rng, c.dims.vocab_size, 9);
    const got = modelLogProbs(model, [ids])[0];
    expect(relativeMaxError(flat(got), flat(referenceLogProbs(configJson, tensors, ids)))).toBeLessThan(TOLERANCE);
    model.dispose();
  });

  it('Qwen3 and Gemma 3 read q_proj at num_attention_heads · head_dim wide, not hidden_size', async () => {
    for (const index of [QWEN3_CASE, GEMMA3_CASE]) {
      const c = CASES[index];
      const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 100 + index, { std: STD });
      const width = c.dims.num_attention_heads * c.dims.head_dim!;
      expect(width).not.toBe(c.dims.hidden_size);
      expect(tensors.get('model.layers.0.self_attn.q_proj.weight')!.shape).toEqual([width, c.dims.hidden_size]);
      expect(tensors.get('model.layers.0.self_attn.o_proj.weight')!.shape).toEqual([c.dims.hidden_size, width]);
      expect(tensors.get('model.layers.0.self_attn.k_norm.weight')!.shape).toEqual([c.dims.head_dim]);
      // Loading checks every shape against the config, so a checkpoint cut for hidden/heads is refused.
      configJson.head_dim = c.dims.hidden_size / c.dims.num_attention_heads;
      await expect(loadCausalLM(folder(configJson, tensors))).rejects.toThrow(/self_attn\.q_proj\.weight" has shape/);
    }
  });

  it('Qwen3 with attention_bias biases q, k, v and o', async () => {
    const c = CASES[QWEN3_CASE];
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 9, { std: STD });
    configJson.attention_bias = true;
    await expect(loadCausalLM(folder(configJson, tensors))).rejects.toThrow('missing tensor "model.layers.0.self_attn.q_proj.bias"');
    const rng = new Rng(6);
    for (const [name, t] of [...tensors]) {
      if (!/self_attn\.[qkvo]_proj\.weight$/.test(name)) continue;
      const out = t.shape[0];
      tensors.set(name.replace(/weight$/, 'bias'), { shape: [out], data: Float32Array.from({ length: out }, () => 0.3 * rng.normal()) });
    }
    const { model } = await loadCausalLM(folder(configJson, tensors));
    const ids = randomIds(rng, c.dims.vocab_size, 9);
    expect(relativeMaxError(flat(modelLogProbs(model, [ids])[0]), flat(referenceLogProbs(configJson, tensors, ids)))).toBeLessThan(
      TOLERANCE,
    );
    model.dispose();
  });

  it('reads GPT-2 checkpoints whose names lack the "transformer." prefix, with an untied head', async () => {
    const c = CASES[GPT2_CASE];
    const { configJson, tensors } = randomCheckpoint(c.arch, { ...c.dims, tie_word_embeddings: false }, 5, { std: STD });
    expect(tensors.has('lm_head.weight')).toBe(true);
    const bare: Tensors = new Map([...tensors].map(([name, t]) => [name.replace(/^transformer\./, ''), t]));
    const { model } = await loadCausalLM(folder(configJson, bare));
    const ids = [1, 5, 9, 13, 2, 40];
    const got = modelLogProbs(model, [ids])[0];
    expect(relativeMaxError(flat(got), flat(referenceLogProbs(configJson, tensors, ids)))).toBeLessThan(TOLERANCE);
    model.dispose();
  });

  it('forward passes leave nothing behind but the per-length masks and RoPE tables, which dispose frees', async () => {
    const c = CASES[0];
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 1);
    const before = tf.memory().numTensors;
    const { model } = await loadCausalLM(folder(configJson, tensors));
    const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
    model.logits(ids, { adapter: null }).dispose();
    const afterFirst = tf.memory().numTensors;
    // Same length again, with and without checkpointing: nothing new is kept.
    model.logits(ids, { adapter: null }).dispose();
    model.hidden(ids, { adapter: null, gradientCheckpointing: true }).dispose();
    expect(tf.memory().numTensors).toBe(afterFirst);
    // Lengths beyond the cache's few evict the oldest: the count stays bounded.
    for (const T of [2, 3, 5, 6, 7]) {
      const other = tf.zeros([1, T], 'int32') as tf.Tensor2D;
      model.hidden(other, { adapter: null }).dispose();
      other.dispose();
    }
    expect(tf.memory().numTensors).toBeLessThanOrEqual(afterFirst + 3 * 4);
    ids.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('loading errors', () => {
  const c = CASES[0];

  it('ignores extra tensors such as rotary inv_freq buffers', async () => {
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 2);
    tensors.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [4], data: new Float32Array(4) });
    const { model } = await loadCausalLM(folder(configJson, tensors));
    model.dispose();
  });

  it('names a missing tensor and its expected shape', async () => {
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 2);
    tensors.delete('model.layers.1.mlp.up_proj.weight');
    await expect(loadCausalLM(folder(configJson, tensors))).rejects.toThrow(
      /tiny-model.*missing tensor "model\.layers\.1\.mlp\.up_proj\.weight" \(expected shape \[48, 32\]\)/s,
    );
  });

  it('names a tensor of the wrong shape with expected and actual shapes', async () => {
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 2);
    const k = tensors.get('model.layers.0.self_attn.k_proj.weight')!;
    expect(k.shape).toEqual([16, 32]);
    tensors.set('model.layers.0.self_attn.k_proj.weight', { shape: [32, 16], data: k.data });
    await expect(loadCausalLM(folder(configJson, tensors))).rejects.toThrow(
      'tensor "model.layers.0.self_attn.k_proj.weight" has shape [32, 16], expected [16, 32]',
    );
  });

  it('wants lm_head.weight when embeddings are not tied', async () => {
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 2);
    configJson.tie_word_embeddings = false;
    await expect(loadCausalLM(folder(configJson, tensors))).rejects.toThrow('missing tensor "lm_head.weight" (expected shape [96, 32])');
  });

  it('refuses an unsupported architecture by name', async () => {
    const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 2);
    configJson.architectures = ['FalconForCausalLM'];
    await expect(loadCausalLM(folder(configJson, tensors))).rejects.toThrow(/"FalconForCausalLM" is not supported/);
  });
});
