/**
 * The command's options. Every config option comes from the schema (core/config): its name, type,
 * choices, default and help; only what says where things are (--model, --data, --out, --output_dir,
 * --prompt, …) is the command's own.
 */
import {
  DEFAULT_DPO_CONFIG,
  DEFAULT_LORA_OPTIONS,
  defaultText,
  DPO_OPTIONS,
  LORA_OPTIONS,
  loraConfigOf,
  optionList,
  trlDefaultText,
  versionNote,
  type ConfigOption,
  type DPOConfig,
  type LoraOptions,
  type OptionGroup,
} from '../core/config';
import { PROMPT_SPLITS } from '../core/data/extract-prompt';
import type { LoraConfig } from '../core/model/types';
import type { OptionSpec, ParsedValue } from './args';

/** The command-line form of a schema option; its default text names TRL's where ours differs. */
export function cliSpec(option: ConfigOption): OptionSpec {
  const note = versionNote(option);
  const ours = option.default === null && option.nullText === undefined ? undefined : defaultText(option);
  const trl = option.trlDefault === undefined ? null : trlDefaultText(option);
  const shownDefault = ours !== undefined && trl !== null ? `${ours}; TRL ${trl}` : ours;
  return {
    name: option.name,
    kind: option.type === 'enum' ? 'string' : option.type,
    help: note ? `${option.help} (${note})` : option.help,
    default: shownDefault,
    choices: option.type === 'enum' || option.type === 'list' ? option.choices : undefined,
    nullable: option.nullable,
  };
}

const ALL_SCHEMA_OPTIONS: ConfigOption[] = [...optionList(DPO_OPTIONS), ...optionList(LORA_OPTIONS)] as ConfigOption[];

/** The schema's options of these groups, in schema order. */
function schemaSpecs(...groups: OptionGroup[]): OptionSpec[] {
  return ALL_SCHEMA_OPTIONS.filter((o) => groups.includes(o.group)).map(cliSpec);
}

/** One schema option, for a command that takes it alone. */
export function schemaSpec(name: keyof DPOConfig | keyof LoraOptions): OptionSpec {
  return cliSpec(ALL_SCHEMA_OPTIONS.find((o) => o.name === name)!);
}

export const MODEL_OPTIONS: OptionSpec[] = [
  {
    name: 'model',
    kind: 'string',
    help: 'Hugging Face model folder (config.json, *.safetensors, tokenizer files)',
    aliases: ['model_name_or_path'],
  },
  { name: 'adapter', kind: 'string', help: 'PEFT adapter folder (adapter_config.json, adapter_model.safetensors) to start from' },
  {
    name: 'backend',
    kind: 'string',
    help: "where tensors live: WebGPU through Dawn with our WGSL kernels (a Vulkan driver; see the README), tfjs's WASM backend, tfjs's CPU backend (pure JavaScript), or auto: webgpu where Dawn finds an adapter, else wasm",
    choices: ['auto', 'webgpu', 'wasm', 'cpu'],
    default: 'auto',
  },
  {
    name: 'webgpu_limits',
    kind: 'string',
    help: "with --backend webgpu: the adapter's buffer limits, or WebGPU's defaults (128 MiB per binding, 256 MiB per buffer, as many laptops)",
    choices: ['adapter', 'default'],
    default: 'adapter',
  },
];

export const DATA_FILE_OPTION: OptionSpec = {
  name: 'data',
  kind: 'string',
  help: 'preference dataset file: JSON Lines, JSON array, Parquet, CSV or TSV (the text ones also as .gz or .zst)',
  aliases: ['dataset'],
};

/** TRL's names for a dataset on the Hub. */
export const HUB_DATASET_OPTIONS: OptionSpec[] = [
  {
    name: 'dataset_name',
    kind: 'string',
    help: 'a dataset on the Hugging Face Hub, owner/name (its Parquet files, kept under $HF_HOME; HF_ENDPOINT and HF_TOKEN are honoured), or a local file as --data',
  },
  { name: 'dataset_config', kind: 'string', help: 'with --dataset_name: the dataset\'s config (default: its only one, or "default")' },
  { name: 'dataset_train_split', kind: 'string', help: 'with --dataset_name: the split to read', default: 'train' },
];

