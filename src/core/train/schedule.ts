import type { LrSchedulerType } from '../config';

const SCHEDULER_TYPES: readonly LrSchedulerType[] = ['linear', 'cosine', 'constant', 'constant_with_warmup'];

/** Multiplier of the base rate: the lambdas of transformers' get_scheduler (cosine with num_cycles 0.5). */
function multiplier(step: number, totalSteps: number, warmupSteps: number, type: LrSchedulerType): number {
  switch (type) {
    case 'constant':
      return 1;
    case 'constant_with_warmup':
      return step < warmupSteps ? step / Math.max(1, warmupSteps) : 1;
    case 'linear':
      if (step < warmupSteps) return step / Math.max(1, warmupSteps);
      return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case 'cosine': {
      if (step < warmupSteps) return step / Math.max(1, warmupSteps);
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      const numCycles = 0.5;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
    }
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new Error(`learning-rate schedule: ${name} must be an integer >= 0, got ${value}`);
}

/**
 * The learning rate after `step` optimizer updates (LambdaLR's last_epoch): update k (1-based) runs at
 * learningRateAt(k − 1, …), and the rate the scheduler reports after k updates is learningRateAt(k, …).
 */
export function learningRateAt(step: number, totalSteps: number, warmupSteps: number, base: number, type: LrSchedulerType): number {
  checkCount('step', step);
  checkCount('totalSteps', totalSteps);
  checkCount('warmupSteps', warmupSteps);
  if (!Number.isFinite(base) || base < 0) throw new Error(`learning-rate schedule: base rate must be finite and >= 0, got ${base}`);
  if (!SCHEDULER_TYPES.includes(type)) {
    throw new Error(`learning-rate schedule: unknown lr_scheduler_type '${type}'; expected one of ${SCHEDULER_TYPES.join(', ')}`);
  }
  return base * multiplier(step, totalSteps, warmupSteps, type);
}

/**
 * transformers' TrainingArguments.get_warmup_steps: warmup_steps when > 0, else ceil(total · ratio),
 * in the same float64 arithmetic (so ceil(100 · 0.07) is 8, as in Python).
 */
export function warmupStepsFor(totalSteps: number, warmup_ratio: number, warmup_steps: number): number {
  checkCount('totalSteps', totalSteps);
  checkCount('warmup_steps', warmup_steps);
  if (!Number.isFinite(warmup_ratio) || warmup_ratio < 0 || warmup_ratio > 1) {
    throw new Error(`learning-rate schedule: warmup_ratio must be in [0, 1], got ${warmup_ratio}`);
  }
  return warmup_steps > 0 ? warmup_steps : Math.ceil(totalSteps * warmup_ratio);
}
