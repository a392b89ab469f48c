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

export const LR_SCHEDULER_TYPES = ['linear', 'cosine', 'constant', 'constant_with_warmup'] as const;
export type LrSchedulerType = (typeof LR_SCHEDULER_TYPES)[number];

export const TRUNCATION_MODES = ['keep_start', 'keep_end'] as const satisfies readonly TruncationMode[];

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
  /** Recompute each layer's activations in the backward pass instead of keeping them. */
  gradient_checkpointing: boolean;
}

export type DPOConfig = LossConfig & DataConfig & TrainConfig;

/** The TrainingArguments the training loop reads (src/core/train), whatever the objective. */
export type TrainerConfig = Pick<
  TrainConfig,
  | 'learning_rate'
  | 'per_device_train_batch_size'
  | 'gradient_accumulation_steps'
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
> &
  Partial<Pick<TrainConfig, 'eval_steps'>>;

/** SFT settings, by TRL SFTConfig / TrainingArguments names: the loop's, and how long a sequence may be. */
export type SFTConfig = Omit<TrainerConfig, 'eval_steps'> & {
  /** Tokens kept per prompt + completion (the end is cut); null keeps all. */
  max_length: number | null;
};

/**
 * The LoRA options as TRL's scripts spell them (ModelConfig: --lora_r, --lora_alpha, …). The adapter
 * itself takes PEFT's LoraConfig (model/types.ts); loraConfigOf converts.
 */
export interface LoraOptions {
  lora_r: number;
  lora_alpha: number;
  lora_dropout: number;
  /** Module names, ["all-linear"], or [] for PEFT's default modules of the architecture. */
  lora_target_modules: string[];
  use_rslora: boolean;
  /** Accepted for TRL's command lines: training here is always LoRA. */
  use_peft: boolean;
}

/** A setting that cannot run, with the option it concerns. */
export interface ConfigProblem<K extends string = string> {
  field: K;
  message: string;
}
