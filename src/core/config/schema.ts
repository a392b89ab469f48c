/**
 * The one option schema: every setting of a run, by the name TRL gives it, with its type, default,
 * valid range, help text and the TRL releases that have it. The CLI's parser and --help, the studio's
 * Configure panel and its validation, and the TRL script export all read this table; defaults
 * (DEFAULT_DPO_CONFIG, DEFAULT_LORA_OPTIONS, DEFAULT_SFT_CONFIG) are derived from it.
 *
 * Sources: TRL's DPOConfig and ModelConfig at v1.9.0 and v0.28.0, transformers' TrainingArguments.
 * Table order is the order the TRL script writes DPOConfig's arguments in.
 */
import {
  F_DIVERGENCE_TYPES,
  LOSS_TYPES,
  LR_SCHEDULER_TYPES,
  TRUNCATION_MODES,
  type DPOConfig,
  type LoraOptions,
  type SFTConfig,
} from './types';
import type { VersionRange } from './versions';

export type OptionType = 'int' | 'number' | 'bool' | 'string' | 'enum' | 'list' | 'numbers';

/** Where an option is shown on the command line and what it governs. */
export type OptionGroup = 'loss' | 'data' | 'training' | 'lora';

/** Bounds of a number; inclusive unless marked exclusive. */
export interface Range {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

export interface ConfigOption<T = unknown, C = unknown> {
  /** The name TRL gives it (DPOConfig, TrainingArguments or ModelConfig): the CLI flag and the config field. */
  name: string;
  type: OptionType;
  group: OptionGroup;
  /** null (Python's None) is a valid value. */
  nullable?: boolean;
  /** What null means, in a few words ("none", "end only", "off"): the CLI's default text, the studio's placeholder. */
  nullText?: string;
  default: T;
  /** TRL's own default where ours differs (in the TRL releases that have the option). */
  trlDefault?: T;
  /** The default as text when its value alone would mislead ([] for PEFT's modules of the architecture). */
  defaultText?: string;
  /** enum: the values; list: the values each item may take (absent: any string). */
  choices?: readonly string[];
  range?: Range;
  /** A list that must hold at least one item. */
  nonEmpty?: boolean;
  /** The studio's label, when it is not the name with spaces. */
  label?: string;
  /** One line: the CLI's help, and the studio's hint (capitalised). */
  help: string;
  /** The TRL releases that have it ({} for every release with a DPOConfig); false for the studio's own options. */
  trl: VersionRange | false;
  /** The transformers releases that have it, for TrainingArguments options some releases lack. */
  transformers?: VersionRange;
  /** The option is checked only when this holds (eval_steps matters only with an eval split). */
  checkedWhen?(config: C): boolean;
}

/** A table of options keyed by config field; each entry's name is its key. */
export type OptionTable<C> = { readonly [K in keyof C & string]: ConfigOption<C[K], C> & { name: K } };

type Unnamed<C> = { [K in keyof C & string]: Omit<ConfigOption<C[K], C>, 'name'> };

function named<C>(table: Unnamed<C>): OptionTable<C> {
  const out: Record<string, ConfigOption> = {};
  for (const [name, option] of Object.entries(table) as [string, Omit<ConfigOption, 'name'>][]) out[name] = { name, ...option };
  return out as OptionTable<C>;
}

/** The options of a table in table order. */
export function optionList<C>(table: OptionTable<C>): ConfigOption<unknown, C>[] {
  return Object.values(table) as ConfigOption<unknown, C>[];
}

/** DPOConfig: TRL's DPOConfig fields and the TrainingArguments a run uses, plus the studio's eval split. */
export const DPO_OPTIONS: OptionTable<DPOConfig> = named<DPOConfig>({
  // The loss.
  beta: {
    type: 'number',
    group: 'loss',
    default: 0.1,
    range: { min: 0, minExclusive: true },
    help: 'how far the policy may move from the reference: higher stays closer (τ for ipo)',
    trl: {},
  },
  loss_type: {
    type: 'list',
    group: 'loss',
    default: ['sigmoid'],
    choices: LOSS_TYPES,
    nonEmpty: true,
    help: 'loss, or comma-separated losses to combine',
    trl: {},
  },
  loss_weights: {
    type: 'numbers',
    group: 'loss',
    nullable: true,
    nullText: 'all 1',
    default: null,
    help: 'one weight per loss_type (RPO: sigmoid,sft with 1,α)',
    trl: { since: '0.20' },
  },
  label_smoothing: {
    type: 'number',
    group: 'loss',
    default: 0,
    range: { min: 0, max: 0.5, maxExclusive: true },
    help: 'ε: conservative DPO on sigmoid; robust, exo_pair and aot use it too',
    trl: {},
  },
  f_divergence_type: {
    type: 'enum',
    group: 'loss',
    default: 'reverse_kl',
    choices: F_DIVERGENCE_TYPES,
    help: 'divergence in the log-ratio score',
    trl: {},
  },
  f_alpha_divergence_coef: {
    type: 'number',
    group: 'loss',
    default: 0.5,
    help: 'α of alpha_divergence',
    trl: {},
  },
  use_weighting: {
    type: 'bool',
    group: 'loss',
    default: false,
    help: 'WPO: weight each pair by its (detached) length-normalised probability',
    trl: { since: '0.12' },
  },
  ld_alpha: {
    type: 'number',
    group: 'loss',
    nullable: true,
    nullText: 'off',
    default: null,
    range: { min: 0, max: 1 },
    help: 'LD-DPO: weight of completion tokens past the shorter completion (TRL ≥ 0.29 applies it to the reference too)',
    trl: { since: '0.18' },
  },
  reference_free: {
    type: 'bool',
    group: 'loss',
    default: false,
    help: 'drop the reference from the loss (rewards still use it)',
    trl: { until: '0.28' },
  },
  discopop_tau: {
    type: 'number',
    group: 'loss',
    default: 0.05,
    range: { min: 0, minExclusive: true },
    help: 'τ of the discopop loss',
    trl: { since: '0.13' },
  },

  // Tokenization and truncation.
  max_length: {
    type: 'int',
    group: 'data',
    nullable: true,
    nullText: 'none',
    default: 1024,
    range: { min: 2 },
    help: 'tokens kept per prompt + completion; none keeps all',
    trl: {},
  },
  max_prompt_length: {
    type: 'int',
    group: 'data',
    nullable: true,
    nullText: 'none',
    default: null,
    // TRL 0.28 applies 512 unless told None, so the TRL script always passes it.
    trlDefault: 512,
    range: { min: 1 },
    help: 'keep only the last N prompt tokens',
    trl: { until: '0.28' },
  },
  truncation_mode: {
    type: 'enum',
    group: 'data',
    default: 'keep_start',
    choices: TRUNCATION_MODES,
    help: 'which end of a long sequence to keep; keep_start drops pairs whose prompt alone reaches max_length, as TRL does',
    trl: {},
  },

  // The reference model.
  precompute_ref_log_probs: {
    type: 'bool',
    group: 'training',
    default: false,
    help: 'one reference pass before training, cached per pair: the same numbers, a forward pass per step saved',
    trl: {},
  },
  disable_dropout: {
    type: 'bool',
    group: 'training',
    default: true,
    help: 'turn LoRA dropout off in policy and reference, so chosen and rejected rows compute alike',
    trl: {},
  },
  gradient_checkpointing: {
    type: 'bool',
    group: 'training',
    default: true,
    help: "recompute each layer's activations in the backward pass instead of keeping them: far less memory, about a third more compute",
    trl: {},
  },

  // Optimisation.
  learning_rate: {
    type: 'number',
    group: 'training',
    // TRL's 1e-6 suits full fine-tuning; LoRA wants about 1e-5 to 1e-4.
    default: 5e-5,
    trlDefault: 1e-6,
    range: { min: 0, minExclusive: true },
    help: 'peak AdamW learning rate; LoRA wants about 1e-5 to 1e-4',
    trl: {},
  },
  per_device_train_batch_size: {
    type: 'int',
    group: 'training',
    default: 8,
    range: { min: 1 },
    label: 'batch size',
    help: 'pairs per micro-batch',
    trl: {},
  },
  per_device_eval_batch_size: {
    type: 'int',
    group: 'training',
    default: 8,
    range: { min: 1 },
    label: 'eval batch size',
    help: 'pairs per eval batch',
    trl: {},
  },
  gradient_accumulation_steps: {
    type: 'int',
    group: 'training',
    default: 1,
    range: { min: 1 },
    label: 'gradient accumulation',
    help: 'micro-batches per optimizer step',
    trl: {},
  },
  num_train_epochs: {
    type: 'number',
    group: 'training',
    default: 3,
    label: 'epochs',
    help: 'passes over the training pairs when max_steps is -1',
    trl: {},
  },
  max_steps: {
    type: 'int',
    group: 'training',
    default: -1,
    help: 'optimizer steps; -1 derives them from num_train_epochs',
    trl: {},
  },
  warmup_ratio: {
    type: 'number',
    group: 'training',
    default: 0,
    range: { min: 0, max: 1, maxExclusive: true },
    help: 'fraction of all steps with a linear warmup',
    trl: {},
    // transformers 5 reads a warmup_steps below 1 as this ratio instead.
    transformers: { until: '4' },
  },
  warmup_steps: {
    type: 'int',
    group: 'training',
    default: 0,
    range: { min: 0 },
    help: 'linear warmup steps; 0 uses warmup_ratio',
    trl: {},
  },
  lr_scheduler_type: {
    type: 'enum',
    group: 'training',
    default: 'linear',
    choices: LR_SCHEDULER_TYPES,
    label: 'schedule',
    help: 'learning-rate schedule',
    trl: {},
  },
  weight_decay: {
    type: 'number',
    group: 'training',
    default: 0,
    range: { min: 0 },
    help: 'AdamW decoupled weight decay',
    trl: {},
  },
  adam_beta1: {
    type: 'number',
    group: 'training',
    default: 0.9,
    range: { min: 0, max: 1, maxExclusive: true },
    help: 'AdamW β1',
    trl: {},
  },
  adam_beta2: {
    type: 'number',
    group: 'training',
    default: 0.999,
    range: { min: 0, max: 1, maxExclusive: true },
    help: 'AdamW β2',
    trl: {},
  },
  adam_epsilon: {
    type: 'number',
    group: 'training',
    default: 1e-8,
    help: 'AdamW ε',
    trl: {},
  },
  max_grad_norm: {
    type: 'number',
    group: 'training',
    default: 1,
    range: { min: 0 },
    help: 'clip the gradient to this L2 norm; 0 is off',
    trl: {},
  },
  seed: {
    type: 'int',
    group: 'training',
    default: 42,
    help: 'seed for shuffling, LoRA initialisation and dropout',
    trl: {},
  },

  // Logging and evaluation.
  logging_steps: {
    type: 'int',
    group: 'training',
    default: 10,
    range: { min: 1 },
    help: 'log metrics every N steps, averaged over them',
    trl: {},
  },
  eval_steps: {
    type: 'int',
    group: 'training',
    nullable: true,
    nullText: 'end only',
    default: null,
    range: { min: 1 },
    help: 'evaluate every N steps (and at the end) when there is an eval split',
    trl: {},
    checkedWhen: (c) => c.eval_split > 0,
  },
  eval_split: {
    type: 'number',
    group: 'training',
    default: 0,
    range: { min: 0 },
    help: 'hold out this fraction (< 1) or number of pairs for evaluation; 0 is none',
    trl: false,
  },
});

/** The LoRA adapter, by TRL ModelConfig's names (its scripts' --lora_r, --lora_alpha, …). */
export const LORA_OPTIONS: OptionTable<LoraOptions> = named<LoraOptions>({
  use_peft: {
    type: 'bool',
    group: 'lora',
    default: true,
    trlDefault: false,
    help: 'accepted for TRL compatibility: training is always LoRA',
    trl: {},
  },
  lora_r: {
    type: 'int',
    group: 'lora',
    default: 16,
    range: { min: 1 },
    label: 'LoRA r',
    help: 'LoRA rank: the size of the update',
    trl: {},
  },
  lora_alpha: {
    type: 'number',
    group: 'lora',
    default: 32,
    range: { min: 0, minExclusive: true },
    label: 'LoRA alpha',
    help: 'LoRA α: the update is scaled by α / r',
    trl: {},
  },
  lora_dropout: {
    type: 'number',
    group: 'lora',
    default: 0.05,
    range: { min: 0, max: 1, maxExclusive: true },
    label: 'LoRA dropout',
    help: 'dropout on the adapter input, only when disable_dropout is false',
    trl: {},
  },
  lora_target_modules: {
    type: 'list',
    group: 'lora',
    default: [],
    defaultText: 'q_proj,v_proj (c_attn for GPT-2)',
    label: 'LoRA target modules',
    help: 'module names to adapt, or all-linear',
    trl: {},
  },
  use_rslora: {
    type: 'bool',
    group: 'lora',
    default: false,
    label: 'rank-stabilised LoRA (α / √r)',
    help: 'rank-stabilised LoRA: scale α / √r',
    trl: {},
  },
});

/** SFT: the DPO table's training options, with SFTConfig's own defaults where they differ. */
export const SFT_OPTIONS: OptionTable<SFTConfig> = {
  learning_rate: { ...DPO_OPTIONS.learning_rate, default: 2e-5, trlDefault: 2e-5 },
  per_device_train_batch_size: DPO_OPTIONS.per_device_train_batch_size,
  gradient_accumulation_steps: DPO_OPTIONS.gradient_accumulation_steps,
  max_steps: DPO_OPTIONS.max_steps,
  num_train_epochs: DPO_OPTIONS.num_train_epochs,
  warmup_ratio: DPO_OPTIONS.warmup_ratio,
  warmup_steps: DPO_OPTIONS.warmup_steps,
  lr_scheduler_type: DPO_OPTIONS.lr_scheduler_type,
  weight_decay: DPO_OPTIONS.weight_decay,
  adam_beta1: DPO_OPTIONS.adam_beta1,
  adam_beta2: DPO_OPTIONS.adam_beta2,
  adam_epsilon: DPO_OPTIONS.adam_epsilon,
  max_grad_norm: DPO_OPTIONS.max_grad_norm,
  logging_steps: DPO_OPTIONS.logging_steps,
  seed: DPO_OPTIONS.seed,
  max_length: { ...DPO_OPTIONS.max_length, help: 'tokens kept per prompt + completion (the end is cut)' },
};
