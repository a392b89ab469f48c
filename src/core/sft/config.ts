import type { LrSchedulerType, TrainConfig } from '../dpo/config';

/** SFT settings, by TRL SFTConfig / TrainingArguments names. */
export type SFTConfig = Pick<
  TrainConfig,
  | 'learning_rate'
  | 'per_device_train_batch_size'
  | 'max_steps'
  | 'num_train_epochs'
  | 'warmup_ratio'
  | 'warmup_steps'
  | 'lr_scheduler_type'
  | 'weight_decay'
  | 'adam_beta1'
  | 'adam_beta2'
  | 'adam_epsilon'
  | 'max_grad_norm'
  | 'logging_steps'
  | 'seed'
> & {
  /** Tokens kept per prompt + completion (the end is cut); null keeps all. */
  max_length: number | null;
};

/** TRL SFTConfig's defaults (learning rate 2e-5, max_length 1024) and TrainingArguments' for the rest. */
export const DEFAULT_SFT_CONFIG: SFTConfig = {
  learning_rate: 2e-5,
  per_device_train_batch_size: 8,
  max_steps: -1,
  num_train_epochs: 3,
  warmup_ratio: 0,
  warmup_steps: 0,
  lr_scheduler_type: 'linear' satisfies LrSchedulerType,
  weight_decay: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  max_grad_norm: 1.0,
  logging_steps: 10,
  seed: 42,
  max_length: 1024,
};

/** Every setting that cannot run, as "field: problem". */
export function validateSftConfig(c: SFTConfig): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  need(c.learning_rate > 0, `learning_rate: must be > 0, got ${c.learning_rate}`);
  need(
    Number.isInteger(c.per_device_train_batch_size) && c.per_device_train_batch_size >= 1,
    `per_device_train_batch_size: must be a whole number ≥ 1, got ${c.per_device_train_batch_size}`,
  );
  need(c.max_steps > 0 || c.num_train_epochs > 0, 'max_steps: set max_steps > 0 or num_train_epochs > 0');
  need(c.max_grad_norm >= 0, `max_grad_norm: must be ≥ 0, got ${c.max_grad_norm}`);
  need(Number.isInteger(c.logging_steps) && c.logging_steps >= 1, `logging_steps: must be a whole number ≥ 1, got ${c.logging_steps}`);
  need(
    c.max_length === null || (Number.isInteger(c.max_length) && c.max_length >= 2),
    `max_length: must be a whole number ≥ 2 or null, got ${c.max_length}`,
  );
  return problems;
}
