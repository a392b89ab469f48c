import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM, loadCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import { serializeSafetensors } from '../../../src/core/model/safetensors';
import { memorySource } from '../../../src/core/model/sources';
import type { Architecture, CausalLM, FileSource } from '../../../src/core/model/types';
import { lookupRows, matMulRows, matMulTransposed, RowSlices, uploadWeight } from '../../../src/core/model/weights';
import { Rng } from '../../../src/core/random';

/**
 * Weights larger than one device buffer are kept in row blocks. These tests hold the blocked paths
 * (embedding lookup, LM head, linear layers, their gradients) to the whole-tensor ones, and the
 * streaming loader to reading one tensor's bytes at a time.
 */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomData(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

describe('row blocks', () => {
  it('splits a 2-D weight over the limit into blocks within it, and keeps one under it whole', () => {
    const data = randomData(10 * 6, 1);
    const blocked = uploadWeight('w', [10, 6], data, 4 * 6 * 3);
    expect(blocked).toBeInstanceOf(RowSlices);
    const slices = (blocked as RowSlices).slices;
    expect(slices.map((s) => s.shape)).toEqual([
      [3, 6],
      [3, 6],
      [3, 6],
      [1, 6],
    ]);
    expect((blocked as RowSlices).shape).toEqual([10, 6]);
    expect(Array.from(tf.concat([...slices]).dataSync())).toEqual(Array.from(data));
    const whole = uploadWeight('w', [10, 6], data, 4 * 60);
    expect(whole).not.toBeInstanceOf(RowSlices);
    blocked.dispose();
    whole.dispose();
  });

  it('refuses a tensor over the limit that is not 2-D, naming it', () => {
    expect(() => uploadWeight('model.norm.weight', [64], randomData(64, 2), 100)).toThrow(
      /tensor "model\.norm\.weight" \[64\] takes 256 bytes, more than the device binds at once \(100 bytes\), and only 2-D weights can be split/,
    );
  });

  it('looks rows up across blocks, multiplies by the blocks and their transpose as by the whole', () => {
    const data = randomData(11 * 5, 3);
    const whole = tf.tensor2d(data, [11, 5]);
    const blocked = uploadWeight('w', [11, 5], data, 4 * 5 * 4) as RowSlices;
    expect(blocked.slices.length).toBe(3);
    const ids = tf.tensor1d([0, 10, 3, 4, 7, 8, 3, 0], 'int32');
    expect(lookupRows(blocked, ids).arraySync()).toEqual(tf.gather(whole, ids).arraySync());
    const x = tf.tensor2d(randomData(4 * 5, 4), [4, 5]);
    expect(matMulTransposed(x, blocked).arraySync()).toEqual(tf.matMul(x, whole, false, true).arraySync());
    const y = tf.tensor2d(randomData(4 * 11, 5), [4, 11]);
    const rows = matMulRows(y, blocked).dataSync();
    const expected = tf.matMul(y, whole).dataSync();
    rows.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });
});

const DIMS: RandomCheckpointDims = {
  vocab_size: 67,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

const IDS = [
  [3, 60, 12, 7, 66, 0, 41],
  [5, 5, 33, 20, 1, 64, 9],
];

/** Log-probs of the labels and the LoRA gradients of their sum, for one model. */
function scoreAndGradients(model: CausalLM, seed: number) {
  const adapter = createLoraAdapter(model, { r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false }, seed);
  // PEFT starts B at zero; random B makes both A's and B's gradients non-zero.
  const rng = new Rng(seed + 1);
  for (const { B } of adapter.modules.values()) B.assign(tf.tensor(randomData(B.size, rng.int(1e6)), B.shape));
  const ids = tf.tensor2d(IDS, undefined, 'int32');
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const logits = model.logits(ids, { adapter });
      return tf.sum(tf.mul(tf.logSoftmax(logits), 0.01));
    }),
  );
  const out = {
    value: value.dataSync()[0],
    logits: model.logits(ids, { adapter: null }).dataSync(),
    grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k.replace(/_\d+$/, ''), g.dataSync()])),
  };
  disposeAdapter(adapter);
  return out;
}

