import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { shaders } from './shaders';

/**
 * Causal attention as our kernels, flash-style: softmax statistics kept per query row (the log-sum-exp
 * L), so neither pass stores the T × T scores or probabilities. Grouped-query heads read their KV head
 * in place (no copies), and a sliding window bounds each row's keys. Forward: one invocation per query
 * row. Backward: one per query row for dq, one per key row for dk and dv (over the query heads of its
 * group), each summing in one fixed order: no atomics, so the same inputs give the same bits.
 *
 * Each invocation takes a few consecutive rows (tileRows), kept with their accumulators in private
 * memory as vec4s, and reads the other side's rows from storage once for all of them; the costliest
 * tiles go first (attention_common.wgsl's tileOf). There is no workgroup-memory tiling yet.
 */

/** The widest head the kernels take (the private accumulators are HD floats, two arrays in dk/dv). */
export const FLASH_ATTENTION_MAX_HEAD_DIM = 256;
/**
 * Invocations per workgroup: small, so that a causal pass (whose tiles differ in cost by up to T/R
 * times) splits into many workgroups that balance over the device's cores; 64 measured 1.24× slower
 * forward + backward at T = 512 on SwiftShader (docs/benchmarks.md).
 */
const WORKGROUP = 16;

/** What fixes a shader: the model's attention shape. The batch's B and T are uniforms. */
export interface AttentionShape {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Multiplies q·k. */
  scale: number;
  /** Query i reads keys j with i − j < window; null: every earlier key. */
  window: number | null;
}

function constants(s: AttentionShape): string {
  return [
    `const HD : i32 = ${s.headDim};`,
    `const Q4 : i32 = ${s.headDim / 4};`,
    `const R : i32 = ${tileRows(s.headDim)};`,
    `const HEADS : i32 = ${s.heads};`,
    `const KV_HEADS : i32 = ${s.kvHeads};`,
    `const GROUP : i32 = ${s.heads / s.kvHeads};`,
    `const WINDOW : i32 = ${s.window ?? 0};`,
    `const SCALE : f32 = ${Math.fround(s.scale)};`,
    '',
  ].join('\n');
}

function shapeKey(s: AttentionShape): string {
  return `${s.headDim}_${tileRows(s.headDim)}_${s.heads}_${s.kvHeads}_${s.window ?? 0}_${Math.fround(s.scale)}`;
}

/**
 * Rows per invocation: each K/V row read (forward, dq) or Q/dO row read (dk, dv) serves this many
 * (docs/benchmarks.md has one row against four on SwiftShader). Wider heads take fewer, to bound each
 * invocation's private arrays (R × HD floats per array, four arrays in the dk/dv kernel).
 */
function tileRows(headDim: number): number {
  return headDim <= 64 ? 4 : headDim <= 128 ? 2 : 1;
}

class AttentionProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'seq : i32, tiles : i32,';
  variableComponents: number[];
  outputComponent?: number;
  private readonly source: string;

  constructor(
    kind: 'forward' | 'query' | 'key',
    private readonly shape: AttentionShape,
    invocations: number,
    outputShape: number[],
  ) {
    this.variableNames = kind === 'forward' ? ['q', 'k', 'v'] : ['q', 'k', 'v', 'dout', 'stats'];
    // Rows of q, k, v and dO are read as vec4; the statistics and the forward output as f32.
    this.variableComponents = kind === 'forward' ? [4, 4, 4] : [4, 4, 4, 4, 1];
    if (kind !== 'forward') this.outputComponent = 4;
    this.outputShape = outputShape;
    this.shaderKey = `dpoAttention_${kind}_${shapeKey(shape)}`;
    this.dispatch = [Math.ceil(invocations / WORKGROUP), 1, 1];
    this.source =
      kind === 'forward' ? shaders.attentionForward : kind === 'query' ? shaders.attentionBackwardQuery : shaders.attentionBackwardKey;
  }

  getUserCode(): string {
    return constants(this.shape) + shaders.attentionCommon + this.source;
  }
}

function run(kind: 'forward' | 'query' | 'key', shape: AttentionShape, inputs: tf.Tensor[], batch: number, seq: number): tf.Tensor {
  const rows = batch * shape.heads * seq;
  const kvRows = batch * shape.kvHeads * seq;
  const outputShape =
    kind === 'forward'
      ? [rows, shape.headDim + 1]
      : kind === 'query'
        ? [batch, shape.heads, seq, shape.headDim]
        : [kvRows, 2 * shape.headDim];
  const tiles = batch * (kind === 'key' ? shape.kvHeads : shape.heads) * Math.ceil(seq / tileRows(shape.headDim));
  const program = new AttentionProgram(kind, shape, tiles, outputShape);
  const backend = tf.backend() as WebGPUBackend;
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
