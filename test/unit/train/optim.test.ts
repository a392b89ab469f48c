import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { AdamW, clipGradNorm, type AdamWOptions } from '../../../src/core/train/optim';

const OPTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 };

/** torch.optim.AdamW's algorithm written out in float64, one flat parameter vector. */
function adamwReference(p0: number[], grads: number[][], lrs: number[], o: AdamWOptions): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k];
    for (let j = 0; j < p.length; j++) {
      p[j] *= 1 - lr * o.weight_decay;
      m[j] = o.beta1 * m[j] + (1 - o.beta1) * g[j];
      v[j] = o.beta2 * v[j] + (1 - o.beta2) * g[j] * g[j];
      const mHat = m[j] / (1 - o.beta1 ** t);
      const vHat = v[j] / (1 - o.beta2 ** t);
      p[j] -= (lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  });
  return p;
}

// Two parameters ([3] and [2, 2]) flattened in order; values exact in float32.
const P0 = [0.5, -1.25, 2.0, 0.75, -0.5, 1.5, -2.25].map(Math.fround);
const STEPS = 5;
const GRADS = Array.from({ length: STEPS }, (_, k) => P0.map((_, j) => Math.fround(Math.sin(1.3 * j + 0.7 * (k + 1)) * 0.1 * (j + 1))));
const LRS = [1e-2, 5e-3, 2e-2, 1e-2, 0];

function makeParams(values: number[]): tf.Variable[] {
  return [tf.variable(tf.tensor1d(values.slice(0, 3))), tf.variable(tf.tensor2d(values.slice(3), [2, 2]))];
}

function gradTensors(k: number): tf.Tensor[] {
  return [tf.tensor1d(GRADS[k].slice(0, 3)), tf.tensor2d(GRADS[k].slice(3), [2, 2])];
}

function flat(params: tf.Variable[]): number[] {
  return params.flatMap((p) => Array.from(p.dataSync()));
}

