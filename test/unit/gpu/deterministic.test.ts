import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { describe, expect, it } from 'vitest';
import { segmentSum } from '../../../src/core/dpo/logps';
import { wouldSplitK } from '../../../src/core/gpu/deterministic';
import { Rng } from '../../../src/core/random';
import { bits, onDawn } from '../fixtures/dawn';

/**
 * Run-to-run determinism on WebGPU (Dawn on SwiftShader, whose workgroups run on several CPU threads,
 * so an atomic sum's order changes from run to run): the token sums and the long-inner-dimension
 * products a training step makes give the same bits every time, and the right values.
 */

/** tfjs's threshold of 'few' 32 × 32 output tiles on most GPUs (16 on recent Intel ones). */
const THRESHOLD = 8;

describe('which products tfjs would split along K', () => {
  it('only a single batch with K ≥ 2000 and few output tiles, above the reduce program', () => {
    const product = (a: number[], b: number[], transposeA = false, transposeB = false) =>
      wouldSplitK({ a, b, transposeA, transposeB }, THRESHOLD);
    expect(product([4000, 8], [4000, 96], true)).toBe(true); // [8, 96] over K = 4000 tokens: 3 tiles
    expect(product([8, 4000], [96, 4000], false, true)).toBe(true); // K read from b's last dimension
    expect(product([8, 4000], [4000, 480])).toBe(true); // 15 tiles: at most twice the threshold for ≤ 8 rows
    expect(product([9, 4000], [4000, 480])).toBe(false); // 15 tiles, 9 rows
    expect(product([1, 4000], [4000, 8])).toBe(false); // 8 outputs: the reduce program
    expect(product([8, 1999], [1999, 96])).toBe(false); // K < 2000
    expect(product([2, 8, 4000], [2, 4000, 96])).toBe(false); // batch 2
    expect(product([4096, 4000], [4000, 576])).toBe(false); // many tiles: the packed program
  });
});

/** Float64 sums of x over each segment, from the definition. */
function segmentSums64(x: Float32Array, segments: Int32Array, count: number): number[] {
  const out = new Array<number>(count).fill(0);
  segments.forEach((r, i) => (out[r] += x[i]));
  return out;
}

function draw(n: number, count: number, seed: number): { x: Float32Array; segments: Int32Array } {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n }, () => rng.normal() - 3);
  // Contiguous runs of uneven length, as a batch's completion tokens are; one segment left empty.
  const segments = Int32Array.from({ length: n }, (_, i) => Math.min(count - 1, Math.floor(((i * i) / (n * n)) * count)));
  segments[n - 1] = count - 1;
  return { x, segments };
}

describe('segmentSum on the CPU backend', () => {
  it('equals the float64 sums, empty segments 0, and takes its gradient', async () => {
    await tf.setBackend('cpu');
    const { x, segments } = draw(500, 9, 11);
    segments.forEach((r, i) => r === 4 && (segments[i] = 3)); // segment 4 empty
    const expected = segmentSums64(x, segments, 9);
    const got = await segmentSum(tf.tensor1d(x), segments, 9).data();
    expected.forEach((e, r) => expect(Math.abs(got[r] - e)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(e))));
    expect(got[4]).toBe(0);
    const w = Float32Array.from({ length: 9 }, (_, r) => r - 4);
    const grad = await tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(segmentSum(t as tf.Tensor1D, segments, 9), tf.tensor1d(w))))(tf.tensor1d(x))
      .data();
    segments.forEach((r, i) => expect(grad[i]).toBe(w[r]));
    expect(() => segmentSum(tf.tensor1d(x), segments, 3)).toThrow(/segment id [3-8] at \d+ is not in \[0, 3\)/);
  });
});

describe('on WebGPU (Dawn, SwiftShader)', () => {
  onDawn();

  it('segmentSum over 8,000 tokens gives the same bits twenty times, and the float64 sums', async () => {
    const { x, segments } = draw(8000, 4, 5);
    const expected = segmentSums64(x, segments, 4);
    const input = tf.tensor1d(x);
    const first = (await segmentSum(input, segments, 4).data()) as Float32Array;
    expected.forEach((e, r) => expect(Math.abs(first[r] - e)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(e))));
    for (let run = 0; run < 9; run++)
      expect(bits((await segmentSum(input, segments, 4).data()) as Float32Array), `run ${run + 2}`).toBe(bits(first));
    input.dispose();
  });

  it('a LoRA gradient product over 4,096 tokens gives the same bits ten times, and the float64 product', async () => {
    // dB = (x·Aᵀ)ᵀ · dy: [r, tokens] × [tokens, out], the shape tfjs would split along the tokens.
    const rng = new Rng(7);
    const [r, tokens, out] = [8, 4096, 96];
    const a = Float32Array.from({ length: tokens * r }, () => rng.normal());
    const b = Float32Array.from({ length: tokens * out }, () => rng.normal());
    const threshold = (tf.backend() as WebGPUBackend).thresholdToIncreaseWorkgroups;
    expect(wouldSplitK({ a: [tokens, r], b: [tokens, out], transposeA: true, transposeB: false }, threshold)).toBe(true);
    const [ta, tb] = [tf.tensor2d(a, [tokens, r]), tf.tensor2d(b, [tokens, out])];
    const first = (await tf.matMul(ta, tb, true, false).data()) as Float32Array;
    for (let i = 0; i < r; i += 3) {
      for (let j = 0; j < out; j += 7) {
        let e = 0;
        for (let k = 0; k < tokens; k++) e += a[k * r + i] * b[k * out + j];
        expect(Math.abs(first[i * out + j] - e), `[${i}, ${j}]`).toBeLessThanOrEqual(1e-5 * Math.sqrt(tokens) * 4);
      }
    }
    for (let run = 0; run < 9; run++)
      expect(bits((await tf.matMul(ta, tb, true, false).data()) as Float32Array), `run ${run + 2}`).toBe(bits(first));
    tf.dispose([ta, tb]);
  });
});
