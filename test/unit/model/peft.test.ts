import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { loadAdapter, saveAdapter } from '../../../src/core/model/peft';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';
import { parseSafetensors, serializeSafetensors } from '../../../src/core/model/safetensors';
import { memorySource } from '../../../src/core/model/sources';
import type { Architecture, CausalLM, LoraAdapter, LoraConfig } from '../../../src/core/model/types';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The keys of adapter_config.json as PEFT 0.19.1's LoraConfig.save_pretrained writes them (sorted). */
const PEFT_CONFIG_KEYS = [
  'alora_invocation_tokens',
  'alpha_pattern',
  'arrow_config',
  'auto_mapping',
  'base_model_name_or_path',
  'bias',
  'corda_config',
  'ensure_weight_tying',
  'eva_config',
  'exclude_modules',
  'fan_in_fan_out',
  'inference_mode',
  'init_lora_weights',
  'layer_replication',
  'layers_pattern',
  'layers_to_transform',
  'loftq_config',
  'lora_alpha',
  'lora_bias',
  'lora_dropout',
  'lora_ga_config',
  'megatron_config',
  'megatron_core',
  'modules_to_save',
  'peft_type',
  'peft_version',
  'qalora_group_size',
  'r',
  'rank_pattern',
  'revision',
  'target_modules',
  'target_parameters',
  'task_type',
  'trainable_token_indices',
  'use_bdlora',
  'use_dora',
  'use_qalora',
  'use_rslora',
];

