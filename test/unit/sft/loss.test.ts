import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CausalLM, ModelConfig } from '../../../src/core/model/types';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import { Rng } from '../../../src/core/random';
import { collateSft, sftTokenIndex } from '../../../src/core/sft/batch';
import { sftLoss } from '../../../src/core/sft/loss';
import type { TokenizedSftExample } from '../../../src/core/sft/tokenize';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const V = 11;
const D = 4;
const ex = (index: number, prompt_ids: number[], completion_ids: number[]): TokenizedSftExample => ({
  index,
  prompt_ids,
  completion_ids,
  prefix_mismatch: false,
});

/**
 * A bigram "model": the hidden state at t is the embedding row of token t, so the logits at t are
 * E[id_t]·Wᵀ and the loss and its gradient have a closed form a test can write in float64.
 */
function bigramModel(E: tf.Variable, W: tf.Variable): CausalLM {
  const config = { hidden_size: D, vocab_size: V } as ModelConfig;
  const hidden = (ids: tf.Tensor2D) => tf.reshape(tf.gather(E, tf.reshape(ids, [-1])), [...ids.shape, D]) as tf.Tensor3D;
  return {
    config,
    linearModules: () => [],
    hidden,
    headWeight: () => W as tf.Tensor2D,
    logits: (ids) => tf.matMul(tf.reshape(hidden(ids), [-1, D]), W, false, true).reshape([...ids.shape, V]) as tf.Tensor3D,
    dispose: () => {},
  };
}

function randomMatrix(rng: Rng, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
}

/** Mean NLL over (context token, label) pairs and its gradients, in float64, from the definition. */
function bigramReference(E: number[][], W: number[][], scored: [number, number][]) {
  const dE = E.map((r) => r.map(() => 0));
  const dW = W.map((r) => r.map(() => 0));
  let loss = 0;
  const n = scored.length;
  for (const [ctx, label] of scored) {
    const z = W.map((w) => w.reduce((s, wi, i) => s + wi * E[ctx][i], 0));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, zi) => s + Math.exp(zi - m), 0));
    loss -= (z[label] - lse) / n;
    z.forEach((zi, v) => {
      const g = (Math.exp(zi - lse) - (v === label ? 1 : 0)) / n;
      for (let i = 0; i < D; i++) {
        dE[ctx][i] += g * W[v][i];
        dW[v][i] += g * E[ctx][i];
      }
    });
  }
  return { loss, dE, dW };
}

describe('sftLoss', () => {
  it('is the mean NLL of completion tokens only, with the gradient of the hand-derived formula; prompt and padding positions get exactly zero', async () => {
    const rng = new Rng(7);
    const E0 = randomMatrix(rng, V, D);
    const W0 = randomMatrix(rng, V, D);
    const E = tf.variable(tf.tensor2d(E0));
    const W = tf.variable(tf.tensor2d(W0));
    // Tokens 1, 2 and 8 only ever precede prompt tokens or padding; pad id 0 appears nowhere else.
    const batch = collateSft([ex(0, [1, 2, 3], [4, 5, 6]), ex(1, [8, 9], [10])], { max_length: null, pad_token_id: 0 });
    const index = sftTokenIndex(batch);
    const model = bigramModel(E, W);
    const { value, grads } = tf.variableGrads(() => sftLoss(model, batch, index, null), [E, W]);
    // Scored (context, label): 3→4, 4→5, 5→6 in row 0; 9→10 in row 1.
    const ref = bigramReference(E0, W0, [
      [3, 4],
      [4, 5],
      [5, 6],
      [9, 10],
    ]);
    expect(value.dataSync()[0]).toBeCloseTo(ref.loss, 5);
    const gE = (await grads[E.name].array()) as number[][];
    const gW = (await grads[W.name].array()) as number[][];
    for (let v = 0; v < V; v++) {
      for (let i = 0; i < D; i++) {
        expect(gE[v][i]).toBeCloseTo(ref.dE[v][i], 5);
        expect(gW[v][i]).toBeCloseTo(ref.dW[v][i], 5);
      }
    }
    for (const maskedOnly of [0, 1, 2, 8]) expect(gE[maskedOnly].every((g) => g === 0)).toBe(true);
    tf.dispose([E, W, value, ...Object.values(grads)]);
  });

  it('on a real Llama equals the float64 log-softmax of its full logits at the completion positions', async () => {
    const { configJson, tensors } = randomCheckpoint(
      'LlamaForCausalLM',
      {
        vocab_size: 259,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        max_position_embeddings: 32,
      },
      3,
      { std: 0.3 },
    );
    const { model } = createCausalLM(parseModelConfig(configJson, 'tiny'), tensors, 'tiny', { trainable: true });
    const examples = [ex(0, [10, 20, 30], [40, 50]), ex(1, [60], [70, 80, 90, 100])];
    const batch = collateSft(examples, { max_length: null, pad_token_id: 256 });
    const loss = sftLoss(model, batch, sftTokenIndex(batch), null).dataSync()[0];
    const logits = (await model.logits(tf.tensor2d(batch.input_ids, [2, batch.T], 'int32'), { adapter: null }).array()) as number[][][];
    let nll = 0;
    let count = 0;
    examples.forEach((e, r) => {
      const ids = [...e.prompt_ids, ...e.completion_ids];
      for (let t = e.prompt_ids.length; t < ids.length; t++) {
        const z = logits[r][t - 1];
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
        nll -= z[ids[t]] - lse;
        count++;
      }
    });
    expect(count).toBe(6);
    expect(loss).toBeCloseTo(nll / count, 5);
    model.dispose();
  });
});
