import * as tf from '@tensorflow/tfjs';
import { createGpt2, gpt2CanonicalName, gpt2TensorShapes } from '../model/gpt2';
import { createLlama, llamaTensorShapes } from '../model/llama';
import { variableFrom } from '../model/lora';
import type { CausalLM, ModelConfig } from '../model/types';

/** Host weights by Hugging Face name (HostTensor and randomCheckpoint's tensors both fit). */
export type HostWeights = Map<string, { shape: number[]; data: Float32Array }>;

/** A model whose base weights are trainable variables: full fine-tuning, as SFT of the demo model needs. */
export interface TrainableCausalLM {
  model: CausalLM;
  /** Every weight the model reads, by canonical Hugging Face name. Tied weights appear once. */
  params: Map<string, tf.Variable>;
}

const MAX_LISTED_PROBLEMS = 8;

function shapesOf(config: ModelConfig): { shapes: Map<string, number[]>; canonical: (name: string) => string } {
  return config.architecture === 'GPT2LMHeadModel'
    ? { shapes: gpt2TensorShapes(config), canonical: gpt2CanonicalName }
    : { shapes: llamaTensorShapes(config), canonical: (name) => name };
}

/**
 * Builds the same architecture code that loadCausalLM builds, over tf.variables instead of frozen
 * tensors, so tf.variableGrads reaches every base weight. The forward pass is the studio's own, which
 * keeps the trained checkpoint exactly what the studio will later load.
 */
export function createTrainableCausalLM(config: ModelConfig, weights: HostWeights, source: string): TrainableCausalLM {
  const { shapes, canonical } = shapesOf(config);
  const named = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of weights) named.set(canonical(name), t);
  const problems: string[] = [];
  for (const [name, shape] of shapes) {
    const t = named.get(name);
    if (!t) problems.push(`missing tensor "${name}" (expected shape [${shape.join(', ')}])`);
    else if (t.shape.join(',') !== shape.join(',')) {
      problems.push(`tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  - ${p}`);
    if (problems.length > MAX_LISTED_PROBLEMS) listed.push(`  … and ${problems.length - MAX_LISTED_PROBLEMS} more`);
    throw new Error(`${source}: the weights do not match config.json (${config.architecture}):\n${listed.join('\n')}`);
  }
  const params = new Map<string, tf.Variable>();
  for (const name of shapes.keys()) {
    const { data, shape } = named.get(name)!;
    params.set(name, variableFrom(tf.tensor(data, shape, 'float32'), true));
  }
  const asTensors = params as Map<string, tf.Tensor>;
  try {
    const model = config.architecture === 'GPT2LMHeadModel' ? createGpt2(config, asTensors) : createLlama(config, asTensors);
    return { model, params };
  } catch (error) {
    for (const v of params.values()) v.dispose();
    throw error;
  }
}

/** The current values of the variables, ready for serializeSafetensors (the tied head is not written twice). */
export async function exportWeights(params: Map<string, tf.Variable>): Promise<HostWeights> {
  const out: HostWeights = new Map();
  for (const [name, v] of params) out.set(name, { shape: [...v.shape], data: ((await v.data()) as Float32Array).slice() });
  return out;
}
