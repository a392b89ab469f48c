import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { isCpuAdapter } from '../gpu/adapter';
import { AttentionProgram, shapeKey, tileRows, type AttentionKind, type AttentionShape } from './attention-program';

export type { AttentionShape } from './attention-program';

/**
 * Causal attention as our kernels, flash-style: softmax statistics kept per query row (the log-sum-exp
 * L), so neither pass stores the T × T scores or probabilities. Grouped-query heads read their KV head
 * in place (no copies), and a sliding window bounds each row's keys. Forward: one invocation per query
 * row. Backward: one per query row for dq, one per key row for dk and dv (over the query heads of its
 * group), each summing in one fixed order: no atomics, so the same inputs give the same bits.
 *
 * Each invocation takes a few consecutive rows (tileRows), kept with their accumulators in registers
 * as vec4s (attention-program.ts writes the per-row statements out), and reads the other side's rows
 * from storage once for all of them; the costliest tiles go first (attention_common.wgsl's tileOf).
 * There is no workgroup-memory tiling.
 */

/** The widest head the kernels take (each tile row's registers hold a few head-sized rows). */
export const FLASH_ATTENTION_MAX_HEAD_DIM = 256;

function run(kind: AttentionKind, shape: AttentionShape, inputs: tf.Tensor[], batch: number, seq: number): tf.Tensor {
  const rows = batch * shape.heads * seq;
  const kvRows = batch * shape.kvHeads * seq;
  const outputShape =
    kind === 'forward'
      ? [rows, shape.headDim + 1]
      : kind === 'query'
        ? [batch, shape.heads, seq, shape.headDim]
        : [kvRows, 2 * shape.headDim];
  const backend = tf.backend() as WebGPUBackend;
  const tileRowCount = tileRows(shape.headDim, isCpuAdapter(backend));
  const tiles = batch * (kind === 'key' ? shape.kvHeads : shape.heads) * Math.ceil(seq / tileRowCount);
  const program = new AttentionProgram(kind, shape, tileRowCount, tiles, outputShape);
  const uniforms = [
    { type: 'int32', data: [seq] },
    { type: 'int32', data: [tiles] },
  ];
  const info = backend.runWebGPUProgram(program, inputs, 'float32', uniforms);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Whether the kernels take this attention: WebGPU, a head of at most 256 and a multiple of 4, whole groups. */
export function flashAttentionFits(shape: AttentionShape): boolean {
  return (
    tf.getBackend() === 'webgpu' &&
    shape.headDim > 0 &&
    shape.headDim <= FLASH_ATTENTION_MAX_HEAD_DIM &&
    shape.headDim % 4 === 0 &&
    shape.heads % shape.kvHeads === 0 &&
    (shape.window === null || shape.window > 0)
  );
}

/**
 * softmax(scale · q kᵀ + causal mask) v per head: q [B, H, T, hd], k and v [B, KV, T, hd] → [B, H, T, hd].
 * Differentiable in q, k and v.
 */
export function flashAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, shape: AttentionShape): tf.Tensor4D {
  const [batch, heads, seq, headDim] = q.shape;
  if (heads !== shape.heads || headDim !== shape.headDim || k.shape[1] !== shape.kvHeads || k.shape[2] !== seq) {
    throw new Error(
      `flashAttention: q [${q.shape.join(', ')}] and k [${k.shape.join(', ')}] do not match ${shape.heads} heads, ` +
        `${shape.kvHeads} KV heads of ${shape.headDim}`,
    );
  }
  if (!flashAttentionFits(shape)) throw new Error(`flashAttention: not for this backend or shape (${shapeKey(shape)})`);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [tq, tk, tv, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    const packed = run('forward', shape, [tq, tk, tv], batch, seq);
    const out = tf.reshape(tf.slice(packed, [0, 0], [-1, headDim]), [batch, heads, seq, headDim]) as tf.Tensor4D;
    const lse = tf.slice(packed, [0, headDim], [-1, 1]);
    save([tq, tk, tv, out, lse]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, sl] = saved;
        const delta = tf.reshape(tf.sum(tf.mul(dy, so), -1), [-1, 1]);
        const stats = tf.concat([sl, delta], 1);
        const dq = run('query', shape, [sq, sk, sv, dy, stats], batch, seq);
        const dkv = run('key', shape, [sq, sk, sv, dy, stats], batch, seq);
        const dk = tf.reshape(tf.slice(dkv, [0, 0], [-1, headDim]), sk.shape);
        const dv = tf.reshape(tf.slice(dkv, [0, headDim], [-1, headDim]), sv.shape);
        return [dq, dk, dv];
      },
    };
  });
  return f(q, k, v) as tf.Tensor4D;
}
