/**
 * The adapter's achieved matMul rate through tfjs (the op every model layer runs on): square
 * multiplications grow until one takes long enough to time well, then the median of several runs.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/random';
import { firstElement, measureRuns } from './measure';
import type { MatmulProbeCase, MatmulProbeResult } from './protocol';

const FIRST_N = 256;

function randomSquare(n: number, rng: Rng): tf.Tensor2D {
  return tf.tensor2d(
    Float32Array.from({ length: n * n }, () => rng.uniform(-1, 1)),
    [n, n],
  );
}

async function onceMs(a: tf.Tensor2D, b: tf.Tensor2D): Promise<number> {
  const started = performance.now();
  const probe = tf.tidy(() => firstElement(tf.matMul(a, b)));
  await probe.data();
  probe.dispose();
  return performance.now() - started;
}

export async function probeMatmul(c: MatmulProbeCase): Promise<MatmulProbeResult> {
  const rng = new Rng(7);
  let n = FIRST_N;
  for (;;) {
    const a = randomSquare(n, rng);
    const b = randomSquare(n, rng);
    await onceMs(a, b); // compiles the shader for this shape
    const ms = await onceMs(a, b);
    if (ms >= c.minRunMs || 2 * n > c.maxN) {
      const measured = await measureRuns(() => firstElement(tf.matMul(a, b)), 1, c.timedRuns, 'none');
      tf.dispose([a, b]);
      return { n, medianMs: measured.medianMs, gflops: (2 * n ** 3) / (measured.medianMs * 1e6) };
    }
    tf.dispose([a, b]);
    n *= 2;
  }
}
