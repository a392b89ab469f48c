/**
 * Base weights on the device. A GPU binds at most maxStorageBufferBindingSize bytes of one buffer (128 MiB
 * on WebGPU's default limits, and on many laptops), and a tfjs tensor is one buffer, so a weight larger
 * than that (Qwen's 151,936 × 896 embedding is 544 MB in float32, Gemma 3's 262,144 × 640 is 671 MB) is
 * kept as consecutive blocks of rows, each within the limit. Each architecture reads its weights
 * through these helpers, so a sliced weight works wherever a whole one does: the embedding lookup, the
 * LM head (tied or not), and any linear layer.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeadWeight } from './types';

/** A 2-D weight kept as consecutive blocks of rows; together they are the [rows, cols] matrix. */
export class RowSlices {
  readonly shape: [number, number];

  constructor(readonly slices: readonly tf.Tensor2D[]) {
    if (slices.length === 0) throw new Error('RowSlices: no slices');
    const cols = slices[0].shape[1];
    if (slices.some((s) => s.shape[1] !== cols)) throw new Error('RowSlices: slices differ in width');
    this.shape = [slices.reduce((n, s) => n + s.shape[0], 0), cols];
  }

  dispose(): void {
    for (const s of this.slices) s.dispose();
  }
}

/** One base weight: a tensor, or a 2-D weight in row blocks. */
export type DeviceWeight = tf.Tensor | RowSlices;

/** A 2-D weight as the helpers below take it. */
export type RowWeight = tf.Tensor2D | RowSlices;

/** A model's base weights by canonical name; tied weights are one entry. */
export type ModelWeights = Map<string, DeviceWeight>;

export function disposeWeight(weight: DeviceWeight): void {
  weight.dispose();
}

/** The blocks of a 2-D weight (a whole tensor is one block). */
export function rowBlocks(weight: RowWeight): readonly tf.Tensor2D[] {
  return weight instanceof RowSlices ? weight.slices : [weight];
}

/** Rows per block so that a block of `cols` float32 values per row stays within `maxBytes`. */
export function rowsPerBlock(cols: number, maxBytes: number): number {
  return Math.max(1, Math.floor(maxBytes / (4 * Math.max(1, cols))));
}

/**
 * Uploads one host tensor as the model's weight: one tensor when it fits in `maxBindingBytes`, else
 * (2-D, or N-D flattened to 2-D by its first axis) consecutive row blocks each within it. On tfjs's
 * WebGPU backend the values are copied to the device at once and the host copy is released, so a
 * model streams through JavaScript memory one tensor at a time instead of waiting for its first use.
 */
export function uploadWeight(name: string, shape: readonly number[], data: Float32Array, maxBindingBytes = Infinity): DeviceWeight {
  if (data.length * 4 <= maxBindingBytes) return upload(tf.tensor(data, [...shape], 'float32'));
  if (shape.length !== 2) {
    throw new Error(
      `tensor "${name}" [${shape.join(', ')}] takes ${data.length * 4} bytes, more than the device binds at once ` +
        `(${maxBindingBytes} bytes), and only 2-D weights can be split`,
    );
  }
  const [rows, cols] = shape;
  const per = rowsPerBlock(cols, maxBindingBytes);
  const slices: tf.Tensor2D[] = [];
  for (let start = 0; start < rows; start += per) {
    const end = Math.min(rows, start + per);
    slices.push(upload(tf.tensor2d(data.subarray(start * cols, end * cols), [end - start, cols], 'float32')));
  }
  return new RowSlices(slices);
}

/** One block of a weight's rows, on the device (the loader streams large weights block by block). */
export function uploadBlock(shape: [number, number], data: Float32Array): tf.Tensor2D {
  return upload(tf.tensor2d(data, shape, 'float32'));
}

/** Device pieces of consecutive rows joined into one block (the pieces are disposed). */
export function joinRows(pieces: tf.Tensor2D[]): tf.Tensor2D {
  if (pieces.length === 1) return pieces[0];
  const block = tf.keep(tf.concat(pieces, 0));
  for (const p of pieces) p.dispose();
  return block;
}

/** Moves a tensor's values to the device now, where the backend keeps them until first use otherwise. */
function upload<T extends tf.Tensor>(t: T): T {
  const backend = tf.backend() as {
    uploadToGPU?: (dataId: object) => void;
    submitQueue?: () => void;
    endComputePassEncoder?: () => void;
    commandEncoder?: unknown;
  };
  if (backend.uploadToGPU) {
    backend.uploadToGPU(t.dataId);
    // A copy through a staging buffer is queued; submitting it frees that buffer now, not at the next
    // step. A compute pass still open (joining blocks runs a concat) must end before the encoder does.
    if (backend.commandEncoder && backend.submitQueue) {
      backend.endComputePassEncoder?.();
      backend.submitQueue();
    }
  }
  return tf.keep(t);
}

