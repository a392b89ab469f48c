/**
 * config.json → ModelConfig, with the defaults Hugging Face's config classes apply for keys a file
 * leaves out, and the tokenizer files that travel with a model.
 */
import { filePath, readJsonFile } from './sources';
import type { Architecture, FileSource, ModelConfig, RopeScaling } from './types';

/** Each supported architecture's model_type and its config class's default context length. */
const ARCHITECTURES: Record<Architecture, { modelType: string; defaultContext: number }> = {
  LlamaForCausalLM: { modelType: 'llama', defaultContext: 2048 },
  MistralForCausalLM: { modelType: 'mistral', defaultContext: 4096 * 32 },
  Qwen2ForCausalLM: { modelType: 'qwen2', defaultContext: 32768 },
  GPT2LMHeadModel: { modelType: 'gpt2', defaultContext: 1024 },
};
const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES) as Architecture[];

const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed access to config keys; every error names the source and the key. */
class ConfigKeys {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly source: string,
  ) {}

  error(key: string, problem: string): Error {
    return new Error(`${this.source}: "${key}" ${problem}`);
  }

  /** null counts as absent: Hugging Face writes null for "use the default". */
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  requiredCount(key: string): number {
    if (!this.has(key)) throw this.error(key, 'is required but missing');
    return this.count(key, 0);
  }

  /** A positive integer. */
  count(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (!Number.isSafeInteger(value) || (value as number) <= 0) {
      throw this.error(key, `must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return value as number;
  }

  number(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.error(key, `must be a number, got ${JSON.stringify(value)}`);
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'boolean') throw this.error(key, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  string(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'string') throw this.error(key, `must be a string, got ${JSON.stringify(value)}`);
    return value;
  }

  tokenId(key: string): number | null {
    if (!this.has(key)) return null;
    const value = this.raw[key];
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw this.error(key, `must be a token id, got ${JSON.stringify(value)}`);
    return value as number;
  }

  /** eos_token_id may list several ids (Llama 3 Instruct). */
  tokenIds(key: string): number | number[] | null {
    const value = this.raw[key];
    if (!Array.isArray(value)) return this.tokenId(key);
    if (!value.every((id) => Number.isSafeInteger(id) && id >= 0)) {
      throw this.error(key, `must be a token id or a list of them, got ${JSON.stringify(value)}`);
    }
    return value as number[];
  }
}

function architectureOf(keys: ConfigKeys): Architecture {
  const listed = keys.raw.architectures;
  const modelType = keys.raw.model_type;
  let name: unknown;
  if (Array.isArray(listed) && listed.length > 0) name = listed[0];
  else if (typeof modelType === 'string') {
    // Configs without an "architectures" list: go by model_type.
    name = SUPPORTED_ARCHITECTURES.find((a) => ARCHITECTURES[a].modelType === modelType) ?? modelType;
  }
  if (typeof name !== 'string') {
    throw new Error(`${keys.source}: names no architecture (neither "architectures" nor a known "model_type")`);
  }
  if (!(SUPPORTED_ARCHITECTURES as string[]).includes(name)) {
    throw new Error(`${keys.source}: architecture "${name}" is not supported; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`);
  }
  return name as Architecture;
}

function parseRopeScaling(keys: ConfigKeys): RopeScaling | null {
  // Transformers 5 writes rope_theta and the scaling together as "rope_parameters".
  const key = keys.has('rope_scaling') ? 'rope_scaling' : 'rope_parameters';
  if (!keys.has(key)) return null;
  const params = keys.raw[key];
  if (!isPlainObject(params)) throw keys.error(key, `must be an object, got ${JSON.stringify(params)}`);
  // Older configs spell rope_type as "type".
  const ropeType = params.rope_type ?? params.type ?? 'default';
  if (typeof ropeType !== 'string' || !SUPPORTED_ROPE_TYPES.includes(ropeType)) {
    throw keys.error(
      key,
      `has rope type ${JSON.stringify(ropeType)}, which is not supported; supported: ${SUPPORTED_ROPE_TYPES.join(', ')}`,
    );
  }
  if (ropeType === 'default') return null;
  const field = (name: string): number => {
    const value = params[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw keys.error(key, `needs a positive number "${name}" for rope type "${ropeType}", got ${JSON.stringify(value)}`);
    }
    return value;
  };
  if (ropeType === 'linear') return { rope_type: 'linear', factor: field('factor') };
  const scaling = {
    rope_type: 'llama3',
    factor: field('factor'),
    low_freq_factor: field('low_freq_factor'),
    high_freq_factor: field('high_freq_factor'),
    original_max_position_embeddings: field('original_max_position_embeddings'),
  };
  if (scaling.high_freq_factor <= scaling.low_freq_factor) {
    throw keys.error(key, `needs high_freq_factor > low_freq_factor, got ${scaling.high_freq_factor} <= ${scaling.low_freq_factor}`);
  }
  return scaling;
}

function ropeTheta(keys: ConfigKeys): number {
  if (keys.has('rope_theta')) return keys.number('rope_theta', 10000);
  const params = keys.has('rope_parameters') ? keys.raw.rope_parameters : null;
  if (isPlainObject(params) && typeof params.rope_theta === 'number') return params.rope_theta;
  return 10000;
}

function headGeometry(keys: ConfigKeys, hidden: number, headsKey: string, kvHeadsKey: string | null) {
  const heads = keys.requiredCount(headsKey);
  const kvHeads = kvHeadsKey === null ? heads : keys.count(kvHeadsKey, heads);
  if (heads % kvHeads !== 0) {
    throw keys.error(kvHeadsKey ?? headsKey, `(${kvHeads}) must divide "${headsKey}" (${heads})`);
  }
  if (keys.has('head_dim')) return { heads, kvHeads, headDim: keys.count('head_dim', 0) };
  if (hidden % heads !== 0) {
    throw keys.error(headsKey, `(${heads}) must divide the hidden size (${hidden}) when "head_dim" is not given`);
  }
  return { heads, kvHeads, headDim: hidden / heads };
}

function tokenIds(keys: ConfigKeys) {
  return {
    bos_token_id: keys.tokenId('bos_token_id'),
    eos_token_id: keys.tokenIds('eos_token_id'),
    pad_token_id: keys.tokenId('pad_token_id'),
  };
}

/** Mistral applies its window to every layer; Qwen2 only when use_sliding_window is on, and then only to some layers. */
function slidingWindow(keys: ConfigKeys, architecture: Architecture): number | null {
  if (architecture === 'MistralForCausalLM') {
    // MistralConfig's default applies only when the key is absent; an explicit null turns the window off.
    if (!('sliding_window' in keys.raw)) return 4096;
    return keys.has('sliding_window') ? keys.count('sliding_window', 0) : null;
  }
  if (architecture === 'Qwen2ForCausalLM' && keys.bool('use_sliding_window', false)) {
    throw keys.error('use_sliding_window', 'is true: per-layer sliding-window attention (Qwen2 max_window_layers) is not supported');
  }
  return null;
}

/** Llama, Mistral and Qwen2 share one decoder; they differ in defaults and biases. */
function parseLlamaFamily(keys: ConfigKeys, architecture: Architecture): ModelConfig {
  const hidden = keys.requiredCount('hidden_size');
  const { heads, kvHeads, headDim } = headGeometry(keys, hidden, 'num_attention_heads', 'num_key_value_heads');
  const isLlama = architecture === 'LlamaForCausalLM';
  return {
    architecture,
    model_type: keys.string('model_type', ARCHITECTURES[architecture].modelType),
    vocab_size: keys.requiredCount('vocab_size'),
    hidden_size: hidden,
    intermediate_size: keys.requiredCount('intermediate_size'),
    num_hidden_layers: keys.requiredCount('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: keys.count('max_position_embeddings', ARCHITECTURES[architecture].defaultContext),
    norm_eps: keys.number('rms_norm_eps', 1e-6),
    rope_theta: ropeTheta(keys),
    rope_scaling: parseRopeScaling(keys),
    // Qwen2's q/k/v projections always carry a bias; Mistral's never do.
    attention_bias: architecture === 'Qwen2ForCausalLM' || (isLlama && keys.bool('attention_bias', false)),
    mlp_bias: isLlama && keys.bool('mlp_bias', false),
    tie_word_embeddings: keys.bool('tie_word_embeddings', false),
    hidden_act: keys.string('hidden_act', 'silu'),
    sliding_window: slidingWindow(keys, architecture),
    ...tokenIds(keys),
    raw: keys.raw,
  };
}

function parseGpt2(keys: ConfigKeys): ModelConfig {
  // These switch GPT-2's attention away from softmax(q·k/√d): refuse rather than compute something else.
  if (!keys.bool('scale_attn_weights', true)) throw keys.error('scale_attn_weights', 'is false, which is not supported');
  if (keys.bool('scale_attn_by_inverse_layer_idx', false)) {
    throw keys.error('scale_attn_by_inverse_layer_idx', 'is true, which is not supported');
  }
  const hidden = keys.requiredCount('n_embd');
  const { heads, headDim } = headGeometry(keys, hidden, 'n_head', null);
  return {
    architecture: 'GPT2LMHeadModel',
    model_type: keys.string('model_type', 'gpt2'),
    vocab_size: keys.requiredCount('vocab_size'),
    hidden_size: hidden,
    intermediate_size: keys.count('n_inner', 4 * hidden),
    num_hidden_layers: keys.requiredCount('n_layer'),
    num_attention_heads: heads,
    num_key_value_heads: heads,
    head_dim: headDim,
    max_position_embeddings: keys.count('n_positions', ARCHITECTURES.GPT2LMHeadModel.defaultContext),
    norm_eps: keys.number('layer_norm_epsilon', 1e-5),
    rope_theta: 0,
    rope_scaling: null,
    attention_bias: true,
    mlp_bias: true,
    tie_word_embeddings: keys.bool('tie_word_embeddings', true),
    hidden_act: keys.string('activation_function', 'gelu_new'),
    sliding_window: null,
    ...tokenIds(keys),
    raw: keys.raw,
  };
}

/** Normalises a parsed config.json; `source` names it in errors. */
export function parseModelConfig(json: unknown, source: string): ModelConfig {
  if (!isPlainObject(json)) throw new Error(`${source}: config must be a JSON object`);
  const keys = new ConfigKeys(json, source);
  const architecture = architectureOf(keys);
  return architecture === 'GPT2LMHeadModel' ? parseGpt2(keys) : parseLlamaFamily(keys, architecture);
}

/** Reads and parses config.json at the root of a model source. */
export async function loadModelConfig(src: FileSource): Promise<ModelConfig> {
  const json = await readJsonFile(src, 'config.json');
  if (json === null) throw new Error(`${src.name}: config.json is missing`);
  return parseModelConfig(json, filePath(src, 'config.json'));
}

/**
 * The tokenizer files of a model: tokenizer.json and tokenizer_config.json are required;
 * generation_config.json and chat_template.jinja (where newer transformers keep the template) are not.
 */
export async function loadTokenizerFiles(src: FileSource): Promise<{
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  generationConfig: unknown | null;
  chatTemplate: string | null;
}> {
  const tokenizerJson = await readJsonFile(src, 'tokenizer.json');
  if (tokenizerJson === null) {
    throw new Error(`${src.name}: tokenizer.json is missing (a fast-tokenizer file is needed; tokenizer.model alone is not enough)`);
  }
  const tokenizerConfig = await readJsonFile(src, 'tokenizer_config.json');
  if (tokenizerConfig === null) throw new Error(`${src.name}: tokenizer_config.json is missing`);
  const generationConfig = await readJsonFile(src, 'generation_config.json');
  const chatTemplate = await src.readText('chat_template.jinja');
  return { tokenizerJson, tokenizerConfig, generationConfig, chatTemplate };
}