async function runSteps(opt: AdamW, from: number, to: number): Promise<void> {
  for (let k = from; k < to; k++) {
    const g = gradTensors(k);
    expect(await opt.step(g, LRS[k])).toBe(true);
    tf.dispose(g);
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('AdamW', () => {
  it('one step by hand: decay, then the bias-corrected update (≈ lr·sign(g) on step 1)', async () => {
    const p = tf.variable(tf.tensor1d([1, 1]));
    const opt = new AdamW([p], { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 });
    const g = tf.tensor1d([0.5, -2]);
    await opt.step([g], 0.1);
    // p·(1 − 0.01) = 0.99; m̂ = g, v̂ = g², so the step is 0.1·g/(|g| + 1e-8).
    const [a, b] = Array.from(p.dataSync());
    expect(a).toBeCloseTo(0.99 - 0.1 * (0.5 / (0.5 + 1e-8)), 6);
    expect(b).toBeCloseTo(0.99 + 0.1 * (2 / (2 + 1e-8)), 6);
    const state = await opt.getState();
    expect(state.step).toBe(1);
    expect(Array.from(state.m[0])).toEqual([Math.fround(0.05), Math.fround(-0.2)].map((x) => expect.closeTo(x, 7)));
    expect(state.v[0][1]).toBeCloseTo(0.001 * 4, 9);
    tf.dispose([p, g]);
    opt.dispose();
  });

  it('matches a float64 loop over five steps with weight decay and a changing learning rate', async () => {
    const params = makeParams(P0);
    const opt = new AdamW(params, OPTS);
    await runSteps(opt, 0, STEPS);
    const expected = adamwReference(P0, GRADS, LRS, OPTS);
    const got = flat(params);
    got.forEach((x, j) => expect(Math.abs(x - expected[j]), `param ${j}: ${x} vs ${expected[j]}`).toBeLessThan(2e-6));
    // The update is not a no-op: every parameter moved by more than the tolerance.
    got.forEach((x, j) => expect(Math.abs(x - P0[j])).toBeGreaterThan(1e-3));
    expect(opt.stepCount).toBe(STEPS);
    tf.dispose(params);
    opt.dispose();
  });

  it('weight decay is decoupled: zero gradient with wd shrinks p by exactly (1 − lr·wd) per step', async () => {
    const p = tf.variable(tf.tensor1d([2, -4]));
    const opt = new AdamW([p], { ...OPTS, weight_decay: 0.5 });
    const g = tf.zeros([2]);
    await opt.step([g], 0.1);
    await opt.step([g], 0.2);
    const expected = [2, -4].map((x) => x * (1 - 0.05) * (1 - 0.1));
    Array.from(p.dataSync()).forEach((x, j) => expect(x).toBeCloseTo(expected[j], 6));
    tf.dispose([p, g]);
    opt.dispose();
  });

  it('state exported after 3 steps and imported into a fresh optimizer continues identically', async () => {
    const original = makeParams(P0);
    const optA = new AdamW(original, OPTS);
    await runSteps(optA, 0, 3);
    const state = await optA.getState();

    const after3 = flat(original);
    const resumed = makeParams(after3);
    const optB = new AdamW(resumed, OPTS);
    optB.setState(state);
    await runSteps(optA, 3, STEPS);
    await runSteps(optB, 3, STEPS);
    expect(flat(resumed)).toEqual(flat(original));

    // Without the state the continuation differs, so the equality above is not trivial.
    const fresh = makeParams(after3);
    const optC = new AdamW(fresh, OPTS);
    await runSteps(optC, 3, STEPS);
    expect(Math.max(...flat(fresh).map((x, j) => Math.abs(x - flat(original)[j])))).toBeGreaterThan(1e-4);

    // getState returns copies.
    state.m[0][0] = 1234;
    expect((await optA.getState()).m[0][0]).not.toBe(1234);
    tf.dispose([...original, ...resumed, ...fresh]);
    [optA, optB, optC].forEach((o) => o.dispose());
  });

  it('leaks no tensors per step, and dispose frees the moments', async () => {
    const params = makeParams(P0);
    const opt = new AdamW(params, OPTS);
    const g = gradTensors(0);
    const before = tf.memory().numTensors;
    await opt.step(g, 1e-3);
    await opt.step(g, 1e-3);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before - 2 * params.length);
    tf.dispose([...params, ...g]);
  });

  it('refuses an update that would make a parameter or moment non-finite, changing nothing', async () => {
    const params = makeParams(P0);
    const opt = new AdamW(params, OPTS);
    await runSteps(opt, 0, 2);
    const before = flat(params);
    const state = await opt.getState();
    const g = gradTensors(2);
    // Step size lr / (1 − β1^t) of 1e38 takes every parameter past float32's range.
    expect(await opt.step(g, 1e38)).toBe(false);
    expect(flat(params)).toEqual(before);
    expect(await opt.getState()).toEqual(state);
    // A gradient that squares to infinity overflows the second moment even at a small rate.
    const huge = [tf.fill([3], 1e30), tf.fill([2, 2], 1e30)];
    expect(await opt.step(huge, 1e-3)).toBe(false);
    expect(opt.stepCount).toBe(2);
    // And the optimizer goes on from where it was.
    expect(await opt.step(g, LRS[2])).toBe(true);
    expect(opt.stepCount).toBe(3);
    tf.dispose([...params, ...g, ...huge]);
    opt.dispose();
  });

  it('clear errors for mismatched gradients, state and options', async () => {
    const params = makeParams(P0);
    const opt = new AdamW(params, OPTS);
    const g = gradTensors(0);
    expect(() => opt.step([g[0]], 1e-3)).toThrow(/got 1 gradients for 2 parameters/);
    expect(() => opt.step([g[1], g[0]], 1e-3)).toThrow(/gradient 0 has shape \[2, 2\], expected \[3\]/);
    expect(() => opt.step(g, -1)).toThrow(/lr must be finite and >= 0/);
    const state = await opt.getState();
    expect(() => opt.setState({ ...state, m: [state.m[0]] })).toThrow(/state.m has 1 arrays for 2 parameters/);
    expect(() => opt.setState({ ...state, v: [state.v[0], new Float32Array(3)] })).toThrow(/state.v\[1\] has 3 values, expected 4/);
    expect(() => opt.setState({ ...state, step: 1.5 })).toThrow(/step must be an integer >= 0/);
    expect(() => new AdamW(params, { ...OPTS, beta2: 1 })).toThrow(/beta2 must be in \[0, 1\)/);
    expect(() => new AdamW(params, { ...OPTS, weight_decay: -0.1 })).toThrow(/weight_decay must be finite and >= 0/);
    tf.dispose([...params, ...g]);
    opt.dispose();
  });
});

describe('clipGradNorm', () => {
  // Total L2 norm over both tensors: √(3² + 4²) = 5.
  function grads(): tf.Tensor[] {
    return [tf.tensor1d([3, 0]), tf.tensor2d([[-4]])];
  }
  const values = (ts: tf.Tensor[]): number[] => ts.flatMap((t) => Array.from(t.dataSync()));

  it('below the max: unchanged gradients, pre-clip norm', async () => {
    const g = grads();
    const out = await clipGradNorm(g, 10);
    expect(out.norm).toBeCloseTo(5, 6);
    expect(values(out.grads)).toEqual([3, 0, -4]);
    expect(out.grads[0]).not.toBe(g[0]);
    tf.dispose([...g, ...out.grads]);
  });

  it('above the max: scaled by maxNorm/(norm + 1e-6), still reports the pre-clip norm', async () => {
    const g = grads();
    const out = await clipGradNorm(g, 1);
    expect(out.norm).toBeCloseTo(5, 6);
    const coef = 1 / (5 + 1e-6);
    values(out.grads).forEach((x, i) => expect(x).toBeCloseTo([3, 0, -4][i] * coef, 7));
    // The clipped norm sits just under maxNorm.
    const clippedNorm = Math.hypot(...values(out.grads));
    expect(clippedNorm).toBeLessThan(1);
    expect(clippedNorm).toBeGreaterThan(1 - 1e-5);
    tf.dispose([...g, ...out.grads]);
  });

  it('maxNorm <= 0 turns clipping off but still measures the norm', async () => {
    for (const maxNorm of [0, -1]) {
      const g = grads();
      const out = await clipGradNorm(g, maxNorm);
      expect(out.norm).toBeCloseTo(5, 6);
      expect(values(out.grads)).toEqual([3, 0, -4]);
      tf.dispose([...g, ...out.grads]);
    }
  });

  it('the norm of several tensors matches a float64 sum of squares', async () => {
    const a = Array.from({ length: 7 }, (_, i) => Math.fround(Math.cos(i) * 0.37));
    const b = Array.from({ length: 6 }, (_, i) => Math.fround(Math.sin(2 * i + 1) * 1.9));
    const g = [tf.tensor1d(a), tf.tensor2d(b, [2, 3]), tf.scalar(-0.5)];
    const out = await clipGradNorm(g, 100);
    const expected = Math.sqrt([...a, ...b, -0.5].reduce((s, x) => s + x * x, 0));
    expect(Math.abs(out.norm - expected) / expected).toBeLessThan(1e-6);
    tf.dispose([...g, ...out.grads]);
  });

  it('reports a non-finite norm as such', async () => {
    const nan = [tf.tensor1d([1, NaN]), tf.tensor1d([2])];
    const inf = [tf.tensor1d([1, Infinity]), tf.tensor1d([2])];
    const outNan = await clipGradNorm(nan, 1);
    const outInf = await clipGradNorm(inf, 1);
    expect(Number.isNaN(outNan.norm)).toBe(true);
    expect(outInf.norm).toBe(Infinity);
    tf.dispose([...nan, ...inf, ...outNan.grads, ...outInf.grads]);
  });

  it('no gradients: norm 0', async () => {
    expect(await clipGradNorm([], 1)).toEqual({ grads: [], norm: 0 });
  });
});
