import { describe, expect, it } from 'vitest';
import { CATALOGUE, catalogueModelInfo, downloadBytes, plannedTrainingMemory, type CatalogueModel } from '../../../src/app/catalogue';
import { DEFAULT_STUDIO_CONFIG } from '../../../src/app/store';
import { architectureOf } from '../../../src/core/model/architectures/registry';
import { parseModelConfig } from '../../../src/core/model/config';
import { modelShapeOf } from '../../../src/core/train/memory-plan';

/** The config.json through the studio's own parser, and every tensor shape its architecture reads. */
function shapesOf(entry: CatalogueModel) {
  const config = parseModelConfig(entry.config, `${entry.repo}/config.json`);
  const spec = architectureOf(config);
  return { config, spec, shapes: spec.tensorShapes(config) };
}

describe('the model catalogue', () => {
  it('lists the six models the Model panel offers', () => {
    expect(CATALOGUE.map((m) => m.repo)).toEqual([
      'HuggingFaceTB/SmolLM2-135M-Instruct',
      'HuggingFaceTB/SmolLM2-360M-Instruct',
      'Qwen/Qwen2.5-0.5B-Instruct',
      'Qwen/Qwen3-0.6B',
      'google/gemma-3-270m-it',
      'meta-llama/Llama-3.2-1B-Instruct',
    ]);
    expect(CATALOGUE.filter((m) => m.gated).map((m) => m.repo)).toEqual(['google/gemma-3-270m-it', 'meta-llama/Llama-3.2-1B-Instruct']);
  });

  // The published counts (model cards, the Hub's safetensors metadata) against the registry's shapes.
  it.each(CATALOGUE.map((m) => [m.repo, m] as const))('%s: the parameter count is what config.json implies', (_, entry) => {
    const { config, shapes } = shapesOf(entry);
    expect(config.architecture).toBe((entry.config.architectures as string[])[0]);
    let n = 0;
    for (const shape of shapes.values()) n += shape.reduce((a, b) => a * b, 1);
    expect(n).toBe(entry.parameters);
  });

  it.each(CATALOGUE.map((m) => [m.repo, m] as const))("%s: the page's figures for memory planning match the registry", (_, entry) => {
    const { config, spec, shapes } = shapesOf(entry);
    const info = catalogueModelInfo(entry);
    const features: Record<string, number> = {};
    for (const [name, shape] of shapes) {
      const module = /\.([a-z_]+)\.weight$/.exec(name)?.[1];
      if (module && shape.length === 2 && spec.linearModuleNames.includes(module))
        features[module] = (features[module] ?? 0) + shape[0] + shape[1];
    }
    expect(info.linearModuleFeatures).toEqual(features);
    expect(info.linearModuleNames).toEqual([...spec.linearModuleNames]);
    expect(info.defaultTargets).toEqual([...spec.defaultLoraTargets]);
    expect(info).toMatchObject({
      architecture: config.architecture,
      hiddenSize: config.hidden_size,
      intermediateSize: config.intermediate_size,
      layers: config.num_hidden_layers,
      heads: config.num_attention_heads,
      kvHeads: config.num_key_value_heads,
      vocabSize: config.vocab_size,
      maxPositions: config.max_position_embeddings,
      tiedEmbeddings: config.tie_word_embeddings,
    });
    // The memory plan's view: what the worker reports once the model is loaded.
    expect(info.shape).toEqual({ ...modelShapeOf(config, spec), defaultTargets: [...spec.defaultLoraTargets] });
  });

  it('published rounded counts agree too', () => {
    const published: Record<string, number> = {
      'HuggingFaceTB/SmolLM2-135M-Instruct': 135e6,
      'HuggingFaceTB/SmolLM2-360M-Instruct': 362e6,
      'Qwen/Qwen2.5-0.5B-Instruct': 494e6,
      'Qwen/Qwen3-0.6B': 596e6, // card: 0.6B, 0.44B non-embedding
      'google/gemma-3-270m-it': 268e6,
      'meta-llama/Llama-3.2-1B-Instruct': 1.24e9,
    };
    for (const m of CATALOGUE) expect(Math.abs(m.parameters - published[m.repo]) / published[m.repo], m.repo).toBeLessThan(0.005);
  });

  it('weights files are two bytes (BF16) a stored parameter, within the header and rounding', () => {
    for (const m of CATALOGUE) {
      expect(m.storedParameters).toBeGreaterThanOrEqual(m.parameters);
      expect(Math.abs(m.weightsBytes - 2 * m.storedParameters) / m.weightsBytes, m.repo).toBeLessThan(0.005);
      expect(downloadBytes(m)).toBeGreaterThan(m.weightsBytes);
    }
  });

  it('plans training memory through one function, growing with the model and the batch', () => {
    const [small, , , , , large] = CATALOGUE.map(catalogueModelInfo);
    expect(small.linearModuleFeatures.q_proj).toBe(30 * (576 + 576));
    expect(small.linearModuleFeatures.k_proj).toBe(30 * (576 + 192));
    const plan = plannedTrainingMemory(small, DEFAULT_STUDIO_CONFIG);
    expect(plan.weights).toBe(small.parameters * 4);
    expect(plan.total).toBeGreaterThan(plan.weights);
    expect(plannedTrainingMemory(large, DEFAULT_STUDIO_CONFIG).total).toBeGreaterThan(plan.total);
    const bigger = { ...DEFAULT_STUDIO_CONFIG, dpo: { ...DEFAULT_STUDIO_CONFIG.dpo, per_device_train_batch_size: 16 } };
    expect(plannedTrainingMemory(small, bigger).total).toBeGreaterThan(plan.total);
  });
});
