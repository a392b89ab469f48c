/**
 * A LoRA adapter folded into its base weights: a plain Hugging Face checkpoint that loads without PEFT.
 *
 *   mergeAdapter(config, base, adapter): Promise<Map<name, { shape, data }>>
 *     Every base tensor under its own name; each adapted weight becomes W + scaling·B·A (nn.Linear,
 *     [out, in]) or W + scaling·(B·A)ᵀ (GPT-2's Conv1D, [in, out]). Unchanged tensors share the
 *     base's arrays. `adapter` is a trained LoraAdapter (its variables are read asynchronously, as
 *     WebGPU needs) or the same matrices on the host.
 *   mergedModelFiles(config, merged, { dtype?, maxShardBytes? }): Map<file, contents>
 *     config.json and model.safetensors for the merged weights (float32 unless dtype says F16/BF16);
 *     past maxShardBytes (2 GiB), shards and model.safetensors.index.json as transformers'
 *     save_pretrained writes them. Tokenizer files are the base model's, unchanged: copy them beside these.
 */
import { architectureOf } from '../model/architectures/registry';
import { DTYPE_BYTES, serializeSafetensors } from '../model/safetensors';
import type { HostTensor, LoraAdapter, ModelConfig, SafetensorsDtype } from '../model/types';

/** One adapted module's matrices on the host: A [r, in] and B [out, r], row-major. */
export interface HostLoraPair {
  A: Float32Array;
  B: Float32Array;
  shapeA: number[];
  shapeB: number[];
}

/** An adapter on the host, keyed by Hugging Face module path ("model.layers.0.self_attn.q_proj"). */
export interface HostLoraAdapter {
  modules: Map<string, HostLoraPair>;
  scaling: number;
}

export interface MergedTensor {
  shape: number[];
  data: Float32Array;
}

function isHostAdapter(adapter: HostLoraAdapter | LoraAdapter): adapter is HostLoraAdapter {
  const first = adapter.modules.values().next().value;
  return first === undefined || first.A instanceof Float32Array;
}

async function hostPairs(adapter: HostLoraAdapter | LoraAdapter): Promise<Map<string, HostLoraPair>> {
  if (isHostAdapter(adapter)) return adapter.modules;
  const pairs = new Map<string, HostLoraPair>();
  for (const [path, { A, B }] of adapter.modules) {
    pairs.set(path, {
      A: (await A.data()) as Float32Array,
      B: (await B.data()) as Float32Array,
      shapeA: A.shape,
      shapeB: B.shape,
    });
  }
  return pairs;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function checkMatrix(data: Float32Array, shape: readonly number[], what: string): void {
  if (shape.length !== 2 || data.length !== shape[0] * shape[1]) {
    throw new Error(`mergeAdapter: ${what} has shape ${shapeText(shape)} and ${data.length} values; expected a matrix holding them`);
  }
}

/** W + scaling·B·A, with B·A accumulated in float64 one output row at a time. */
function mergedWeight(weight: HostTensor, pair: HostLoraPair, scaling: number, fanInFanOut: boolean): Float32Array {
  const [r, inFeatures] = pair.shapeA;
  const outFeatures = pair.shapeB[0];
  const merged = new Float32Array(weight.data);
  const row = new Float64Array(inFeatures);
  for (let o = 0; o < outFeatures; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = scaling * pair.B[o * r + k];
      if (b === 0) continue;
      const aRow = k * inFeatures;
      for (let i = 0; i < inFeatures; i++) row[i] += b * pair.A[aRow + i];
    }
    if (fanInFanOut) {
      for (let i = 0; i < inFeatures; i++) merged[i * outFeatures + o] += row[i];
    } else {
      const wRow = o * inFeatures;
      for (let i = 0; i < inFeatures; i++) merged[wRow + i] += row[i];
    }
  }
  return merged;
}

