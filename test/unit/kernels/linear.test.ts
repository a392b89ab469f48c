import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { frozenProductFused, useAttentionKernel, useLinearKernels, type KernelMode } from '../../../src/core/kernels';
import { ARCHITECTURE_NAMES } from '../../../src/core/model/architectures/registry';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import type { Architecture, CausalLM, LoraAdapter } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';
import { bits, onDawn, relError } from '../fixtures/dawn';

/**
 * Frozen linear layers on our kernels (WebGPU through Dawn, on SwiftShader): y = x · Wᵀ and dx = dy · W
 * against float64 products written from the definition, on fresh random inputs (a failure names its
 * seed); then whole models, every architecture, with LoRA: logits and LoRA gradients with our linear
 * and flash-attention kernels on equal those of tfjs's ops, and repeat bit for bit.
 */

const TOLERANCE = 1e-5;

onDawn();

/** Our frozen linear products and flash attention together, or tfjs's ops. */
function useKernels(mode: KernelMode): void {
  useLinearKernels(mode);
  useAttentionKernel(mode);
}

afterAll(() => useKernels('composed'));

function normals(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

/** out[i, j] = Σ_k a[i, k] · b[j, k] (transposeB) or Σ_k a[i, k] · b[k, j], in float64. */
function product64(a: Float32Array, b: Float32Array, n: number, k: number, m: number, transposeB: boolean): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * (transposeB ? b[j * k + t] : b[t * m + j]);
      out[i * m + j] = s;
    }
  return out;
}

describe('the frozen linear product on WebGPU', () => {
  // n × in → out: a row count that is not a multiple of the 8-row tiles, out not a multiple of 4,
  // SmolLM2-135M's q_proj and down_proj widths, and an `in` off the vec4 path (tfjs's matMul then).
  const shapes: [number, number, number][] = [
    [1, 4, 1],
    [37, 64, 96],
    [13, 576, 577],
    [21, 1536, 576],
    [9, 6, 10],
  ];
  for (const [n, inF, outF] of shapes) {
    it(`y = x·Wᵀ and dx = dy·W against float64 (n ${n}, in ${inF}, out ${outF})`, async () => {
      const seed = Math.floor(Math.random() * 2 ** 31);
      const rng = new Rng(seed);
      const [x, w, g] = [normals(n * inF, rng), normals(outF * inF, rng, 1 / Math.sqrt(inF)), normals(n * outF, rng)];
      const [tx, tw, tg] = [tf.tensor2d(x, [n, inF]), tf.tensor2d(w, [outF, inF]), tf.tensor2d(g, [n, outF])];
      const y = frozenProductFused(tx, tw);
      expect(y.shape).toEqual([n, outF]);
      expect(relError(await y.data(), product64(x, w, n, inF, outF, true)), `y (seed ${seed})`).toBeLessThanOrEqual(TOLERANCE);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(frozenProductFused(t as tf.Tensor2D, tw), tg)))(tx);
      expect(relError(await dx.data(), product64(g, w, n, outF, inF, false)), `dx (seed ${seed})`).toBeLessThanOrEqual(TOLERANCE);
      tf.dispose([tx, tw, tg, y, dx]);
    });
  }

  it('leaves no tensors behind and has no gradient path to the weight', async () => {
    const rng = new Rng(1);
    const [tx, tw] = [tf.tensor2d(normals(16 * 32, rng), [16, 32]), tf.tensor2d(normals(48 * 32, rng), [48, 32])];
    const before = tf.memory().numTensors;
    const dx = tf.grad((t: tf.Tensor) => tf.sum(frozenProductFused(t as tf.Tensor2D, tw)))(tx);
    dx.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(frozenProductFused(a as tf.Tensor2D, b as tf.Tensor2D)))([tx, tw]),
    ).toThrow(/Cannot compute gradient/);
    tf.dispose([tx, tw]);
  });
});

const DIMS = {
  vocab_size: 61,
  hidden_size: 32,
  intermediate_size: 72,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

function adapterWithRandomB(model: CausalLM, seed: number): LoraAdapter {
  const adapter = createLoraAdapter(model, { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false }, seed);
  const rng = new Rng(seed + 1);
  for (const { B } of adapter.modules.values()) B.assign(tf.tensor(normals(B.size, rng, 0.05), B.shape));
  return adapter;
}

async function logitsAndGradients(
  model: CausalLM,
  adapter: LoraAdapter,
  ids: tf.Tensor2D,
): Promise<{ logits: Float32Array; grads: Float32Array[] }> {
  const variables = [...adapter.modules.values()].flatMap((m) => [m.A, m.B]);
  let logits: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    logits = tf.keep(model.logits(ids, { adapter }));
    return tf.sum(tf.max(tf.logSoftmax(logits), -1)) as tf.Scalar;
  }, variables);
  const result = {
    logits: (await logits!.data()) as Float32Array,
    grads: await Promise.all(variables.map(async (v) => (await grads[v.name].data()) as Float32Array)),
  };
  tf.dispose([value, logits!, ...Object.values(grads)]);
  return result;
}

describe.each(ARCHITECTURE_NAMES)('%s on WebGPU with our linear and attention kernels', (arch: Architecture) => {
  it("gives the logits and LoRA gradients of tfjs's ops (1e-5), the same bits twice (Llama also in row blocks)", async () => {
    const dims = arch === 'GPT2LMHeadModel' ? { ...DIMS, num_key_value_heads: DIMS.num_attention_heads } : DIMS;
    const checkpoint = randomCheckpoint(arch, dims, 31);
    const config = parseModelConfig(checkpoint.configJson, 'random');
    const ids = tf.tensor2d(
      Array.from({ length: 3 }, (_, r) => Array.from({ length: 11 }, (_, i) => (r * 17 + i * 5) % DIMS.vocab_size)),
      undefined,
      'int32',
    );
    // 2,000 bytes per block: every 2-D weight in several row blocks (the same code for every architecture).
    for (const maxBindingBytes of arch === 'LlamaForCausalLM' ? [Infinity, 2000] : [Infinity]) {
      const model = createCausalLM(config, checkpoint.tensors, 'random', { maxBindingBytes });
      const adapter = adapterWithRandomB(model, 3);
      useKernels('composed');
      const composed = await logitsAndGradients(model, adapter, ids);
      useKernels('fused');
      const fused = await logitsAndGradients(model, adapter, ids);
      const again = await logitsAndGradients(model, adapter, ids);
      const where = `${arch}, blocks of ${maxBindingBytes} bytes`;
      expect(relError(fused.logits, composed.logits), `${where}: logits`).toBeLessThanOrEqual(TOLERANCE);
      fused.grads.forEach((g, k) => expect(relError(g, composed.grads[k]), `${where}: LoRA gradient ${k}`).toBeLessThanOrEqual(TOLERANCE));
      expect(bits(again.logits), `${where}: logits repeat`).toBe(bits(fused.logits));
      again.grads.forEach((g, k) => expect(bits(g), `${where}: LoRA gradient ${k} repeats`).toBe(bits(fused.grads[k])));
      useKernels('composed');
      disposeAdapter(adapter);
      model.dispose();
    }
    ids.dispose();
  });
});