describe.each<[Architecture, boolean]>([
  ['LlamaForCausalLM', false],
  ['Qwen2ForCausalLM', true],
  ['GPT2LMHeadModel', true],
  ['Qwen3ForCausalLM', false],
  ['Gemma3ForCausalLM', true],
])('%s (tied %s) with every 2-D weight in row blocks', (arch, tied) => {
  it('gives the logits and LoRA gradients of the whole-tensor model', () => {
    const dims = arch === 'GPT2LMHeadModel' ? { ...DIMS, num_key_value_heads: DIMS.num_attention_heads } : DIMS;
    const checkpoint = randomCheckpoint(arch, { ...dims, tie_word_embeddings: tied }, 7);
    const config = parseModelConfig(checkpoint.configJson, 'random');
    const whole = createCausalLM(config, checkpoint.tensors, 'whole');
    // 640 bytes: 10 rows of the 16-wide embedding, so the 67-row vocabulary spans 7 blocks.
    const blocked = createCausalLM(config, checkpoint.tensors, 'blocked', { maxBindingBytes: 640 });
    const head = blocked.headWeight();
    expect(Array.isArray(head) && head.length).toBe(7);
    const a = scoreAndGradients(whole, 11);
    const b = scoreAndGradients(blocked, 11);
    expect(b.value).toBeCloseTo(a.value, 4);
    const maxLogit = Math.max(...Array.from(a.logits, Math.abs));
    for (let i = 0; i < a.logits.length; i++) expect(Math.abs(b.logits[i] - a.logits[i])).toBeLessThan(1e-5 * maxLogit);
    expect(Object.keys(b.grads).length).toBe(Object.keys(a.grads).length);
    for (const g of Object.values(a.grads)) expect(g.some((v) => v !== 0)).toBe(true);
    const aGrads = Object.values(a.grads);
    const bGrads = Object.values(b.grads);
    aGrads.forEach((g, k) => {
      const scale = Math.max(...Array.from(g, Math.abs));
      g.forEach((v, i) => expect(Math.abs(bGrads[k][i] - v)).toBeLessThan(1e-4 * scale));
    });
    whole.dispose();
    blocked.dispose();
  });
});

describe('loadCausalLM streams the checkpoint', () => {
  it('reads the headers, then each tensor alone, and puts weights over the limit in row blocks', async () => {
    const checkpoint = randomCheckpoint('LlamaForCausalLM', DIMS, 9);
    const names = [...checkpoint.tensors.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)].map((group) =>
      serializeSafetensors(new Map(group.map((n) => [n, checkpoint.tensors.get(n)!])), { dtype: 'BF16' }),
    );
    const weightMap = Object.fromEntries(names.map((n, i) => [n, `model-0000${i < half ? 1 : 2}-of-00002.safetensors`]));
    const files = new Map<string, Uint8Array | string>([
      ['config.json', JSON.stringify(checkpoint.configJson)],
      ['model.safetensors.index.json', JSON.stringify({ metadata: {}, weight_map: weightMap })],
      ['model-00001-of-00002.safetensors', shards[0]],
      ['model-00002-of-00002.safetensors', shards[1]],
    ]);
    const memory = memorySource(files, 'sharded-bf16');
    const wholeReads: string[] = [];
    const rangeBytes: number[] = [];
    const src: FileSource = {
      name: memory.name,
      readText: (path) => memory.readText(path),
      readBytes: (path) => (wholeReads.push(path), memory.readBytes(path)),
      readRange: (path, start, end) => (rangeBytes.push(end - start), memory.readRange!(path, start, end)),
    };
    const loaded: string[] = [];
    const { model } = await loadCausalLM(src, {
      maxBindingBytes: 640,
      onTensor: (name, done, total) => loaded.push(`${done}/${total} ${name}`),
    });
    expect(wholeReads.filter((p) => p.endsWith('.safetensors'))).toEqual([]);
    // Weights over the limit were read a block of rows at a time: no read holds the embedding whole.
    const embeddingBytes = DIMS.vocab_size * DIMS.hidden_size * 2;
    const headerBytes = shards.map((s) => new DataView(s.buffer).getUint32(0, true));
    expect(Math.max(...rangeBytes)).toBeLessThan(embeddingBytes);
    expect(Math.max(...rangeBytes)).toBeLessThanOrEqual(Math.max(4 * DIMS.hidden_size * 2, 16 * 16 * 2, ...headerBytes));
    expect(loaded.length).toBe(names.length);
    expect(loaded.at(-1)).toMatch(new RegExp(`^${names.length}/${names.length} `));
    // The device blocks are the limit's 10 rows (the last 7), whatever the pieces were.
    const head = model.headWeight() as readonly tf.Tensor2D[];
    expect(head.map((b) => b.shape[0])).toEqual([10, 10, 10, 10, 10, 10, 7]);
    // The same checkpoint loaded whole gives the same logits.
    const { model: whole } = await loadCausalLM(memory);
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    expect(model.logits(ids, { adapter: null }).arraySync()).toEqual(whole.logits(ids, { adapter: null }).arraySync());
    whole.dispose();
    model.dispose();
  });

  it('checks every tensor from the headers before reading any data', async () => {
    const checkpoint = randomCheckpoint('LlamaForCausalLM', DIMS, 9);
    checkpoint.tensors.delete('model.layers.1.mlp.down_proj.weight');
    const memory = memorySource(
      new Map<string, Uint8Array | string>([
        ['config.json', JSON.stringify(checkpoint.configJson)],
        ['model.safetensors', serializeSafetensors(checkpoint.tensors)],
      ]),
      'incomplete',
    );
    const ranges: number[] = [];
    const src: FileSource = { ...memory, readRange: (path, start, end) => (ranges.push(end - start), memory.readRange!(path, start, end)) };
    await expect(loadCausalLM(src)).rejects.toThrow(/missing tensor "model\.layers\.1\.mlp\.down_proj\.weight"/);
    expect(ranges.length).toBe(2);
  });
});