/** Rows `ids` (int32 [n]) of a 2-D weight: [n, cols]. Over blocks, each block serves the ids in its range. */
export function lookupRows(weight: RowWeight, ids: tf.Tensor1D): tf.Tensor2D {
  if (!(weight instanceof RowSlices)) return tf.gather(weight, ids) as tf.Tensor2D;
  return tf.tidy(() => {
    let out: tf.Tensor2D | null = null;
    let start = 0;
    for (const block of weight.slices) {
      const rows = block.shape[0];
      const local = tf.sub(ids, tf.scalar(start, 'int32'));
      const inBlock = tf.logicalAnd(tf.greaterEqual(local, 0), tf.less(local, rows));
      const picked = tf.gather(block, tf.clipByValue(local, 0, rows - 1)) as tf.Tensor2D;
      const kept: tf.Tensor2D = tf.mul(picked, tf.expandDims(tf.cast(inBlock, 'float32'), 1));
      out = out === null ? kept : (tf.add(out, kept) as tf.Tensor2D);
      start += rows;
    }
    return out!;
  });
}

/** x [n, cols] · weightᵀ: [n, rows], the blocks' products side by side. */
export function matMulTransposed(x: tf.Tensor2D, weight: RowWeight | HeadWeight): tf.Tensor2D {
  const blocks = weight instanceof RowSlices ? weight.slices : Array.isArray(weight) ? (weight as readonly tf.Tensor2D[]) : null;
  if (blocks === null) return product(x, weight as tf.Tensor2D);
  if (blocks.length === 1) return product(x, blocks[0]);
  return tf.tidy(() =>
    tf.concat(
      blocks.map((block) => product(x, block)),
      1,
    ),
  ) as tf.Tensor2D;
}

/** The LM head as the scorers take it: the tensor, or its row blocks. */
export function headOf(weight: RowWeight): HeadWeight {
  return weight instanceof RowSlices ? weight.slices : weight;
}

/** Rows of the head [V, d], whole or in blocks. */
export function headRows(head: HeadWeight): number {
  return Array.isArray(head) ? (head as readonly tf.Tensor2D[]).reduce((n, b) => n + b.shape[0], 0) : (head as tf.Tensor2D).shape[0];
}

/** x [n, in] · Wᵀ for a frozen W [out, in], with the gradient to x only. */
export type FrozenProduct = (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

let frozenProduct: FrozenProduct | null = null;

/**
 * The product frozen weights use in matMulTransposed: our kernels' (../kernels' useLinearKernels) or,
 * with null, tfjs's matMul. Trainable weights (tf.Variable) always take tfjs's, which has dW.
 */
export function setFrozenProduct(fn: FrozenProduct | null): void {
  frozenProduct = fn;
}

function product(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (frozenProduct && !(w instanceof tf.Variable)) return frozenProduct(x, w);
  return tf.matMul(x, w, false, true);
}

/** x [n, rows] · weight: [n, cols], the blocks' products summed over their rows of x. */
export function matMulRows(x: tf.Tensor2D, weight: RowWeight): tf.Tensor2D {
  if (!(weight instanceof RowSlices)) return tf.matMul(x, weight);
  return tf.tidy(() => {
    let out: tf.Tensor2D | null = null;
    let start = 0;
    for (const block of weight.slices) {
      const part = tf.matMul(tf.slice(x, [0, start], [-1, block.shape[0]]), block) as tf.Tensor2D;
      out = out === null ? part : (tf.add(out, part) as tf.Tensor2D);
      start += block.shape[0];
    }
    return out!;
  });
}

/** How an architecture reads its weights: whole tensors, or 2-D weights that may come in row blocks. */
export interface WeightReader {
  /** A weight used whole (norms, biases, small tensors); an error names it if it was split. */
  tensor<T extends tf.Tensor>(name: string): T;
  /** A 2-D weight that may be in row blocks (embeddings, the LM head, linear layers). */
  rows(name: string): RowWeight;
}

export function weightReader(weights: ModelWeights, architecture: string): WeightReader {
  const get = (name: string): DeviceWeight => {
    const w = weights.get(name);
    if (!w) throw new Error(`${architecture}: weight "${name}" was not loaded`);
    return w;
  };
  return {
    tensor<T extends tf.Tensor>(name: string): T {
      const w = get(name);
      if (w instanceof RowSlices) {
        throw new Error(
          `${architecture}: weight "${name}" [${w.shape.join(', ')}] is larger than one device buffer and cannot be used whole`,
        );
      }
      return w as T;
    },
    rows(name: string): RowWeight {
      const w = get(name);
      if (!(w instanceof RowSlices) && w.rank !== 2) throw new Error(`${architecture}: weight "${name}" is not 2-D`);
      return w as RowWeight;
    },
  };
}

/** Logits [B, T, V] from final hidden states [B, T, d] and the LM head, whole or in blocks. */
export function logitsFromHidden(hidden: tf.Tensor3D, head: HeadWeight): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, seq, d] = hidden.shape;
    const logits = matMulTransposed(tf.reshape(hidden, [batch * seq, d]) as tf.Tensor2D, head);
    return tf.reshape(logits, [batch, seq, logits.shape[1]]) as tf.Tensor3D;
  });
}
