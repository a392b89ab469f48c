import { DEFAULT_DPO_CONFIG, F_DIVERGENCE_TYPES, LOSS_TYPES, type DPOConfig } from '../core/dpo/config';
import type { LoraConfig } from '../core/model/types';
import type { OptionSpec, ParsedValue } from './args';

const d = DEFAULT_DPO_CONFIG;

export const MODEL_OPTIONS: OptionSpec[] = [
  {
    name: 'model',
    kind: 'string',
    help: 'Hugging Face model folder (config.json, *.safetensors, tokenizer files)',
    aliases: ['model_name_or_path'],
  },
  { name: 'adapter', kind: 'string', help: 'PEFT adapter folder (adapter_config.json, adapter_model.safetensors) to start from' },
];

export const DATA_OPTIONS: OptionSpec[] = [
  {
    name: 'data',
    kind: 'string',
    help: 'preference dataset, JSONL or JSON array (prompt/chosen/rejected)',
    aliases: ['dataset_name', 'dataset'],
  },
  { name: 'max_length', kind: 'int', help: 'tokens kept per prompt+completion sequence', default: String(d.max_length) },
  { name: 'max_prompt_length', kind: 'int', help: 'keep only the last N prompt tokens (TRL ≤ 0.28 option)' },
  {
    name: 'truncation_mode',
    kind: 'string',
    help: 'which end of a long sequence to keep',
    choices: ['keep_start', 'keep_end'],
    default: d.truncation_mode,
  },
];

export const LOSS_OPTIONS: OptionSpec[] = [
  { name: 'beta', kind: 'number', help: 'strength of the pull towards the reference (τ for ipo)', default: String(d.beta) },
  { name: 'loss_type', kind: 'list', help: 'loss or comma-separated losses to combine', choices: LOSS_TYPES, default: 'sigmoid' },
  { name: 'loss_weights', kind: 'numbers', help: 'one weight per loss_type (RPO: sigmoid,sft with 1,α)' },
  { name: 'label_smoothing', kind: 'number', help: 'ε: conservative DPO on sigmoid; robust, exo_pair and aot use it too', default: '0' },
  {
    name: 'f_divergence_type',
    kind: 'string',
    help: 'divergence in the log-ratio score',
    choices: F_DIVERGENCE_TYPES,
    default: d.f_divergence_type,
  },
  { name: 'f_alpha_divergence_coef', kind: 'number', help: 'α of alpha_divergence', default: String(d.f_alpha_divergence_coef) },
  { name: 'use_weighting', kind: 'bool', help: 'WPO: weight each pair by its (detached) length-normalised probability', default: 'false' },
  { name: 'ld_alpha', kind: 'number', help: 'LD-DPO: weight of completion tokens past the shorter completion' },
  { name: 'reference_free', kind: 'bool', help: 'drop the reference from the loss (TRL ≤ 0.28)', default: 'false' },
  { name: 'discopop_tau', kind: 'number', help: 'τ of the discopop loss', default: String(d.discopop_tau) },
];

