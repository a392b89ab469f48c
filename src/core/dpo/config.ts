import type { TruncationMode } from '../data/types';

/** Every loss_type TRL's DPOTrainer offers (TRL ≥ 1.9 names). */
export const LOSS_TYPES = [
  'sigmoid',
  'hinge',
  'ipo',
  'exo_pair',
  'nca_pair',
  'robust',
  'bco_pair',
  'sppo_hard',
  'aot',
  'aot_unpaired',
  'apo_zero',
  'apo_down',
  'discopop',
  'sigmoid_norm',
  'sft',
] as const;
export type LossType = (typeof LOSS_TYPES)[number];

export const F_DIVERGENCE_TYPES = ['reverse_kl', 'forward_kl', 'js_divergence', 'alpha_divergence'] as const;
export type FDivergenceType = (typeof F_DIVERGENCE_TYPES)[number];

export type LrSchedulerType = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';

/** What the loss needs to know. Field names are TRL's DPOConfig names. */
export interface LossConfig {
  beta: number;
  loss_type: LossType[];
  /** One weight per loss_type; all 1.0 when absent. */
  loss_weights: number[] | null;
  /** ε: cDPO for sigmoid (TRL ≤ 0.28 and the original DPO code), and robust / exo_pair / aot. */
  label_smoothing: number;
  f_divergence_type: FDivergenceType;
  f_alpha_divergence_coef: number;
  /** WPO weighting. */
  use_weighting: boolean;
  /** LD-DPO α; null when off. Applied to policy and reference (TRL ≥ 0.29). */
  ld_alpha: number | null;
  /** Zero the reference log-ratios in the loss (TRL ≤ 0.28); rewards still use the reference. */
  reference_free: boolean;
  discopop_tau: number;
}

/** Tokenization and truncation settings. */
export interface DataConfig {
  max_length: number | null;
  max_prompt_length: number | null;
  truncation_mode: TruncationMode;
}

/** Training settings (Hugging Face TrainingArguments names). */
export interface TrainConfig {
  learning_rate: number;
  per_device_train_batch_size: number;
  per_device_eval_batch_size: number;
  gradient_accumulation_steps: number;
  /** -1: derive from num_train_epochs. */
  max_steps: number;
  num_train_epochs: number;
  warmup_ratio: number;
  warmup_steps: number;
  lr_scheduler_type: LrSchedulerType;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  max_grad_norm: number;
  logging_steps: number;
  eval_steps: number | null;
  /** Fraction (0–1) or row count held out for eval; 0 for none. */
  eval_split: number;
  seed: number;
  precompute_ref_log_probs: boolean;
  disable_dropout: boolean;
}

export type DPOConfig = LossConfig & DataConfig & TrainConfig;

/** TRL's defaults, except the learning rate: 1e-6 suits full fine-tuning, LoRA wants about 1e-5 to 5e-5. */
export const DEFAULT_DPO_CONFIG: DPOConfig = {
  beta: 0.1,
  loss_type: ['sigmoid'],
  loss_weights: null,
  label_smoothing: 0,
  f_divergence_type: 'reverse_kl',
  f_alpha_divergence_coef: 0.5,
  use_weighting: false,
  ld_alpha: null,
  reference_free: false,
  discopop_tau: 0.05,

  max_length: 1024,
  max_prompt_length: null,
  truncation_mode: 'keep_start',

  learning_rate: 5e-5,
  per_device_train_batch_size: 8,
  per_device_eval_batch_size: 8,
  gradient_accumulation_steps: 1,
  max_steps: -1,
  num_train_epochs: 3,
  warmup_ratio: 0,
  warmup_steps: 0,
  lr_scheduler_type: 'linear',
  weight_decay: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  max_grad_norm: 1.0,
  logging_steps: 10,
  eval_steps: null,
  eval_split: 0,
  seed: 42,
  precompute_ref_log_probs: false,
  disable_dropout: true,
};

/** A setting that cannot run, with the field it concerns. */
export interface ConfigProblem {
  field: keyof DPOConfig;
  message: string;
}

/** Checks a config before a run; the studio shows these next to their fields, the CLI prints them. */
export function validateDpoConfig(c: DPOConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const need = (ok: boolean, field: keyof DPOConfig, message: string) => {
    if (!ok) problems.push({ field, message });
  };
  need(c.beta > 0, 'beta', 'beta must be greater than 0');
  need(c.loss_type.length > 0, 'loss_type', 'choose at least one loss type');
  for (const t of c.loss_type) need(LOSS_TYPES.includes(t), 'loss_type', `unknown loss type "${t}"`);
  need(
    c.loss_weights === null || c.loss_weights.length === c.loss_type.length,
    'loss_weights',
    `loss_weights has ${c.loss_weights?.length} values for ${c.loss_type.length} loss types`,
  );
  need(c.label_smoothing >= 0 && c.label_smoothing < 0.5, 'label_smoothing', 'label_smoothing must be in [0, 0.5)');
  need(!c.loss_type.includes('exo_pair') || c.label_smoothing > 0, 'label_smoothing', 'exo_pair needs label_smoothing > 0 (e.g. 1e-3)');
  need(
    !c.use_weighting || !c.loss_type.some((t) => t === 'aot' || t === 'aot_unpaired'),
    'use_weighting',
    'WPO weighting cannot be combined with aot or aot_unpaired',
  );
  need(c.ld_alpha === null || (c.ld_alpha >= 0 && c.ld_alpha <= 1), 'ld_alpha', 'ld_alpha must be in [0, 1]');
  need(c.max_length === null || c.max_length >= 2, 'max_length', 'max_length must be at least 2');
  need(c.max_prompt_length === null || c.max_prompt_length >= 1, 'max_prompt_length', 'max_prompt_length must be at least 1');
  need(c.learning_rate > 0, 'learning_rate', 'learning_rate must be greater than 0');
  need(
    Number.isInteger(c.per_device_train_batch_size) && c.per_device_train_batch_size >= 1,
    'per_device_train_batch_size',
    'batch size must be a whole number ≥ 1',
  );
  need(
    Number.isInteger(c.per_device_eval_batch_size) && c.per_device_eval_batch_size >= 1,
    'per_device_eval_batch_size',
    'eval batch size must be a whole number ≥ 1',
  );
  need(
    Number.isInteger(c.gradient_accumulation_steps) && c.gradient_accumulation_steps >= 1,
    'gradient_accumulation_steps',
    'gradient accumulation must be a whole number ≥ 1',
  );
  need(c.max_steps > 0 || c.num_train_epochs > 0, 'max_steps', 'set max_steps > 0 or num_train_epochs > 0');
  need(c.warmup_ratio >= 0 && c.warmup_ratio < 1, 'warmup_ratio', 'warmup_ratio must be in [0, 1)');
  need(c.max_grad_norm >= 0, 'max_grad_norm', 'max_grad_norm must be ≥ 0');
  need(c.logging_steps >= 1, 'logging_steps', 'logging_steps must be ≥ 1');
  need(c.eval_split >= 0, 'eval_split', 'eval_split must be ≥ 0');
  need(c.adam_beta1 >= 0 && c.adam_beta1 < 1 && c.adam_beta2 >= 0 && c.adam_beta2 < 1, 'adam_beta1', 'Adam betas must be in [0, 1)');
  return problems;
}