const DIMS: RandomCheckpointDims = {
  vocab_size: 50,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

function tinyModel(arch: Architecture, dims: RandomCheckpointDims = DIMS): CausalLM {
  const { configJson, tensors } = randomCheckpoint(arch, dims, 1);
  const host = new Map([...tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
  return createCausalLM(parseModelConfig(configJson, 'config.json'), host, 'tiny');
}

function trainedAdapter(model: CausalLM, config: Partial<LoraConfig> = {}): LoraAdapter {
  const adapter = createLoraAdapter(
    model,
    { r: 4, lora_alpha: 8, lora_dropout: 0.05, target_modules: [], use_rslora: false, ...config },
    3,
  );
  let seed = 10;
  for (const { B } of adapter.modules.values()) {
    const value = tf.randomNormal(B.shape, 0, 0.1, 'float32', seed++);
    B.assign(value);
    value.dispose();
  }
  return adapter;
}

function configOf(files: Map<string, Uint8Array | string>): Record<string, unknown> {
  return JSON.parse(files.get('adapter_config.json') as string) as Record<string, unknown>;
}

function weightsOf(files: Map<string, Uint8Array | string>) {
  return parseSafetensors(files.get('adapter_model.safetensors') as Uint8Array, 'adapter_model.safetensors');
}

describe('saveAdapter writes PEFT’s format', () => {
  it('names tensors base_model.model.<module>.lora_A/B.weight in float32 with PEFT’s metadata', async () => {
    const model = tinyModel('LlamaForCausalLM');
    const adapter = trainedAdapter(model);
    const files = await saveAdapter(adapter, 'HuggingFaceTB/SmolLM2-135M');
    expect([...files.keys()].sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const { tensors, metadata } = weightsOf(files);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()].sort()).toEqual(
      [0, 1]
        .flatMap((l) => ['q_proj', 'v_proj'].map((m) => `base_model.model.model.layers.${l}.self_attn.${m}`))
        .flatMap((p) => [`${p}.lora_A.weight`, `${p}.lora_B.weight`])
        .sort(),
    );
    expect(tensors.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')).toMatchObject({ dtype: 'F32', shape: [8, 4] });
    disposeAdapter(adapter);
    model.dispose();
  });

  it('writes every adapter_config.json key PEFT writes, in its sorted order', async () => {
    const model = tinyModel('LlamaForCausalLM');
    const adapter = trainedAdapter(model, { target_modules: ['v_proj', 'q_proj'], use_rslora: true });
    const config = configOf(await saveAdapter(adapter, 'my/base'));
    expect(Object.keys(config)).toEqual(PEFT_CONFIG_KEYS);
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.05,
      target_modules: ['q_proj', 'v_proj'],
      use_rslora: true,
      bias: 'none',
      fan_in_fan_out: false,
      base_model_name_or_path: 'my/base',
      inference_mode: true,
      init_lora_weights: true,
      use_dora: false,
      modules_to_save: null,
      rank_pattern: {},
      alpha_pattern: {},
    });
    disposeAdapter(adapter);
    model.dispose();
  });

  it('marks GPT-2 adapters fan_in_fan_out and keeps PEFT’s [r, in] / [out, r] layout', async () => {
    const model = tinyModel('GPT2LMHeadModel', { ...DIMS, num_key_value_heads: 4, max_position_embeddings: 16 });
    const adapter = trainedAdapter(model);
    const files = await saveAdapter(adapter, 'openai-community/gpt2');
    expect(configOf(files)).toMatchObject({ fan_in_fan_out: true, target_modules: ['c_attn'] });
    const { tensors } = weightsOf(files);
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')?.shape).toEqual([4, 16]);
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')?.shape).toEqual([48, 4]);
    disposeAdapter(adapter);
    model.dispose();
  });

  it('saves all-linear as the adapted module paths, as PEFT expands it', async () => {
    const model = tinyModel('LlamaForCausalLM');
    const adapter = trainedAdapter(model, { target_modules: 'all-linear' });
    const targets = configOf(await saveAdapter(adapter, 'base')).target_modules as string[];
    expect(targets).toHaveLength(14);
    expect(targets).toContain('model.layers.1.mlp.down_proj');
    expect(targets).not.toContain('lm_head');
    disposeAdapter(adapter);
    model.dispose();
  });
});

describe('loadAdapter', () => {
  it('round-trips a saved adapter to identical weights, config and outputs', async () => {
    for (const arch of ['Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'Gemma3ForCausalLM', 'GPT2LMHeadModel'] as const) {
      const model = tinyModel(arch, { ...DIMS, num_key_value_heads: arch === 'GPT2LMHeadModel' ? 4 : 2, max_position_embeddings: 16 });
      const adapter = trainedAdapter(model, { target_modules: 'all-linear', use_rslora: true });
      const loaded = await loadAdapter(memorySource(await saveAdapter(adapter, 'base'), 'adapter'), model);
      expect([...loaded.modules.keys()]).toEqual([...adapter.modules.keys()]);
      for (const [path, { A, B }] of adapter.modules) {
        const other = loaded.modules.get(path)!;
        expect(other.A.dataSync()).toEqual(A.dataSync());
        expect(other.B.dataSync()).toEqual(B.dataSync());
        expect(other.A.trainable && other.B.trainable).toBe(true);
      }
      expect(loaded.scaling).toBe(adapter.scaling);
      expect(loaded.config).toMatchObject({ r: 4, lora_alpha: 8, lora_dropout: 0.05, use_rslora: true });
      const ids = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
      const a = model.logits(ids, { adapter });
      const b = model.logits(ids, { adapter: loaded });
      expect(b.dataSync()).toEqual(a.dataSync());
      tf.dispose([ids, a, b]);
      disposeAdapter(adapter);
      disposeAdapter(loaded);
      model.dispose();
    }
  });

  it('accepts in-memory PEFT names with the adapter name (lora_A.default.weight)', async () => {
    const model = tinyModel('LlamaForCausalLM');
    const adapter = trainedAdapter(model);
    const files = await saveAdapter(adapter, 'base');
    const { tensors } = weightsOf(files);
    const renamed = new Map([...tensors].map(([name, t]) => [name.replace(/\.lora_([AB])\.weight$/, '.lora_$1.default.weight'), t]));
    files.set('adapter_model.safetensors', serializeSafetensors(renamed));
    const loaded = await loadAdapter(memorySource(files, 'adapter'), model);
    const path = 'model.layers.1.self_attn.q_proj';
    expect(loaded.modules.get(path)!.B.dataSync()).toEqual(adapter.modules.get(path)!.B.dataSync());
    disposeAdapter(adapter);
    disposeAdapter(loaded);
    model.dispose();
  });

  it('names the tensor, the expected and the actual shape when the adapter does not fit', async () => {
    const small = tinyModel('LlamaForCausalLM');
    const adapter = trainedAdapter(small);
    const files = await saveAdapter(adapter, 'base');
    const wider = tinyModel('LlamaForCausalLM', { ...DIMS, hidden_size: 32 });
    await expect(loadAdapter(memorySource(files, 'adapter'), wider)).rejects.toThrow(
      'adapter/adapter_model.safetensors: tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" has shape [4, 16], expected [4, 32]',
    );
    const config = configOf(files);
    files.set('adapter_config.json', JSON.stringify({ ...config, r: 8 }));
    await expect(loadAdapter(memorySource(files, 'adapter'), small)).rejects.toThrow(/has shape \[4, 16\], expected \[8, 16\].*r = 8/);
    disposeAdapter(adapter);
    small.dispose();
    wider.dispose();
  });

  it('refuses modules the model lacks, unsupported PEFT features and missing files', async () => {
    const llama = tinyModel('LlamaForCausalLM');
    const adapter = trainedAdapter(llama);
    const files = await saveAdapter(adapter, 'base');
    const gpt2 = tinyModel('GPT2LMHeadModel', { ...DIMS, num_key_value_heads: 4, max_position_embeddings: 16 });
    await expect(loadAdapter(memorySource(files, 'adapter'), gpt2)).rejects.toThrow(
      /adapts module "model\.layers\.0\.self_attn\.q_proj", which GPT2LMHeadModel does not have/,
    );
    const dora = new Map(files).set('adapter_config.json', JSON.stringify({ ...configOf(files), use_dora: true }));
    await expect(loadAdapter(memorySource(dora, 'adapter'), llama)).rejects.toThrow(/DoRA is not supported/);
    const noConfig = new Map(files);
    noConfig.delete('adapter_config.json');
    await expect(loadAdapter(memorySource(noConfig, 'adapter'), llama)).rejects.toThrow('adapter/adapter_config.json is missing');
    disposeAdapter(adapter);
    llama.dispose();
    gpt2.dispose();
  });
});
