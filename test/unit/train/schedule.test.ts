import { describe, expect, it } from 'vitest';
import type { LrSchedulerType } from '../../../src/core/dpo/config';
import { learningRateAt, warmupStepsFor } from '../../../src/core/train/schedule';

const BASE = 1e-3;

/** [step, expected multiplier of BASE], worked out by hand from transformers' lambdas. */
function expectSchedule(type: LrSchedulerType, total: number, warmup: number, points: Array<[number, number]>): void {
  for (const [step, multiplier] of points) {
    const lr = learningRateAt(step, total, warmup, BASE, type);
    expect(lr, `${type} at step ${step} (total ${total}, warmup ${warmup})`).toBeCloseTo(BASE * multiplier, 15);
  }
}

describe('learningRateAt', () => {
  it('linear, 10 steps with 2 warmup: ramp step/2, then (10 − step)/8, floored at 0', () => {
    expectSchedule('linear', 10, 2, [
      [0, 0],
      [1, 0.5],
      [2, 1],
      [3, 7 / 8],
      [6, 0.5],
      [9, 1 / 8],
      [10, 0],
      [12, 0],
    ]);
  });

  it('linear without warmup starts at the base rate (TRL default)', () => {
    expectSchedule('linear', 4, 0, [
      [0, 1],
      [1, 0.75],
      [3, 0.25],
      [4, 0],
    ]);
  });

  it('cosine, 10 steps with 2 warmup: 0.5·(1 + cos(π·progress))', () => {
    expectSchedule('cosine', 10, 2, [
      [0, 0],
      [1, 0.5],
      [2, 1],
      [4, 0.5 * (1 + Math.SQRT1_2)], // progress 1/4
      [6, 0.5], // progress 1/2
      [8, 0.5 * (1 - Math.SQRT1_2)], // progress 3/4
      [10, 0],
    ]);
  });

  it('constant ignores warmup', () => {
    expectSchedule('constant', 10, 5, [
      [0, 1],
      [3, 1],
      [10, 1],
    ]);
  });

  it('constant_with_warmup: ramp step/4, then 1', () => {
    expectSchedule('constant_with_warmup', 10, 4, [
      [0, 0],
      [1, 0.25],
      [3, 0.75],
      [4, 1],
      [9, 1],
    ]);
  });

  it('warmup as long as training: the denominators stay at least 1', () => {
    expectSchedule('linear', 3, 3, [
      [2, 2 / 3],
      [3, 0],
    ]);
    expectSchedule('cosine', 3, 3, [[3, 1]]);
  });

  it('clear errors', () => {
    expect(() => learningRateAt(1, 10, 0, BASE, 'polynomial' as LrSchedulerType)).toThrow(/unknown lr_scheduler_type 'polynomial'/);
    expect(() => learningRateAt(-1, 10, 0, BASE, 'linear')).toThrow(/step must be an integer >= 0, got -1/);
    expect(() => learningRateAt(1, 10, 0, NaN, 'linear')).toThrow(/base rate must be finite/);
  });
});

describe('warmupStepsFor', () => {
  it('warmup_steps wins when > 0', () => {
    expect(warmupStepsFor(100, 0.5, 7)).toBe(7);
  });

  it('otherwise ceil(total · ratio), with float64 rounding as in Python', () => {
    expect(warmupStepsFor(100, 0.1, 0)).toBe(10);
    expect(warmupStepsFor(37, 0.1, 0)).toBe(4);
    expect(warmupStepsFor(100, 0, 0)).toBe(0);
    // 100 · 0.07 = 7.000000000000001 in float64, so Python's math.ceil gives 8.
    expect(warmupStepsFor(100, 0.07, 0)).toBe(8);
  });

  it('rejects a ratio outside [0, 1]', () => {
    expect(() => warmupStepsFor(100, 1.5, 0)).toThrow(/warmup_ratio must be in \[0, 1\], got 1.5/);
  });
});
