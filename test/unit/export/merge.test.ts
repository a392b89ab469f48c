import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeAdapter, mergedModelFiles, type HostLoraAdapter } from '../../../src/core/export/merge';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM, loadCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import { memorySource } from '../../../src/core/model/sources';
import type { Architecture, CausalLM, HostTensor, LoraAdapter, LoraConfig, ModelConfig } from '../../../src/core/model/types';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const DIMS: RandomCheckpointDims = {
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

const GPT2_DIMS: RandomCheckpointDims = { ...DIMS, num_key_value_heads: 4, max_position_embeddings: 32 };

interface Tiny {
  config: ModelConfig;
  base: Map<string, HostTensor>;
  model: CausalLM;
}

function tiny(arch: Architecture, dims: RandomCheckpointDims, seed: number): Tiny {
  const { configJson, tensors } = randomCheckpoint(arch, dims, seed, { std: 0.3 });
  const base = new Map([...tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
  const config = parseModelConfig(configJson, 'config.json');
  return { config, base, model: createCausalLM(config, base, 'tiny') };
}

/** An adapter on every linear module with B random and non-zero, as after training. */
function trainedAdapter(model: CausalLM, lora: Partial<LoraConfig> = {}): LoraAdapter {
  const adapter = createLoraAdapter(
    model,
    { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false, ...lora },
    5,
  );
  let seed = 100;
  for (const { B } of adapter.modules.values()) {
    const value = tf.randomNormal(B.shape, 0, 0.2, 'float32', seed++);
    B.assign(value);
    value.dispose();
  }
  return adapter;
}

const INPUT = [
  [3, 17, 5, 9, 30, 1, 22],
  [8, 8, 2, 39, 11, 0, 14],
];

async function logitsOf(model: CausalLM, adapter: LoraAdapter | null): Promise<Float32Array> {
  const ids = tf.tensor2d(INPUT, undefined, 'int32');
  const logits = model.logits(ids, { adapter });
  const data = (await logits.data()) as Float32Array;
  tf.dispose([ids, logits]);
  return data;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function hostAdapterOf(adapter: LoraAdapter): Promise<HostLoraAdapter> {
  const modules = new Map();
  for (const [path, { A, B }] of adapter.modules) {
    modules.set(path, { A: await A.data(), B: await B.data(), shapeA: A.shape, shapeB: B.shape });
  }
  return { modules, scaling: adapter.scaling };
}

describe('mergeAdapter', () => {
  const cases: { arch: Architecture; dims: RandomCheckpointDims; lora: Partial<LoraConfig> }[] = [
    { arch: 'LlamaForCausalLM', dims: DIMS, lora: {} },
    { arch: 'LlamaForCausalLM', dims: DIMS, lora: { use_rslora: true, r: 3, lora_alpha: 5 } },
    { arch: 'GPT2LMHeadModel', dims: GPT2_DIMS, lora: {} },
  ];
  for (const [index, c] of cases.entries()) {
    it(`${c.arch}${c.lora.use_rslora ? ' (rsLoRA)' : ''}: the merged model's logits equal base + adapter to 1e-5`, async () => {
      const { config, base, model } = tiny(c.arch, c.dims, 10 + index);
      const adapter = trainedAdapter(model, c.lora);
      const withAdapter = await logitsOf(model, adapter);
      // The adapter must matter, or equality below would prove nothing.
      expect(maxAbsDiff(withAdapter, await logitsOf(model, null))).toBeGreaterThan(0.05);

      const merged = await mergeAdapter(config, base, adapter);
      expect([...merged.keys()]).toEqual([...base.keys()]);
      const mergedModel = createCausalLM(config, new Map([...merged].map(([n, t]) => [n, { dtype: 'F32' as const, ...t }])), 'merged');
      expect(maxAbsDiff(await logitsOf(mergedModel, null), withAdapter)).toBeLessThan(1e-5);

      mergedModel.dispose();
      disposeAdapter(adapter);
      model.dispose();
    });
  }

  it('changes only adapted weights, shares the others, and leaves the base untouched', async () => {
    const { config, base, model } = tiny('LlamaForCausalLM', DIMS, 3);
    const adapter = trainedAdapter(model, { target_modules: ['q_proj'] });
    const before = new Float32Array(base.get('model.layers.0.self_attn.q_proj.weight')!.data);
    const merged = await mergeAdapter(config, base, adapter);
    for (const [name, tensor] of base) {
      if (name.endsWith('q_proj.weight')) expect(merged.get(name)!.data).not.toBe(tensor.data);
      else expect(merged.get(name)!.data).toBe(tensor.data);
    }
    expect(base.get('model.layers.0.self_attn.q_proj.weight')!.data).toEqual(before);
    disposeAdapter(adapter);
    model.dispose();
  });

  it('takes the adapter as host matrices with the same result', async () => {
    const { config, base, model } = tiny('GPT2LMHeadModel', GPT2_DIMS, 4);
    const adapter = trainedAdapter(model);
    const fromVariables = await mergeAdapter(config, base, adapter);
    const fromHost = await mergeAdapter(config, base, await hostAdapterOf(adapter));
    for (const [name, tensor] of fromVariables) expect(fromHost.get(name)!.data).toEqual(tensor.data);
    disposeAdapter(adapter);
    model.dispose();
  });

  it('keeps the names of an OpenAI-style GPT-2 checkpoint (no "transformer." prefix)', async () => {
    const { config, base, model } = tiny('GPT2LMHeadModel', GPT2_DIMS, 5);
    const adapter = trainedAdapter(model);
    const strip = (name: string) => name.replace(/^transformer\./, '');
    const bare = new Map([...base].map(([name, t]) => [strip(name), t]));
    const merged = await mergeAdapter(config, bare, adapter);
    const reference = await mergeAdapter(config, base, adapter);
    expect([...merged.keys()]).toEqual([...bare.keys()]);
    for (const [name, tensor] of reference) expect(merged.get(strip(name))!.data).toEqual(tensor.data);
    disposeAdapter(adapter);
    model.dispose();
  });

  it('names the module and shapes when the adapter does not fit the base', async () => {
    const { config, base, model } = tiny('LlamaForCausalLM', DIMS, 6);
    const host = await hostAdapterOf(trainedAdapter(model, { target_modules: ['v_proj'] }));
    const [path, pair] = [...host.modules][0];

    const unknown = { ...host, modules: new Map([['model.layers.9.self_attn.v_proj', pair]]) };
    await expect(mergeAdapter(config, base, unknown)).rejects.toThrow(
      'the adapter adapts "model.layers.9.self_attn.v_proj", but the base model has no tensor "model.layers.9.self_attn.v_proj.weight"',
    );
    // v_proj is [8, 16] here; an adapter built for [16, 16] must not be merged.
    const wide = { ...pair, B: new Float32Array(16 * 4), shapeB: [16, 4] };
    await expect(mergeAdapter(config, base, { ...host, modules: new Map([[path, wide]]) })).rejects.toThrow(
      `"${path}.weight" has shape [8, 16], but the adapter's lora_A [4, 16] and lora_B [16, 4] need [16, 16]`,
    );
    model.dispose();
  });
});

describe('mergedModelFiles', () => {
  it('writes a checkpoint that loads as a plain model with the merged logits', async () => {
    const { config, base, model } = tiny('LlamaForCausalLM', DIMS, 7);
    const adapter = trainedAdapter(model);
    const files = mergedModelFiles(config, await mergeAdapter(config, base, adapter));
    expect([...files.keys()]).toEqual(['config.json', 'model.safetensors']);
    expect(JSON.parse(files.get('config.json') as string)).toMatchObject({ architectures: ['LlamaForCausalLM'], torch_dtype: 'float32' });
    const loaded = await loadCausalLM(memorySource(files, 'merged'));
    expect(maxAbsDiff(await logitsOf(loaded.model, null), await logitsOf(model, adapter))).toBeLessThan(1e-5);
    loaded.model.dispose();
    disposeAdapter(adapter);
    model.dispose();
  });

  it('shards past maxShardBytes with an index, as save_pretrained does, and the shards load to the same logits', async () => {
    const { config, base, model } = tiny('LlamaForCausalLM', DIMS, 9);
    const adapter = trainedAdapter(model);
    const merged = await mergeAdapter(config, base, adapter);
    const largest = Math.max(...[...merged.values()].map((t) => t.data.length * 2));
    const files = mergedModelFiles(config, merged, { dtype: 'BF16', maxShardBytes: largest * 3 });
    const shards = [...files.keys()].filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toBe(`model-00001-of-0000${shards.length}.safetensors`);
    expect(files.has('model.safetensors')).toBe(false);
    const index = JSON.parse(files.get('model.safetensors.index.json') as string);
    expect(Object.keys(index.weight_map).sort()).toEqual([...merged.keys()].sort());
    expect(index.metadata.total_size).toBe([...merged.values()].reduce((n, t) => n + t.data.length * 2, 0));
    for (const shard of shards) {
      const bytes = files.get(shard) as Uint8Array;
      const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      expect(bytes.length - 8 - headerLength).toBeLessThanOrEqual(largest * 3);
    }
    const single = mergedModelFiles(config, merged, { dtype: 'BF16' });
    const fromShards = await loadCausalLM(memorySource(files, 'sharded'));
    const fromOne = await loadCausalLM(memorySource(single, 'single'));
    expect(maxAbsDiff(await logitsOf(fromShards.model, null), await logitsOf(fromOne.model, null))).toBe(0);
    fromShards.model.dispose();
    fromOne.model.dispose();
    disposeAdapter(adapter);
    model.dispose();
  });

  it('states the stored precision in config.json', async () => {
    const { config, base, model } = tiny('LlamaForCausalLM', DIMS, 8);
    const files = mergedModelFiles(config, await mergeAdapter(config, base, { modules: new Map(), scaling: 1 }), { dtype: 'BF16' });
    expect(JSON.parse(files.get('config.json') as string).torch_dtype).toBe('bfloat16');
    const header = new TextDecoder().decode((files.get('model.safetensors') as Uint8Array).subarray(8, 200));
    expect(header).toContain('"dtype":"BF16"');
    model.dispose();
  });
});
