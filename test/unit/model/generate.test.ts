import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { generateBatch, generateIds, type GenerateOptions } from '../../../src/core/model/generate';
import { createCausalLM } from '../../../src/core/model/load';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import type { Architecture, CausalLM } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';
import { referenceLogits, type ReferenceTensors } from './reference';

const DIMS: RandomCheckpointDims = {
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 24,
};

let model: CausalLM;
let configJson: Record<string, unknown>;
let tensors: ReferenceTensors;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const checkpoint = randomCheckpoint('LlamaForCausalLM', DIMS, 7, { std: 0.5 });
  configJson = checkpoint.configJson;
  tensors = checkpoint.tensors;
  const host = new Map([...checkpoint.tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
  model = createCausalLM(parseModelConfig(configJson, 'config.json'), host, 'tiny');
});

const PROMPTS = [[3, 17, 5], [9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [30, 31, 12, 8, 20]];

function options(overrides: Partial<GenerateOptions> = {}): GenerateOptions {
  return { adapter: null, maxNewTokens: 6, temperature: 0, seed: 11, stopIds: [], ...overrides };
}

/** The float64 reference's logits for the token after `ids`. */
function nextLogits(ids: number[]): Float64Array {
  const all = referenceLogits(configJson, tensors, ids);
  return all[all.length - 1];
}

/** Greedy decoding written from the definition over the float64 reference model. */
function referenceGreedy(prompt: number[], steps: number): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const logits = nextLogits(ids);
    const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
    // A near tie could go either way in float32: the check is only meaningful with a clear winner.
    expect(logits[order[0]] - logits[order[1]]).toBeGreaterThan(1e-3);
    out.push(order[0]);
    ids.push(order[0]);
  }
  return out;
}

/**
 * Sampling from softmax(logits / T) by inverting its CDF at one uniform draw per token, over the
 * float64 reference model.
 */
function referenceSample(prompt: number[], steps: number, temperature: number, seed: number): number[] {
  const rng = new Rng(seed);
  const ids = [...prompt];
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const logits = nextLogits(ids);
    const weights = Array.from(logits, (l) => Math.exp(l / temperature));
    const total = weights.reduce((a, b) => a + b, 0);
    const u = rng.next();
    let cumulative = 0;
    let token = weights.length - 1;
    for (let i = 0; i < weights.length; i++) {
      cumulative += weights[i] / total;
      if (u <= cumulative) {
        token = i;
        break;
      }
    }
    out.push(token);
    ids.push(token);
  }
  return out;
}

describe('generateIds', () => {
  it('decodes greedily as the float64 reference model does', async () => {
    for (const prompt of PROMPTS) expect(await generateIds(model, prompt, options())).toEqual(referenceGreedy(prompt, 6));
  });

  it('samples at a temperature as the float64 reference model does with the same seed', async () => {
    for (const prompt of PROMPTS) {
      expect(await generateIds(model, prompt, options({ temperature: 1.3, seed: 5 }))).toEqual(referenceSample(prompt, 6, 1.3, 5));
    }
  });

  it('gives the same ids with and without length buckets, greedy and sampled', async () => {
    for (const prompt of PROMPTS) {
      for (const temperature of [0, 1]) {
        const plain = await generateIds(model, prompt, options({ temperature, maxNewTokens: 8 }));
        expect(plain).toHaveLength(8);
        for (const lengthBucket of [4, 16]) {
          expect(await generateIds(model, prompt, options({ temperature, maxNewTokens: 8, lengthBucket }))).toEqual(plain);
        }
      }
    }
  });

  it('stops after a stop id (kept), and when the sequence fills the model positions', async () => {
    const prompt = PROMPTS[0];
    const free = referenceGreedy(prompt, 4);
    const stop = free[2];
    const firstStop = free.indexOf(stop);
    expect(await generateIds(model, prompt, options({ stopIds: [stop] }))).toEqual(free.slice(0, firstStop + 1));
    const long = Array.from({ length: 22 }, (_, i) => (i * 7) % 40);
    expect(await generateIds(model, long, options({ maxNewTokens: 10 }))).toHaveLength(2);
    expect(await generateIds(model, long, options({ maxNewTokens: 10, lengthBucket: 16 }))).toHaveLength(2);
  });

  it('refuses an empty prompt', async () => {
    await expect(generateIds(model, [], options())).rejects.toThrow(/at least one prompt token/);
  });
});

describe('generateBatch', () => {
  it('gives each row what generating it alone gives, row i sampling with seed + i', async () => {
    for (const temperature of [0, 0.8]) {
      const batched = await generateBatch(model, PROMPTS, options({ temperature, lengthBucket: 8 }));
      for (const [i, prompt] of PROMPTS.entries()) {
        expect(batched[i]).toEqual(referenceSampleOrGreedy(prompt, temperature, 11 + i));
      }
    }
  });

  it('ends each row at its own stop id while the others go on', async () => {
    const free = PROMPTS.map((p) => referenceGreedy(p, 6));
    const stop = free[1][0];
    const out = await generateBatch(model, PROMPTS, options({ stopIds: [stop] }));
    expect(out[1]).toEqual([stop]);
    for (const [i, ids] of free.entries()) {
      const at = ids.indexOf(stop);
      expect(out[i]).toEqual(at < 0 ? ids : ids.slice(0, at + 1));
    }
  });
});

function referenceSampleOrGreedy(prompt: number[], temperature: number, seed: number): number[] {
  return temperature <= 0 ? referenceGreedy(prompt, 6) : referenceSample(prompt, 6, temperature, seed);
}

describe('generateIds for the architectures with q/k norms', () => {
  const cases: { arch: Architecture; edit?: (configJson: Record<string, unknown>) => void }[] = [
    { arch: 'Qwen3ForCausalLM' },
    {
      arch: 'Gemma3ForCausalLM',
      // A window shorter than the prompts plus new tokens, on one of the two layers.
      edit: (c: Record<string, unknown>) => {
        c.layer_types = ['sliding_attention', 'full_attention'];
        c.sliding_window = 5;
      },
    },
  ];
  for (const c of cases) {
    it(`${c.arch}: greedy decoding follows the float64 reference model`, async () => {
      const checkpoint = randomCheckpoint(c.arch, { ...DIMS, head_dim: 12 }, 9, { std: 0.5 });
      c.edit?.(checkpoint.configJson);
      const host = new Map([...checkpoint.tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
      const other = createCausalLM(parseModelConfig(checkpoint.configJson, 'config.json'), host, 'tiny');
      for (const prompt of PROMPTS) {
        const ids = [...prompt];
        for (let s = 0; s < 6; s++) {
          const all = referenceLogits(checkpoint.configJson, checkpoint.tensors, ids);
          const logits = all[all.length - 1];
          const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
          expect(logits[order[0]] - logits[order[1]]).toBeGreaterThan(1e-3);
          ids.push(order[0]);
        }
        expect(await generateIds(other, prompt, options())).toEqual(ids.slice(prompt.length));
      }
      other.dispose();
    });
  }
});