export const TRAIN_OPTIONS: OptionSpec[] = [
  { name: 'learning_rate', kind: 'number', help: 'peak AdamW learning rate', default: String(d.learning_rate) },
  { name: 'per_device_train_batch_size', kind: 'int', help: 'pairs per micro-batch', default: String(d.per_device_train_batch_size) },
  { name: 'per_device_eval_batch_size', kind: 'int', help: 'pairs per eval batch', default: String(d.per_device_eval_batch_size) },
  { name: 'gradient_accumulation_steps', kind: 'int', help: 'micro-batches per optimizer step', default: '1' },
  { name: 'max_steps', kind: 'int', help: 'optimizer steps (overrides num_train_epochs when > 0)', default: '-1' },
  { name: 'num_train_epochs', kind: 'number', help: 'passes over the training pairs', default: String(d.num_train_epochs) },
  { name: 'warmup_ratio', kind: 'number', help: 'fraction of steps with a linear warmup', default: '0' },
  { name: 'warmup_steps', kind: 'int', help: 'warmup steps (overrides warmup_ratio when > 0)', default: '0' },
  {
    name: 'lr_scheduler_type',
    kind: 'string',
    help: 'learning-rate schedule',
    choices: ['linear', 'cosine', 'constant', 'constant_with_warmup'],
    default: d.lr_scheduler_type,
  },
  { name: 'weight_decay', kind: 'number', help: 'AdamW decoupled weight decay', default: '0' },
  { name: 'adam_beta1', kind: 'number', help: 'AdamW β1', default: '0.9' },
  { name: 'adam_beta2', kind: 'number', help: 'AdamW β2', default: '0.999' },
  { name: 'adam_epsilon', kind: 'number', help: 'AdamW ε', default: '1e-8' },
  { name: 'max_grad_norm', kind: 'number', help: 'clip the gradient to this L2 norm (0: no clipping)', default: '1' },
  { name: 'logging_steps', kind: 'int', help: 'write averaged metrics every N steps', default: String(d.logging_steps) },
  { name: 'eval_steps', kind: 'int', help: 'evaluate every N steps (and at the end) when there is an eval split' },
  { name: 'eval_split', kind: 'number', help: 'hold out this fraction (< 1) or number of pairs for evaluation', default: '0' },
  { name: 'seed', kind: 'int', help: 'seed for shuffling, LoRA initialisation and dropout', default: String(d.seed) },
  { name: 'precompute_ref_log_probs', kind: 'bool', help: 'one reference pass before training, cached per pair', default: 'false' },
  { name: 'disable_dropout', kind: 'bool', help: 'turn LoRA dropout off in policy and reference (TRL default)', default: 'true' },
  { name: 'use_peft', kind: 'bool', help: 'accepted for TRL compatibility: training is always LoRA', default: 'true' },
  { name: 'lora_r', kind: 'int', help: 'LoRA rank', default: '16' },
  { name: 'lora_alpha', kind: 'number', help: 'LoRA α (scaling α/r)', default: '32' },
  { name: 'lora_dropout', kind: 'number', help: 'LoRA dropout (active only with --disable_dropout false)', default: '0.05' },
  { name: 'lora_target_modules', kind: 'list', help: 'module names to adapt, or all-linear', default: 'q_proj,v_proj (c_attn for GPT-2)' },
  { name: 'use_rslora', kind: 'bool', help: 'rank-stabilised LoRA: scale α/√r', default: 'false' },
  { name: 'output_dir', kind: 'string', help: 'where metrics.jsonl, adapter/ and trainer_state.json go' },
];

export const EVAL_OPTIONS: OptionSpec[] = [{ name: 'out', kind: 'string', help: 'write the JSON lines here instead of stdout' }];

export const GENERATE_OPTIONS: OptionSpec[] = [
  { name: 'prompt', kind: 'string', help: 'prompt text (rendered with the chat template when the tokenizer has one)' },
  { name: 'max_new_tokens', kind: 'int', help: 'tokens to generate at most', default: '64' },
  { name: 'temperature', kind: 'number', help: 'sampling temperature; 0 is greedy', default: '0' },
  { name: 'num_prompts', kind: 'int', help: 'with --data: how many prompts to answer', default: '8' },
];

export const HELP_OPTION: OptionSpec = { name: 'help', kind: 'bool', help: 'show this help' };

/** The DPO config: defaults overridden by the options given. */
export function dpoConfigFrom(values: Map<string, ParsedValue>): DPOConfig {
  const config: DPOConfig = { ...DEFAULT_DPO_CONFIG };
  const target = config as unknown as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (values.has(key)) target[key] = values.get(key);
  }
  return config;
}

export function loraConfigFrom(values: Map<string, ParsedValue>): LoraConfig {
  const targets = values.get('lora_target_modules') as string[] | undefined;
  return {
    r: (values.get('lora_r') as number | undefined) ?? 16,
    lora_alpha: (values.get('lora_alpha') as number | undefined) ?? 32,
    lora_dropout: (values.get('lora_dropout') as number | undefined) ?? 0.05,
    target_modules: targets?.length === 1 && targets[0] === 'all-linear' ? 'all-linear' : (targets ?? []),
    use_rslora: (values.get('use_rslora') as boolean | undefined) ?? false,
  };
}
