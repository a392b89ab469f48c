import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { flashAttention, type AttentionShape } from '../../../src/core/kernels';
import { Rng } from '../../../src/core/random';
import { bits, onDawn, relError } from '../fixtures/dawn';

/**
 * Causal attention on our flash kernels (WebGPU through Dawn, on SwiftShader), forward and backward,
 * against float64 attention written from the definition (scores, mask, softmax, weighted sum, and the
 * softmax's gradient), on fresh random inputs: grouped-query heads, sliding windows, one token, long
 * rows; the same bits on a rerun.
 */

const TOLERANCE = 1e-5;

onDawn();

interface Case extends AttentionShape {
  batch: number;
  seq: number;
}

/** Float64 attention and its gradients for upstream g, from the definition. */
function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array) {
  const { batch: B, heads: H, kvHeads: KV, seq: T, headDim: D } = c;
  const group = H / KV;
  const out = new Float64Array(B * H * T * D);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kvBase = (b * KV + Math.floor(h / group)) * T * D;
      for (let i = 0; i < T; i++) {
        const qBase = ((b * H + h) * T + i) * D;
        const visible = (j: number) => j <= i && (c.window === null || i - j < c.window);
        const scores = Array.from({ length: T }, (_, j) => {
          if (!visible(j)) return -Infinity;
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qBase + d] * k[kvBase + j * D + d];
          return s * c.scale;
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - max)));
        const sum = e.reduce((a, x) => a + x, 0);
        const p = e.map((x) => x / sum);
        for (let j = 0; j < T; j++) for (let d = 0; d < D; d++) out[qBase + d] += p[j] * v[kvBase + j * D + d];
        // dp_j = g_i · v_j; ds_j = p_j (dp_j − Σ_l p_l dp_l)
        const dp = Array.from({ length: T }, (_, j) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += g[qBase + d] * v[kvBase + j * D + d];
          return s;
        });
        const mean = p.reduce((a, pj, j) => a + pj * dp[j], 0);
        for (let j = 0; j < T; j++) {
          const ds = p[j] * (dp[j] - mean) * c.scale;
          for (let d = 0; d < D; d++) {
            dq[qBase + d] += ds * k[kvBase + j * D + d];
            dk[kvBase + j * D + d] += ds * q[qBase + d];
            dv[kvBase + j * D + d] += p[j] * g[qBase + d];
          }
        }
      }
    }
  return { out, dq, dk, dv };
}

const cases: [string, Case][] = [
  ['multi-head, two batches', { batch: 2, heads: 4, kvHeads: 4, seq: 19, headDim: 16, scale: 0.25, window: null }],
  [
    'grouped-query (3 query heads per KV head)',
    { batch: 1, heads: 6, kvHeads: 2, seq: 33, headDim: 8, scale: 1 / Math.sqrt(8), window: null },
  ],
  ['sliding window of 5', { batch: 2, heads: 2, kvHeads: 1, seq: 23, headDim: 12, scale: 0.3, window: 5 }],
  ['one token', { batch: 3, heads: 2, kvHeads: 1, seq: 1, headDim: 4, scale: 0.5, window: null }],
  ['SmolLM2-135M heads (9 over 3, head 64)', { batch: 1, heads: 9, kvHeads: 3, seq: 40, headDim: 64, scale: 0.125, window: null }],
  [
    'Qwen3-0.6B heads (16 over 8, head 128)',
    { batch: 1, heads: 16, kvHeads: 8, seq: 13, headDim: 128, scale: 1 / Math.sqrt(128), window: null },
  ],
  ["Gemma 3's head of 256", { batch: 1, heads: 2, kvHeads: 1, seq: 9, headDim: 256, scale: 1 / 16, window: 4 }],
];

describe('flash attention on WebGPU against float64 attention', () => {
  for (const [name, c] of cases) {
    it(`${name}: output and dq, dk, dv to 1e-5, the same bits twice`, async () => {
      const seed = Math.floor(Math.random() * 2 ** 31);
      const rng = new Rng(seed);
      const draw = (n: number) => Float32Array.from({ length: n }, () => 2 * rng.normal());
      const qShape: [number, number, number, number] = [c.batch, c.heads, c.seq, c.headDim];
      const kvShape: [number, number, number, number] = [c.batch, c.kvHeads, c.seq, c.headDim];
      const [q, k, v, g] = [
        draw(c.batch * c.heads * c.seq * c.headDim),
        draw(c.batch * c.kvHeads * c.seq * c.headDim),
        draw(c.batch * c.kvHeads * c.seq * c.headDim),
        draw(c.batch * c.heads * c.seq * c.headDim),
      ];
      const [tq, tk, tv, tg] = [tf.tensor4d(q, qShape), tf.tensor4d(k, kvShape), tf.tensor4d(v, kvShape), tf.tensor4d(g, qShape)];
      const ref = reference(c, q, k, v, g);
      const run = async () => {
        const out = flashAttention(tq, tk, tv, c);
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
          tf.sum(tf.mul(flashAttention(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, c), tg)),
        )([tq, tk, tv]);
        const values = [
          (await out.data()) as Float32Array,
          ...(await Promise.all(grads.map(async (t) => (await t.data()) as Float32Array))),
        ];
        tf.dispose([out, ...grads]);
        return values;
      };
      const before = tf.memory().numTensors;
      const [out, dq, dk, dv] = await run();
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      const what = `${name} (seed ${seed})`;
      expect(relError(out, ref.out), `${what}: output`).toBeLessThanOrEqual(TOLERANCE);
      // With one visible key the softmax has no gradient: dq and dk are then exactly 0, judged absolutely.
      expect(relError(dq, ref.dq, 'absolute'), `${what}: dq`).toBeLessThanOrEqual(TOLERANCE);
      expect(relError(dk, ref.dk, 'absolute'), `${what}: dk`).toBeLessThanOrEqual(TOLERANCE);
      expect(relError(dv, ref.dv), `${what}: dv`).toBeLessThanOrEqual(TOLERANCE);
      const again = await run();
      [out, dq, dk, dv].forEach((values, i) => expect(bits(again[i]), `${what}: rerun ${i}`).toBe(bits(values)));
      tf.dispose([tq, tk, tv, tg]);
    });
  }

  it('refuses shapes that do not match, naming them', () => {
    const q = tf.zeros([1, 4, 3, 8]) as tf.Tensor4D;
    const k = tf.zeros([1, 2, 3, 8]) as tf.Tensor4D;
    expect(() => flashAttention(q, k, k, { heads: 4, kvHeads: 1, headDim: 8, scale: 1, window: null })).toThrow(
      /q \[1, 4, 3, 8\] and k \[1, 2, 3, 8\] do not match 4 heads, 1 KV heads of 8/,
    );
    tf.dispose([q, k]);
  });
});
