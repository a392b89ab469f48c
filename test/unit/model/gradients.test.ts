import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import type { Architecture, LoraConfig } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';
import { logSoftmax64, referenceLogits } from './reference';

/**
 * LoRA gradients from tf.variableGrads against central finite differences of the same scalar computed
 * by the float64 reference with merged weights W + scaling·B·A. B starts random (not PEFT's zeros),
 * so both ∂/∂A and ∂/∂B are non-zero and a wrong gradient of either shows.
 */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface HostPair {
  path: string;
  A: Float64Array;
  B: Float64Array;
  r: number;
  inF: number;
  outF: number;
}

type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

function merged(tensors: Tensors, pairs: HostPair[], scaling: number, conv1d: boolean) {
  const out = new Map<string, { shape: number[]; data: Float64Array }>();
  for (const [name, t] of tensors) out.set(name, { shape: t.shape, data: Float64Array.from(t.data) });
  for (const { path, A, B, r, inF, outF } of pairs) {
    const w = out.get(`${path}.weight`)!.data;
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += B[o * r + k] * A[k * inF + i];
        w[conv1d ? i * outF + o : o * inF + i] += scaling * s;
      }
    }
  }
  return out;
}

const ROWS = [
  [5, 17, 2, 40, 33, 8, 21, 12, 3],
  [9, 9, 30, 1, 44, 27, 6, 50, 19],
];

/** A weight per scored position (t predicts t+1), random so that no symmetry hides an error. */
function positionWeights(seed: number): number[][] {
  const rng = new Rng(seed);
  return ROWS.map((ids) => ids.slice(1).map(() => rng.uniform(0.2, 1.5)));
}

const cases: {
  label: string;
  arch: Architecture;
  dims: RandomCheckpointDims;
  /** Changes to config.json that leave the tensor shapes alone. */
  edit?: (configJson: Record<string, unknown>) => void;
  lora: LoraConfig;
}[] = [
  {
    label: 'Llama (GQA), q_proj and v_proj',
    arch: 'LlamaForCausalLM',
    dims: { vocab_size: 56, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 },
    lora: { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
  },
  {
    label: 'Qwen2, MLP and attention output, rsLoRA',
    arch: 'Qwen2ForCausalLM',
    dims: { vocab_size: 56, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1 },
    lora: { r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: ['o_proj', 'gate_proj', 'down_proj'], use_rslora: true },
  },
  {
    label: 'Qwen3 (head_dim 12 ≠ hidden/heads, q/k norms), every attention projection',
    arch: 'Qwen3ForCausalLM',
    dims: {
      vocab_size: 56,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 12,
    },
    lora: { r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], use_rslora: false },
  },
  {
    label: 'Gemma 3 (sliding and full layers), all-linear',
    arch: 'Gemma3ForCausalLM',
    dims: {
      vocab_size: 56,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 12,
    },
    edit: (c) => {
      c.layer_types = ['sliding_attention', 'full_attention'];
      c.sliding_window = 4;
      c.rope_theta = 300;
    },
    lora: { r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false },
  },
  {
    label: 'GPT-2 Conv1D, all-linear',
    arch: 'GPT2LMHeadModel',
    dims: {
      vocab_size: 56,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 2,
      max_position_embeddings: 16,
    },
    lora: { r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false },
  },
];

const SAMPLES_PER_TENSOR = 10;
const STEP = 1e-4;

describe('LoRA gradients match central finite differences', () => {
  for (const [index, c] of cases.entries()) {
    it(c.label, () => {
      const { configJson, tensors } = randomCheckpoint(c.arch, c.dims, 20 + index, { std: 0.3 });
      c.edit?.(configJson);
      const host = new Map([...tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
      const model = createCausalLM(parseModelConfig(configJson, 'config.json'), host, 'tiny');
      const adapter = createLoraAdapter(model, c.lora, 31 + index);
      let seed = 500;
      for (const { B } of adapter.modules.values()) {
        const value = tf.randomNormal(B.shape, 0, 0.2, 'float32', seed++);
        B.assign(value);
        value.dispose();
      }
      const weights = positionWeights(index);
      const [rows, T, V] = [ROWS.length, ROWS[0].length, c.dims.vocab_size];

      // tfjs: S = Σ w[r][t] · log p(ids[r][t+1] | ids[r][..t]).
      const selector = new Float32Array(rows * T * V);
      ROWS.forEach((ids, r) => weights[r].forEach((w, t) => (selector[(r * T + t) * V + ids[t + 1]] = w)));
      const ids = tf.tensor2d(ROWS, undefined, 'int32');
      const select = tf.tensor3d(selector, [rows, T, V]);
      const variables = [...adapter.modules.values()].flatMap(({ A, B }) => [A, B]);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(tf.logSoftmax(model.logits(ids, { adapter })), select)) as tf.Scalar,
        variables,
      );

      // Reference: the same scalar in float64 from host copies of A and B.
      const conv1d = c.arch === 'GPT2LMHeadModel';
      const pairs: HostPair[] = [...adapter.modules].map(([path, { A, B }]) => {
        const [r, inF] = A.shape as [number, number];
        return { path, A: Float64Array.from(A.dataSync()), B: Float64Array.from(B.dataSync()), r, inF, outF: B.shape[0] };
      });
      const scaling = c.lora.use_rslora ? c.lora.lora_alpha / Math.sqrt(c.lora.r) : c.lora.lora_alpha / c.lora.r;
      const scalar = () => {
        const w = merged(tensors, pairs, scaling, conv1d);
        let s = 0;
        ROWS.forEach((row, r) => {
          referenceLogits(configJson, w, row).forEach((logits, t) => {
            if (t < T - 1) s += weights[r][t] * logSoftmax64(logits)[row[t + 1]];
          });
        });
        return s;
      };
      expect(Math.abs(value.dataSync()[0] - scalar()) / Math.abs(scalar())).toBeLessThan(1e-5);

      const rng = new Rng(77 + index);
      for (const pair of pairs) {
        const variable = adapter.modules.get(pair.path)!;
        for (const half of ['A', 'B'] as const) {
          const analytic = grads[variable[half].name].dataSync();
          const largest = Math.max(...analytic.map(Math.abs));
          expect(largest, `${pair.path} d/d${half} is not trivially zero`).toBeGreaterThan(1e-3);
          const values = pair[half];
          for (let n = 0; n < SAMPLES_PER_TENSOR; n++) {
            const k = rng.int(values.length);
            const original = values[k];
            values[k] = original + STEP;
            const up = scalar();
            values[k] = original - STEP;
            const down = scalar();
            values[k] = original;
            const numeric = (up - down) / (2 * STEP);
            expect(Math.abs(analytic[k] - numeric), `${pair.path} d/d${half}[${k}]: ${analytic[k]} vs ${numeric}`).toBeLessThan(
              2e-3 * largest + 1e-6,
            );
          }
        }
      }

      for (const t of [value, ids, select, ...Object.values(grads)]) t.dispose();
      disposeAdapter(adapter);
      model.dispose();
    });
  }
});