export const DATA_COLUMNS_OPTION: OptionSpec = {
  name: 'dataset_columns',
  kind: 'string',
  help: 'source columns for prompt/chosen/rejected, e.g. prompt=question,chosen=response_j,rejected=response_k (known layouts need none)',
};

export const PROMPT_SPLIT_OPTION: OptionSpec = {
  name: 'prompt_split',
  kind: 'string',
  help:
    'rows without a prompt column: split at the longest common prefix of chosen and rejected (as TRL), ' +
    'or at the last assistant turn ("Assistant:" in transcripts, the last assistant message in conversations)',
  choices: PROMPT_SPLITS,
  default: 'common_prefix',
};

export const RATING_MARGIN_OPTION: OptionSpec = {
  name: 'min_rating_margin',
  kind: 'number',
  help: 'keep only rows whose chosen rating exceeds the rejected one by at least this much (score_chosen/score_rejected, chosen_rating/rejected_rating, …); the others are listed as skipped',
};

/** Where the data is (a file, or a Hub dataset), and how it is read: its columns and the split of implicit prompts. */
export const DATA_READ_OPTIONS: OptionSpec[] = [
  DATA_FILE_OPTION,
  ...HUB_DATASET_OPTIONS,
  DATA_COLUMNS_OPTION,
  PROMPT_SPLIT_OPTION,
  RATING_MARGIN_OPTION,
];

export const DATA_OPTIONS: OptionSpec[] = [...DATA_READ_OPTIONS, ...schemaSpecs('data')];

export const LOSS_OPTIONS: OptionSpec[] = schemaSpecs('loss');

export const TRAIN_OPTIONS: OptionSpec[] = [
  ...schemaSpecs('training', 'lora'),
  { name: 'output_dir', kind: 'string', help: 'where metrics.jsonl, adapter/, trainer_state.json and checkpoint-N/ go' },
  {
    name: 'save_steps',
    kind: 'int',
    help: 'write output_dir/checkpoint-N/ every this many steps (adapter, optimizer, position); 0: none but on an interrupt',
    default: '500',
  },
  { name: 'save_total_limit', kind: 'int', help: 'keep at most this many checkpoints, removing the oldest (default: all)' },
  {
    name: 'resume_from_checkpoint',
    kind: 'string',
    help: "continue from this checkpoint-N folder, or 'true' for output_dir's newest; same model, data and options",
  },
];

export const EVAL_OPTIONS: OptionSpec[] = [{ name: 'out', kind: 'string', help: 'write the JSON lines here instead of stdout' }];

export const GENERATE_OPTIONS: OptionSpec[] = [
  { name: 'prompt', kind: 'string', help: 'prompt text (rendered with the chat template when the tokenizer has one)' },
  { name: 'max_new_tokens', kind: 'int', help: 'tokens to generate at most', default: '64' },
  { name: 'temperature', kind: 'number', help: 'sampling temperature; 0 is greedy', default: '0' },
  { name: 'num_prompts', kind: 'int', help: 'with --data: how many prompts to answer', default: '8' },
];

export const HELP_OPTION: OptionSpec = { name: 'help', kind: 'bool', help: 'show this help' };

/** The options given, over the defaults, for the keys of `defaults`. */
function withGiven<C extends object>(defaults: C, values: Map<string, ParsedValue>): C {
  const config = { ...defaults };
  const target = config as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (values.has(key)) target[key] = values.get(key);
  }
  return config;
}

/** The DPO config: defaults overridden by the options given. */
export function dpoConfigFrom(values: Map<string, ParsedValue>): DPOConfig {
  return withGiven(DEFAULT_DPO_CONFIG, values);
}

/** The LoRA options given (TRL's --lora_r, …) over the schema's defaults. */
export function loraOptionsFrom(values: Map<string, ParsedValue>): LoraOptions {
  return withGiven(DEFAULT_LORA_OPTIONS, values);
}

export function loraConfigFrom(values: Map<string, ParsedValue>): LoraConfig {
  return loraConfigOf(loraOptionsFrom(values));
}
