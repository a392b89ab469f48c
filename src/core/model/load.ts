/**
 * The one path from weights to a model: look the architecture up in the registry, check every tensor
 * the config implies against the checkpoint, and build, over frozen tensors (the studio's base model,
 * LoRA on top) or over trainable variables (full fine-tuning, as SFT of the demo model needs).
 */
import * as tf from '@tensorflow/tfjs';
import { getArchitecture } from './architectures/registry';
import { loadModelConfig } from './config';
import { variableFrom } from './lora';
import { listModelTensors, streamModelTensors } from './safetensors';
import type { CausalLM, FileSource, ModelConfig } from './types';
import { joinRows, RowSlices, rowsPerBlock, uploadBlock, uploadWeight, type ModelWeights } from './weights';
import { GpuFailure, NO_GPU_GUARD, type GpuGuard } from '../gpu';

/** The most bytes of float32 values the loader holds in memory at once for one large weight. */
const PIECE_BYTES = 32 * 2 ** 20;

/** Host weights by Hugging Face name (HostTensor and randomCheckpoint's tensors both fit). */
export type HostWeights = Map<string, { shape: number[]; data: Float32Array }>;

/** A model whose base weights are trainable variables. */
export interface TrainableCausalLM {
  model: CausalLM;
  /** Every weight the model reads, by canonical Hugging Face name. Tied weights appear once. */
  params: Map<string, tf.Variable>;
}

export interface CreateCausalLMOptions {
  /** Base weights as trainable tf.variables instead of frozen tensors. Default false. */
  trainable?: boolean;
  /** As LoadOptions.maxBindingBytes (frozen weights only). */
  maxBindingBytes?: number;
}

export interface LoadOptions {
  /**
   * The largest buffer one weight may take; a larger 2-D weight is kept in row blocks. Default: the
   * device's maxStorageBufferBindingSize and maxBufferSize on WebGPU, no limit elsewhere.
   */
  maxBindingBytes?: number;
  /**
   * A weight larger than one buffer is read and converted this many bytes (of float32) at a time, and
   * joined into blocks on the device. Default 32 MiB.
   */
  pieceBytes?: number;
  /**
   * Each tensor's upload runs in its error scopes, so that a device error (out of memory, a buffer
   * over the limits) names the tensor. Default: none (the CPU backend has no device errors).
   */
  guard?: GpuGuard;
  /** Called after each tensor is on the device: its name, how many are done, and of how many. */
  onTensor?(name: string, done: number, total: number): void;
}

/** What one buffer may hold on the current tfjs backend's device (Infinity off WebGPU). */
export function deviceBufferLimitBytes(): number {
  const device = (tf.backend() as { device?: { limits?: { maxStorageBufferBindingSize?: number; maxBufferSize?: number } } }).device;
  const limits = device?.limits;
  if (!limits?.maxStorageBufferBindingSize) return Infinity;
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize ?? Infinity);
}

/**
 * Reads config.json and the safetensors weights of a model folder and builds the model. Every tensor's
 * name and shape is checked from the headers before any data is read; the weights then stream one
 * tensor at a time (read, widened to float32, put on the device, released), so the checkpoint is
 * never held whole in memory. A failure names the tensor it met.
 */
