import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES, ARCHITECTURE_NAMES, getArchitecture } from '../../../src/core/model/architectures/registry';
import type { ArchitectureSpec } from '../../../src/core/model/architectures/spec';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter, selectTargetModules } from '../../../src/core/model/lora';
import { randomCheckpoint, type RandomCheckpointDims } from '../../../src/core/model/random-checkpoint';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function dims(spec: ArchitectureSpec, tie: boolean): RandomCheckpointDims {
  return {
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: spec.groupedQueryAttention ? 2 : 4,
    max_position_embeddings: 16,
    tie_word_embeddings: tie,
  };
}

const SUPPORTED = 'LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM, GPT2LMHeadModel';

describe('the architecture registry', () => {
  it('lists each architecture once, under its own name', () => {
    expect(ARCHITECTURE_NAMES.join(', ')).toBe(SUPPORTED);
    expect(ARCHITECTURES.map((spec) => spec.name)).toEqual(ARCHITECTURE_NAMES);
    expect(new Set(ARCHITECTURES.map((spec) => spec.modelType)).size).toBe(ARCHITECTURES.length);
    for (const spec of ARCHITECTURES) expect(getArchitecture(spec.name)).toBe(spec);
  });

  it('refuses an unknown architecture, listing the supported ones', () => {
    expect(() => getArchitecture('FalconForCausalLM')).toThrow(
      `architecture "FalconForCausalLM" is not supported; supported: ${SUPPORTED}`,
    );
    expect(() => getArchitecture('toString', 'cfg.json')).toThrow(
      `cfg.json: architecture "toString" is not supported; supported: ${SUPPORTED}`,
    );
    const { configJson, tensors } = randomCheckpoint('LlamaForCausalLM', dims(getArchitecture('LlamaForCausalLM'), true), 1);
    const forged = { ...parseModelConfig(configJson, 'tiny'), architecture: 'FalconForCausalLM' } as never;
    expect(() => createCausalLM(forged, tensors, 'tiny')).toThrow(
      `tiny: architecture "FalconForCausalLM" is not supported; supported: ${SUPPORTED}`,
    );
  });

  it('is the only place that branches on an architecture name', () => {
    const names = ARCHITECTURE_NAMES.join('|');
    const branch = new RegExp(`[!=]==\\s*'(${names})'|'(${names})'\\s*[!=]==|case '(${names})'`);
    const offenders: string[] = [];
    const visit = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (path !== join('src', 'core', 'model', 'architectures')) visit(path);
        } else if (/\.tsx?$/.test(entry.name)) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => branch.test(line) && offenders.push(`${path}:${i + 1}: ${line.trim()}`));
        }
      }
    };
    for (const root of ['src', 'scripts']) visit(root);
    expect(offenders).toEqual([]);
  });

  describe.each(ARCHITECTURES.map((spec) => [spec.name, spec] as const))('%s', (_, spec) => {
    it('round-trips random checkpoint → config.json → frozen and trainable builds with identical logits', async () => {
      for (const tie of [true, false]) {
        const { configJson, tensors } = randomCheckpoint(spec.name, dims(spec, tie), 3, { std: 0.3 });
        const config = parseModelConfig(configJson, 'tiny');
        expect(config).toMatchObject({ architecture: spec.name, model_type: spec.modelType, tie_word_embeddings: tie });
        // The writer's tensors are exactly the ones the config implies, under canonical names.
        const shapes = spec.tensorShapes(config);
        expect([...tensors.keys()].sort()).toEqual([...shapes.keys()].sort());
        for (const name of shapes.keys()) expect(spec.canonicalName(name)).toBe(name);

        const frozen = createCausalLM(config, tensors, 'tiny');
        const { model, params } = createCausalLM(config, tensors, 'tiny', { trainable: true });
        expect([...params.keys()].sort()).toEqual([...shapes.keys()].sort());
        expect([...params.values()].every((p) => p instanceof tf.Variable && p.trainable)).toBe(true);
        const ids = tf.tensor2d([[1, 7, 3, 9, 0, 31]], [1, 6], 'int32');
        const a = frozen.logits(ids, { adapter: null });
        const b = model.logits(ids, { adapter: null });
        expect(a.shape).toEqual([1, 6, 32]);
        expect(await b.data()).toEqual(await a.data());
        tf.dispose([ids, a, b]);
        frozen.dispose();
        model.dispose();
      }
    });

    it('describes the linear modules the model builds: names, default LoRA targets, weight layout', () => {
      const { configJson, tensors } = randomCheckpoint(spec.name, dims(spec, true), 4);
      const config = parseModelConfig(configJson, 'tiny');
      const model = createCausalLM(config, tensors, 'tiny');
      const modules = model.linearModules();
      const shortNames = [...new Set(modules.map((m) => m.path.slice(m.path.lastIndexOf('.') + 1)))];
      expect(shortNames).toEqual([...spec.linearModuleNames]);
      expect(selectTargetModules(model, [...spec.linearModuleNames])).toEqual(selectTargetModules(model, 'all-linear'));
      // An empty target list takes the registry's defaults, as PEFT does.
      const adapter = createLoraAdapter(model, { r: 2, lora_alpha: 4, lora_dropout: 0, target_modules: [], use_rslora: false }, 0);
      expect(adapter.config.target_modules).toEqual([...spec.defaultLoraTargets]);
      expect(adapter.modules.size).toBeGreaterThan(0);
      disposeAdapter(adapter);
      // The stored layout merge.ts relies on: [in, out] exactly where the spec says fan_in_fan_out.
      const shapes = spec.tensorShapes(config);
      for (const { path, inFeatures, outFeatures } of modules) {
        const expected = spec.isFanInFanOut(path) ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
        expect(shapes.get(`${path}.weight`)).toEqual(expected);
      }
      model.dispose();
    });

    it('parses config.json by model_type alone, with its config class default context', () => {
      const { configJson } = randomCheckpoint(spec.name, dims(spec, true), 5);
      for (const key of ['architectures', 'max_position_embeddings', 'n_positions', 'n_ctx']) delete configJson[key];
      const config = parseModelConfig(configJson, 'tiny');
      expect(config.architecture).toBe(spec.name);
      expect(config.max_position_embeddings).toBe(spec.defaultContext);
    });

    it('writes random checkpoints only with sizes the architecture can have', () => {
      const gqa = { ...dims(spec, true), num_key_value_heads: 1 };
      if (spec.groupedQueryAttention) {
        expect(parseModelConfig(spec.randomConfigJson(gqa), 'tiny').num_key_value_heads).toBe(1);
      } else {
        expect(() => spec.randomConfigJson(gqa)).toThrow(/has no grouped-query attention/);
      }
    });
  });
});