export async function mergeAdapter(
  config: ModelConfig,
  base: Map<string, HostTensor>,
  adapter: HostLoraAdapter | LoraAdapter,
): Promise<Map<string, MergedTensor>> {
  if (!Number.isFinite(adapter.scaling)) throw new Error(`mergeAdapter: adapter scaling is ${adapter.scaling}`);
  const spec = architectureOf(config);
  // Original OpenAI GPT-2 checkpoints name tensors without "transformer."; the output keeps the base's names.
  const canonical = spec.canonicalName;
  const baseName = new Map<string, string>();
  for (const name of base.keys()) baseName.set(canonical(name), name);

  const replaced = new Map<string, Float32Array>();
  for (const [path, pair] of await hostPairs(adapter)) {
    const modulePath = canonical(path);
    const name = baseName.get(`${modulePath}.weight`);
    if (name === undefined) {
      throw new Error(`mergeAdapter: the adapter adapts "${path}", but the base model has no tensor "${modulePath}.weight"`);
    }
    checkMatrix(pair.A, pair.shapeA, `lora_A of "${path}"`);
    checkMatrix(pair.B, pair.shapeB, `lora_B of "${path}"`);
    const [r, inFeatures] = pair.shapeA;
    const [outFeatures, rB] = pair.shapeB;
    if (rB !== r) {
      throw new Error(
        `mergeAdapter: "${path}": lora_A ${shapeText(pair.shapeA)} and lora_B ${shapeText(pair.shapeB)} disagree on the rank`,
      );
    }
    const weight = base.get(name)!;
    const fanInFanOut = spec.isFanInFanOut(modulePath);
    const expected = fanInFanOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
    if (weight.shape.length !== 2 || weight.shape[0] !== expected[0] || weight.shape[1] !== expected[1]) {
      throw new Error(
        `mergeAdapter: "${name}" has shape ${shapeText(weight.shape)}, but the adapter's lora_A ${shapeText(pair.shapeA)} and ` +
          `lora_B ${shapeText(pair.shapeB)} need ${shapeText(expected)}${fanInFanOut ? ' (Conv1D stores [in, out])' : ''}`,
      );
    }
    replaced.set(name, mergedWeight(weight, pair, adapter.scaling, fanInFanOut));
  }

  const merged = new Map<string, MergedTensor>();
  for (const [name, tensor] of base) merged.set(name, { shape: [...tensor.shape], data: replaced.get(name) ?? tensor.data });
  return merged;
}

const TORCH_DTYPE: Record<SafetensorsDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/**
 * Shards hold at most this many data bytes: each shard is one ArrayBuffer, and browsers cap those
 * (transformers' own max_shard_size is larger; any shard size loads the same).
 */
export const MAX_SHARD_BYTES = 2 * 1024 ** 3;

export function mergedModelFiles(
  config: ModelConfig,
  merged: Map<string, MergedTensor>,
  options: { dtype?: SafetensorsDtype; maxShardBytes?: number } = {},
): Map<string, Uint8Array | string> {
  const dtype = options.dtype ?? 'F32';
  const maxShardBytes = options.maxShardBytes ?? MAX_SHARD_BYTES;
  const raw: Record<string, unknown> = { ...config.raw };
  // transformers 4.x writes "torch_dtype", 5.x "dtype": state the stored precision under whichever is there.
  const dtypeKeys = ['torch_dtype', 'dtype'].filter((key) => key in raw);
  for (const key of dtypeKeys.length > 0 ? dtypeKeys : ['torch_dtype']) raw[key] = TORCH_DTYPE[dtype];
  const files = new Map<string, Uint8Array | string>([['config.json', JSON.stringify(raw, null, 2) + '\n']]);
  const metadata = { format: 'pt' };

  // Tensors go into shards in the order they come, a new shard when the next would overflow this one.
  const bytesOf = (t: MergedTensor) => t.data.length * DTYPE_BYTES[dtype];
  const shards: Map<string, MergedTensor>[] = [new Map()];
  let shardBytes = 0;
  for (const [name, tensor] of merged) {
    if (shardBytes > 0 && shardBytes + bytesOf(tensor) > maxShardBytes) {
      shards.push(new Map());
      shardBytes = 0;
    }
    shards[shards.length - 1].set(name, tensor);
    shardBytes += bytesOf(tensor);
  }
  if (shards.length === 1) {
    files.set('model.safetensors', serializeSafetensors(merged, { dtype, metadata }));
    return files;
  }
  const width = Math.max(5, String(shards.length).length);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  shards.forEach((shard, i) => {
    const file = `model-${String(i + 1).padStart(width, '0')}-of-${String(shards.length).padStart(width, '0')}.safetensors`;
    for (const [name, tensor] of shard) {
      weightMap[name] = file;
      totalSize += bytesOf(tensor);
    }
    files.set(file, serializeSafetensors(shard, { dtype, metadata }));
  });
  files.set('model.safetensors.index.json', JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2) + '\n');
  return files;
}