export async function loadCausalLM(src: FileSource, options: LoadOptions = {}): Promise<{ model: CausalLM; config: ModelConfig }> {
  const config = await loadModelConfig(src);
  const spec = getArchitecture(config.architecture, src.name);
  const located = await listModelTensors(src);
  const fileName = new Map<string, string>();
  const shapes = new Map<string, { shape: number[] }>();
  for (const [name, { entry }] of located) {
    const canonical = spec.canonicalName(name);
    fileName.set(canonical, name);
    shapes.set(canonical, { shape: entry.shape });
  }
  const expected = spec.tensorShapes(config);
  checkTensors(expected, shapes, src.name, config.architecture);
  const limit = options.maxBindingBytes ?? deviceBufferLimitBytes();
  const weights: ModelWeights = new Map();
  const names = [...expected.keys()].map((canonical) => fileName.get(canonical)!);
  // A weight larger than one buffer is read in pieces of about pieceBytes (a few per device block),
  // which are put on the device and joined there into blocks within the limit.
  const blockRows = (shape: readonly number[]) => rowsPerBlock(shape[1], limit);
  const pieceRows = (shape: readonly number[], row: number) => {
    if (shape[0] * shape[1] * 4 <= limit) return null;
    const rows = blockRows(shape);
    const perPiece = Math.ceil(rows / Math.ceil((rows * shape[1] * 4) / (options.pieceBytes ?? PIECE_BYTES)));
    // Pieces never cross a block's end.
    return Math.min(perPiece, rows - (row % rows));
  };
  let blocks: tf.Tensor2D[] = [];
  let pieces: tf.Tensor2D[] = [];
  try {
    await streamModelTensors(
      src,
      located,
      names,
      async (name, host, block) => {
        /** Puts this tensor (or piece) on the device; true when its weight is whole there. */
        const upload = (): boolean => {
          if (block === null) {
            weights.set(spec.canonicalName(name), uploadWeight(name, host.shape, host.data, limit));
            return true;
          }
          pieces.push(uploadBlock(host.shape as [number, number], host.data));
          const done = block.row + host.shape[0];
          if (done % blockRows(host.shape) !== 0 && done < block.rows) return false;
          blocks.push(joinRows(pieces));
          pieces = [];
          if (done < block.rows) return false;
          weights.set(spec.canonicalName(name), new RowSlices(blocks));
          blocks = [];
          return true;
        };
        const what =
          block === null
            ? `loading tensor "${name}" [${host.shape.join(', ')}]`
            : `loading tensor "${name}" (rows ${block.row}–${block.row + host.shape[0]} of ${block.rows})`;
        let whole: boolean;
        try {
          whole = await (options.guard ?? NO_GPU_GUARD).scoped(what, upload);
        } catch (error) {
          if (error instanceof GpuFailure) throw error;
          throw new Error(`${src.name}: ${what}: ${(error as Error).message}`);
        }
        if (whole) options.onTensor?.(name, weights.size, names.length);
      },
      pieceRows,
    );
    return { model: spec.build(config, weights), config };
  } catch (error) {
    for (const w of weights.values()) w.dispose();
    for (const b of [...blocks, ...pieces]) b.dispose();
    throw error;
  }
}

const MAX_LISTED_PROBLEMS = 8;

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws one error listing every missing or misshapen tensor; extra tensors (rotary buffers…) are fine. */
function checkTensors(
  expected: Map<string, number[]>,
  tensors: ReadonlyMap<string, { shape: number[] }>,
  source: string,
  arch: string,
): void {
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
 * implies is present with its shape (extra tensors are ignored). The base weights are created once:
 * frozen tensors by default, or tf.variables with `trainable`, reached through the returned params.
 * Either way the forward pass is the same code, so a model trained here is what the studio loads.
 */
export function createCausalLM(
  config: ModelConfig,
  tensors: HostWeights,
  source: string,
  options?: { trainable?: false; maxBindingBytes?: number },
): CausalLM;
export function createCausalLM(config: ModelConfig, tensors: HostWeights, source: string, options: { trainable: true }): TrainableCausalLM;
export function createCausalLM(
  config: ModelConfig,
  tensors: HostWeights,
  source: string,
  options: CreateCausalLMOptions = {},
): CausalLM | TrainableCausalLM {
  const trainable = options.trainable ?? false;
  const { model, weights } = buildCausalLM(
    config,
    tensors,
    source,
    trainable,
    options.maxBindingBytes ?? (trainable ? Infinity : deviceBufferLimitBytes()),
  );
  return options.trainable ? { model, params: weights as Map<string, tf.Variable> } : model;
}

function buildCausalLM(
  config: ModelConfig,
  tensors: HostWeights,
  source: string,
  trainable: boolean,
  maxBindingBytes: number,
): { model: CausalLM; weights: ModelWeights } {
  const spec = getArchitecture(config.architecture, source);
  const named: HostWeights = new Map();
  for (const [name, tensor] of tensors) named.set(spec.canonicalName(name), tensor);
  const expected = spec.tensorShapes(config);
  checkTensors(expected, named, source, config.architecture);
  const weights: ModelWeights = new Map();
  for (const name of expected.keys()) {
    const { data, shape } = named.get(name)!;
    // Kept: a caller may build the model inside tf.tidy, and the weights must outlive it (variables do).
    weights.set(name, trainable ? variableFrom(tf.tensor(data, shape, 'float32'), true) : uploadWeight(name, shape, data, maxBindingBytes));
  }
  try {
    return { model: spec.build(config, weights), weights };
  } catch (error) {
    for (const t of weights.values()) t.dispose();
    throw error;
  }
}

/** The current values of a trainable model's variables, ready for serializeSafetensors (the tied head is not written twice). */
export async function exportWeights(params: Map<string, tf.Variable>): Promise<HostWeights> {
  const out: HostWeights = new Map();
  for (const [name, v] of params) out.set(name, { shape: [...v.shape], data: ((await v.data()) as Float32Array).slice() });
  return out;
}
