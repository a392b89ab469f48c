import { Rng } from '../random';
import { parseModelConfig } from './config';
import { gpt2TensorShapes } from './gpt2';
import { llamaTensorShapes } from './llama';
import type { Architecture } from './types';

/** The sizes of a random checkpoint, in Llama's config.json names (mapped to n_embd etc. for GPT-2). */
export interface RandomCheckpointDims {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  max_position_embeddings?: number;
  tie_word_embeddings?: boolean;
}

export interface RandomCheckpoint {
  /** A complete config.json as transformers writes it for the architecture. */
  configJson: Record<string, unknown>;
  /** Tensors by Hugging Face name, ready for serializeSafetensors. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export interface RandomCheckpointOptions {
  /** Standard deviation of the weight matrices and embeddings; transformers' initializer_range is 0.02. */
  std?: number;
}

const TRANSFORMERS_VERSION = '4.57.1';

function llamaFamilyConfig(arch: Architecture, dims: RandomCheckpointDims): Record<string, unknown> {
  const common = {
    architectures: [arch],
    attention_dropout: 0.0,
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: 'silu',
    hidden_size: dims.hidden_size,
    initializer_range: 0.02,
    intermediate_size: dims.intermediate_size,
    max_position_embeddings: dims.max_position_embeddings ?? 2048,
    num_attention_heads: dims.num_attention_heads,
    num_hidden_layers: dims.num_hidden_layers,
    num_key_value_heads: dims.num_key_value_heads,
    tie_word_embeddings: dims.tie_word_embeddings ?? false,
    torch_dtype: 'float32',
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: dims.vocab_size,
  };
  const headDim = dims.hidden_size / dims.num_attention_heads;
  switch (arch) {
    case 'LlamaForCausalLM':
      return {
        ...common,
        model_type: 'llama',
        attention_bias: false,
        head_dim: headDim,
        mlp_bias: false,
        pretraining_tp: 1,
        rms_norm_eps: 1e-5,
        rope_scaling: null,
        rope_theta: 10000.0,
      };
    case 'MistralForCausalLM':
      return { ...common, model_type: 'mistral', head_dim: headDim, rms_norm_eps: 1e-6, rope_theta: 10000.0, sliding_window: 4096 };
    case 'Qwen2ForCausalLM':
      return {
        ...common,
        model_type: 'qwen2',
        max_window_layers: dims.num_hidden_layers,
        rms_norm_eps: 1e-6,
        rope_scaling: null,
        rope_theta: 1000000.0,
        sliding_window: null,
        use_sliding_window: false,
      };
    default:
      throw new Error(`no Llama-family config for ${arch}`);
  }
}

function gpt2Config(dims: RandomCheckpointDims): Record<string, unknown> {
  if (dims.num_key_value_heads !== dims.num_attention_heads) {
    throw new Error(
      `GPT2LMHeadModel has no grouped-query attention: num_key_value_heads (${dims.num_key_value_heads}) must equal num_attention_heads (${dims.num_attention_heads})`,
    );
  }
  const positions = dims.max_position_embeddings ?? 1024;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    attn_pdrop: 0.1,
    bos_token_id: dims.vocab_size - 1,
    embd_pdrop: 0.1,
    eos_token_id: dims.vocab_size - 1,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    n_ctx: positions,
    n_embd: dims.hidden_size,
    n_head: dims.num_attention_heads,
    n_inner: dims.intermediate_size,
    n_layer: dims.num_hidden_layers,
    n_positions: positions,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    tie_word_embeddings: dims.tie_word_embeddings ?? true,
    torch_dtype: 'float32',
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: dims.vocab_size,
  };
}

/** Norm scales start near 1 (as trained models have them), not exactly 1, so a swapped weight shows. */
function isNormWeight(name: string): boolean {
  return /(norm|ln_\d|ln_f)\.weight$/.test(name);
}

/**
 * A random model of any supported architecture, for tests and the benchmark: weights normal with
 * standard deviation `std` (0.02 by default), norm scales 1 + N(0, 0.1²), biases N(0, (std/2)²).
 */
export function randomCheckpoint(
  arch: Architecture,
  dims: RandomCheckpointDims,
  seed: number,
  options: RandomCheckpointOptions = {},
): RandomCheckpoint {
  const std = options.std ?? 0.02;
  const configJson = arch === 'GPT2LMHeadModel' ? gpt2Config(dims) : llamaFamilyConfig(arch, dims);
  const config = parseModelConfig(configJson, `random ${arch} config`);
  const shapes = arch === 'GPT2LMHeadModel' ? gpt2TensorShapes(config) : llamaTensorShapes(config);
  const rng = new Rng(seed);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const [mean, spread] = isNormWeight(name) ? [1, 0.1] : name.endsWith('.bias') ? [0, std / 2] : [0, std];
    for (let i = 0; i < data.length; i++) data[i] = mean + spread * rng.normal();
    tensors.set(name, { shape, data });
  }
  return { configJson, tensors };
}
