import * as tf from '@tensorflow/tfjs';
import { loadModelConfig } from './config';
import { createGpt2, gpt2CanonicalName, gpt2TensorShapes } from './gpt2';
import { createLlama, llamaTensorShapes } from './llama';
import { loadModelTensors } from './safetensors';
import type { Architecture, CausalLM, FileSource, HostTensor, ModelConfig } from './types';

interface ArchitectureBuilder {
  /** Every tensor the model reads, by canonical name, with its expected shape. */
  tensorShapes(config: ModelConfig): Map<string, number[]>;
  /** The canonical name of a checkpoint tensor (checkpoints of one architecture spell some differently). */
  canonicalName(name: string): string;
  build(config: ModelConfig, weights: Map<string, tf.Tensor>): CausalLM;
}

const llamaFamily: ArchitectureBuilder = {
  tensorShapes: llamaTensorShapes,
  canonicalName: (name) => name,
  build: createLlama,
};

const BUILDERS: Record<Architecture, ArchitectureBuilder> = {
  LlamaForCausalLM: llamaFamily,
  MistralForCausalLM: llamaFamily,
  Qwen2ForCausalLM: llamaFamily,
  GPT2LMHeadModel: { tensorShapes: gpt2TensorShapes, canonicalName: gpt2CanonicalName, build: createGpt2 },
};

/** Reads config.json and the safetensors weights of a model folder and builds the model. */
export async function loadCausalLM(src: FileSource): Promise<{ model: CausalLM; config: ModelConfig }> {
  const config = await loadModelConfig(src);
  const tensors = await loadModelTensors(src);
  return { model: createCausalLM(config, tensors, src.name), config };
}

const MAX_LISTED_PROBLEMS = 8;

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws one error listing every missing or misshapen tensor; extra tensors (rotary buffers…) are fine. */
function checkTensors(expected: Map<string, number[]>, tensors: Map<string, HostTensor>, source: string, arch: string): void {
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = tensors.get(name);
    if (!tensor) {
      problems.push(`missing tensor "${name}" (expected shape ${formatShape(shape)})`);
    } else if (tensor.shape.length !== shape.length || tensor.shape.some((n, i) => n !== shape[i])) {
      problems.push(`tensor "${name}" has shape ${formatShape(tensor.shape)}, expected ${formatShape(shape)}`);
    }
  }
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  - ${p}`);
  if (problems.length > MAX_LISTED_PROBLEMS) listed.push(`  … and ${problems.length - MAX_LISTED_PROBLEMS} more`);
  const present = [...tensors.keys()].slice(0, 5).join(', ');
  throw new Error(
    `${source}: the weights do not match config.json (${arch}):\n${listed.join('\n')}\n` +
      `(the checkpoint holds ${tensors.size} tensors${present ? `, e.g. ${present}` : ''})`,
  );
}

/**
 * Builds a model from its config and host tensors, after checking that every tensor the config
 * implies is present with its shape. The base weights become frozen tensors, created once.
 */
export function createCausalLM(config: ModelConfig, tensors: Map<string, HostTensor>, source: string): CausalLM {
  const builder = Object.hasOwn(BUILDERS, config.architecture) ? BUILDERS[config.architecture] : undefined;
  if (!builder) {
    throw new Error(`${source}: architecture "${config.architecture}" is not supported (supported: ${Object.keys(BUILDERS).join(', ')})`);
  }
  const named = new Map<string, HostTensor>();
  for (const [name, tensor] of tensors) named.set(builder.canonicalName(name), tensor);
  const expected = builder.tensorShapes(config);
  checkTensors(expected, named, source, config.architecture);
  const weights = new Map<string, tf.Tensor>();
  for (const name of expected.keys()) {
    const { data, shape } = named.get(name)!;
    // Kept: a caller may build the model inside tf.tidy, and the weights must outlive it.
    weights.set(name, tf.keep(tf.tensor(data, shape, 'float32')));
  }
  try {
    return builder.build(config, weights);
  } catch (error) {
    for (const t of weights.values()) t.dispose();
    throw error;
  }
}
