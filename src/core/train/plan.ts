import { warmupStepsFor } from './schedule';

/** What fixes the length of a run (TrainingArguments names), with the number of training examples. */
export interface PlanInput {
  examples: number;
  per_device_train_batch_size: number;
  gradient_accumulation_steps: number;
  /** > 0 wins over num_train_epochs. */
  max_steps: number;
  num_train_epochs: number;
  warmup_ratio: number;
  warmup_steps: number;
}

export interface StepPlan {
  /** Micro-batches of per_device_train_batch_size in one pass over the examples; the last may be short. */
  microBatchesPerEpoch: number;
  /** Optimizer steps per pass; the last step of a pass takes the micro-batches that are left. */
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
}

function whole(name: string, value: number, min: number): void {
  if (!(Number.isInteger(value) && value >= min)) throw new Error(`step plan: ${name} must be a whole number ≥ ${min}, got ${value}`);
}

/**
 * The length of a run as Hugging Face's Trainer works it out: ⌈examples / batch⌉ micro-batches per
 * epoch, ⌈micro-batches / accumulation⌉ optimizer steps per epoch (at least one), max_steps when > 0,
 * else ⌈steps per epoch · epochs⌉, and the warmup from warmup_steps or warmup_ratio. The trainers run
 * this plan; the studio and the CLI show it. Throws on settings no run could take.
 */
export function planSteps(input: PlanInput): StepPlan {
  whole('examples', input.examples, 0);
  whole('per_device_train_batch_size', input.per_device_train_batch_size, 1);
  whole('gradient_accumulation_steps', input.gradient_accumulation_steps, 1);
  if (input.max_steps > 0) whole('max_steps', input.max_steps, 1);
  else if (!(Number.isFinite(input.num_train_epochs) && input.num_train_epochs > 0)) {
    throw new Error(`step plan: set max_steps > 0 or num_train_epochs > 0 (got ${input.max_steps} and ${input.num_train_epochs})`);
  }
  const microBatchesPerEpoch = Math.ceil(input.examples / input.per_device_train_batch_size);
  const stepsPerEpoch = Math.max(1, Math.ceil(microBatchesPerEpoch / input.gradient_accumulation_steps));
  const totalSteps = input.max_steps > 0 ? input.max_steps : Math.ceil(stepsPerEpoch * input.num_train_epochs);
  return {
    microBatchesPerEpoch,
    stepsPerEpoch,
    totalSteps,
    warmupSteps: warmupStepsFor(totalSteps, input.warmup_ratio, input.warmup_steps),
  };
}
