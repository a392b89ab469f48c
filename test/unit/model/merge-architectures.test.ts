import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeAdapter } from '../../../src/core/export/merge';
import { ARCHITECTURES } from '../../../src/core/model/architectures/registry';
import type { ArchitectureSpec } from '../../../src/core/model/architectures/spec';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import type { CausalLM, LoraAdapter } from '../../../src/core/model/types';

/**
 * The merged export (core/export/merge) for every architecture in the registry, so that a new one is
 * covered the day it is registered: merging an all-linear adapter into the base weights gives the
 * logits the base model gives with the adapter applied.
 */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

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

describe.each(ARCHITECTURES.map((spec) => [spec.name, spec] as const))('mergeAdapter for %s', (_, spec: ArchitectureSpec) => {
  it("the merged model's logits equal base + adapter to 1e-5", async () => {
    const dims = {
      vocab_size: 40,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: spec.groupedQueryAttention ? 2 : 4,
      max_position_embeddings: 32,
    };
    const { configJson, tensors } = randomCheckpoint(spec.name, dims, 12, { std: 0.3 });
    const config = parseModelConfig(configJson, 'config.json');
    const base = new Map([...tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
    const model = createCausalLM(config, base, 'tiny');
    const adapter = createLoraAdapter(model, { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false }, 5);
    let seed = 100;
    for (const { B } of adapter.modules.values()) {
      const value = tf.randomNormal(B.shape, 0, 0.2, 'float32', seed++);
      B.assign(value);
      value.dispose();
    }
    const withAdapter = await logitsOf(model, adapter);
    // The adapter must matter, or the equality below would prove nothing.
    expect(maxAbsDiff(withAdapter, await logitsOf(model, null))).toBeGreaterThan(0.05);

    const merged = await mergeAdapter(config, base, adapter);
    expect([...merged.keys()]).toEqual([...base.keys()]);
    const mergedModel = createCausalLM(config, new Map([...merged].map(([n, t]) => [n, { dtype: 'F32' as const, ...t }])), 'merged');
    expect(maxAbsDiff(await logitsOf(mergedModel, null), withAdapter)).toBeLessThan(1e-5);

    mergedModel.dispose();
    disposeAdapter(adapter);
    model.dispose();
  });
});
