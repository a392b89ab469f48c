import { describe, expect, it } from 'vitest';
import { planSteps, type PlanInput } from '../../../src/core/train/plan';

const plan = (o: Partial<PlanInput>) =>
  planSteps({
    examples: 10,
    per_device_train_batch_size: 3,
    gradient_accumulation_steps: 1,
    max_steps: -1,
    num_train_epochs: 1,
    warmup_ratio: 0,
    warmup_steps: 0,
    ...o,
  });

describe('planSteps', () => {
  it('epochs: 10 examples in batches of 3 are 4 micro-batches (the last holds 1), 4 steps an epoch, 8 in 2 epochs', () => {
    expect(plan({ num_train_epochs: 2 })).toEqual({ microBatchesPerEpoch: 4, stepsPerEpoch: 4, totalSteps: 8, warmupSteps: 0 });
  });

  it('accumulation: 4 micro-batches over 2 per step are 2 steps an epoch, 6 in 3 epochs', () => {
    expect(plan({ gradient_accumulation_steps: 2, num_train_epochs: 3 })).toEqual({
      microBatchesPerEpoch: 4,
      stepsPerEpoch: 2,
      totalSteps: 6,
      warmupSteps: 0,
    });
  });

  it('a last partial step: 5 micro-batches over 2 per step are 3 steps an epoch (2, 2 and 1)', () => {
    expect(plan({ per_device_train_batch_size: 2, gradient_accumulation_steps: 2, num_train_epochs: 2 })).toMatchObject({
      microBatchesPerEpoch: 5,
      stepsPerEpoch: 3,
      totalSteps: 6,
    });
  });

  it('a last partial epoch: 1.5 epochs of 3 steps are ⌈4.5⌉ = 5 steps', () => {
    expect(plan({ per_device_train_batch_size: 1, gradient_accumulation_steps: 4, num_train_epochs: 1.5 })).toMatchObject({
      microBatchesPerEpoch: 10,
      stepsPerEpoch: 3,
      totalSteps: 5,
    });
  });

  it('accumulating more micro-batches than an epoch has still takes one step an epoch', () => {
    expect(plan({ examples: 5, per_device_train_batch_size: 4, gradient_accumulation_steps: 8, num_train_epochs: 3 })).toMatchObject({
      microBatchesPerEpoch: 2,
      stepsPerEpoch: 1,
      totalSteps: 3,
    });
  });

  it('max_steps > 0 wins over the epochs', () => {
    expect(plan({ max_steps: 7, num_train_epochs: 3 }).totalSteps).toBe(7);
    expect(plan({ max_steps: 7, num_train_epochs: 0 }).totalSteps).toBe(7);
  });

  it('warmup: warmup_steps when > 0, else ⌈total · warmup_ratio⌉', () => {
    expect(plan({ num_train_epochs: 2, warmup_ratio: 0.1 }).warmupSteps).toBe(1); // ⌈0.8⌉
    expect(plan({ max_steps: 100, warmup_ratio: 0.07 }).warmupSteps).toBe(8); // 7.000000000000001 in float64
    expect(plan({ max_steps: 100, warmup_ratio: 0.5, warmup_steps: 3 }).warmupSteps).toBe(3);
  });

  it('no examples yet (an empty split in the studio): one step an epoch', () => {
    expect(plan({ examples: 0, num_train_epochs: 3 })).toEqual({
      microBatchesPerEpoch: 0,
      stepsPerEpoch: 1,
      totalSteps: 3,
      warmupSteps: 0,
    });
  });

  it('names the setting no run could take', () => {
    expect(() => plan({ per_device_train_batch_size: 0 })).toThrow(/per_device_train_batch_size must be a whole number ≥ 1, got 0/);
    expect(() => plan({ gradient_accumulation_steps: 1.5 })).toThrow(/gradient_accumulation_steps must be a whole number ≥ 1, got 1.5/);
    expect(() => plan({ max_steps: 2.5 })).toThrow(/max_steps must be a whole number ≥ 1, got 2.5/);
    expect(() => plan({ max_steps: -1, num_train_epochs: 0 })).toThrow(/set max_steps > 0 or num_train_epochs > 0/);
    expect(() => plan({ warmup_ratio: 1.5 })).toThrow(/warmup_ratio must be in \[0, 1\], got 1.5/);
  });
});
