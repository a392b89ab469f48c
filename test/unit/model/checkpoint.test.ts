import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { ARCHITECTURE_NAMES } from '../../../src/core/model/architectures/registry';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import type { Architecture, CausalLM, LoraAdapter } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';

/**
 * Gradient checkpointing recomputes each layer in the backward pass: the loss and every LoRA gradient
 * must be the ones without it (float32 round-off), with LoRA dropout on (its masks must repeat), and
 * the backward pass must hold less memory.
 */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const DIMS: RandomCheckpointDims = {
  vocab_size: 53,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

function dimsFor(arch: Architecture): RandomCheckpointDims {
  return arch === 'GPT2LMHeadModel' ? { ...DIMS, num_key_value_heads: DIMS.num_attention_heads } : DIMS;
}

function rows(seed: number, count: number, length: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => Array.from({ length }, () => rng.int(DIMS.vocab_size)));
}

function adapterWithRandomB(model: CausalLM, seed: number): LoraAdapter {
  const adapter = createLoraAdapter(
    model,
    { r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: 'all-linear', use_rslora: false },
    seed,
  );
  const rng = new Rng(seed + 1);
  for (const { B } of adapter.modules.values())
    B.assign(
      tf.tensor(
        Float32Array.from({ length: B.size }, () => 0.05 * rng.normal()),
        B.shape,
      ),
    );
  return adapter;
}

/** A DPO-shaped scalar: weighted log-probs of the next tokens, so every position's gradient matters. */
function lossAndGradients(model: CausalLM, adapter: LoraAdapter, ids: number[][], gradientCheckpointing: boolean) {
  const input = tf.tensor2d(ids, undefined, 'int32');
  const weights = tf.tensor2d(rows(99, ids.length, ids[0].length).map((r) => r.map((v) => (v % 7) / 7 - 0.4)));
  const variables = [...adapter.modules.values()].flatMap((m) => [m.A, m.B]);
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.logits(input, { adapter, dropout: true, dropoutSeed: 5, gradientCheckpointing });
    const logp = tf.max(tf.logSoftmax(logits), -1);
    return tf.sum(tf.mul(logp, weights)) as tf.Scalar;
  }, variables);
  const result = { value: value.dataSync()[0], grads: variables.map((v) => grads[v.name].dataSync() as Float32Array) };
  tf.dispose([value, input, weights, ...Object.values(grads)]);
  return result;
}

describe.each(ARCHITECTURE_NAMES)('%s with gradient checkpointing', (arch) => {
  it('gives the same loss and LoRA gradients (1e-5 relative) and holds less memory in the backward pass, leaving no tensors behind', async () => {
    const checkpoint = randomCheckpoint(arch, dimsFor(arch), 21);
    const model = createCausalLM(parseModelConfig(checkpoint.configJson, 'random'), checkpoint.tensors, 'random');
    const adapter = adapterWithRandomB(model, 3);
    const ids = rows(7, 4, 24);
    const plain = lossAndGradients(model, adapter, ids, false);
    const tensorsBefore = tf.memory().numTensors;
    const recomputed = lossAndGradients(model, adapter, ids, true);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(Math.abs(recomputed.value - plain.value)).toBeLessThanOrEqual(1e-5 * Math.abs(plain.value));
    plain.grads.forEach((g, k) => {
      const scale = Math.max(...Array.from(g, Math.abs));
      expect(scale).toBeGreaterThan(0);
      let diff = 0;
      g.forEach((v, i) => (diff = Math.max(diff, Math.abs(recomputed.grads[k][i] - v))));
      expect(diff / scale).toBeLessThan(1e-5);
    });
    const kept = await backwardPeak(model, adapter, ids, false);
    const recomputedPeak = await backwardPeak(model, adapter, ids, true);
    expect(recomputedPeak).toBeLessThan(0.7 * kept);
    disposeAdapter(adapter);
    model.dispose();
  });
});

/** tfjs's peak bytes over one forward + backward pass. */
async function backwardPeak(model: CausalLM, adapter: LoraAdapter, ids: number[][], gradientCheckpointing: boolean): Promise<number> {
  const input = tf.tensor2d(ids, undefined, 'int32');
  const variables = [...adapter.modules.values()].flatMap((m) => [m.A, m.B]);
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.logSoftmax(model.logits(input, { adapter, gradientCheckpointing }))) as tf.Scalar,
      variables,
    );
    tf.dispose([value, ...Object.values(grads)]);
  });
  input.dispose();
  return info.peakBytes;
}
