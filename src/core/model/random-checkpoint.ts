import { Rng } from '../random';
import { getArchitecture } from './architectures/registry';
import type { RandomCheckpointDims } from './architectures/spec';
import { parseModelConfig } from './config';
import type { Architecture } from './types';

export type { RandomCheckpointDims } from './architectures/spec';

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
  const spec = getArchitecture(arch);
  const configJson = spec.randomConfigJson(dims);
  const config = parseModelConfig(configJson, `random ${arch} config`);
  const shapes = spec.tensorShapes(config);
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
