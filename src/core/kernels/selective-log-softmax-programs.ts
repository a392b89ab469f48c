import type { TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { isCpuAdapter } from '../gpu/adapter';
import { shaders } from './shaders';

/**
 * Column layout of the forward statistics [N, 7] (see shaders/selective_log_softmax.wgsl).
 * `max` and `logS1` are kept apart rather than summed into a logsumexp so that the backward pass and
 * the merging of vocabulary chunks can work relative to the row maximum; logsumexp = max + logS1.
 * `entropy` and `argmax` are metrics only: no gradient flows back through them.
 */
export const ROW_STAT = { logp: 0, max: 1, logS1: 2, logitMean: 3, logSumP2: 4, entropy: 5, argmax: 6 } as const;
export const ROW_STAT_COLUMNS = 7;

/**
 * Column layout of the per-row backward terms [N, 7] (see shaders/selective_log_softmax_backward.wgsl):
 * dz_v = a·[v = label] + b + c·softmax(z)_v + e·softmax(2z)_v, with the forward shift statistics.
 */
export const GRAD_TERM = { a: 0, b: 1, c: 2, e: 3, max: 4, logS1: 5, logSumP2: 6 } as const;
export const GRAD_TERM_COLUMNS = 7;

/** Logits per storage element: vec4 loads and stores where the row length allows them. */
type Lanes = 1 | 4;

function lanesFor(vocab: number): Lanes {
  return vocab % 4 === 0 ? 4 : 1;
}

/** The WGSL declarations the shaders expect for their element type (see the shaders' headers). */
function lanesPrelude(lanes: Lanes): string {
  if (lanes === 1) {
    return `alias Lanes = f32;
const LANES : i32 = 1;
fn laneSum(x : f32) -> f32 { return x; }
fn laneMax(x : f32) -> f32 { return x; }
fn laneAt(x : f32, i : i32) -> f32 { return x; }
fn addAtLane(x : f32, i : i32, v : f32) -> f32 { return x + v; }
`;
  }
  return `alias Lanes = vec4<f32>;
const LANES : i32 = 4;
fn laneSum(x : vec4<f32>) -> f32 { return (x.x + x.y) + (x.z + x.w); }
fn laneMax(x : vec4<f32>) -> f32 { return max(max(x.x, x.y), max(x.z, x.w)); }
fn laneAt(x : vec4<f32>, i : i32) -> f32 { return x[i]; }
fn addAtLane(x : vec4<f32>, i : i32, v : f32) -> vec4<f32> { var y = x; y[i] = y[i] + v; return y; }
`;
}

/** One workgroup per row of logits: the row statistics in two sweeps over the row. */
class SelectiveLogSoftmaxProgram implements WebGPUProgram {
  variableNames = ['logits', 'labels'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  variableComponents: number[];
  private lanes: Lanes;

  constructor(rows: number, vocab: number, invocationsPerRow: number) {
    this.lanes = lanesFor(vocab);
    this.outputShape = [rows, ROW_STAT_COLUMNS];
    this.workgroupSize = [invocationsPerRow, 1, 1];
    this.dispatch = [rows, 1, 1];
    this.variableComponents = [this.lanes, 1];
    this.shaderKey = `dpoSelectiveLogSoftmax_${invocationsPerRow}_${this.lanes}`;
  }

  getUserCode(): string {
    return `const WG : i32 = ${this.workgroupSize[0]};\n${lanesPrelude(this.lanes)}${shaders.selectiveLogSoftmaxForward}`;
  }
}

/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension: rows past it continue in the z dimension. */
const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/**
 * The gradient w.r.t. the logits: workgroups of WG invocations over (runs of columns) × rows, each
 * invocation writing PER_INVOCATION elements. Measured on SwiftShader (N = 1024, V = 32,000): 16
 * elements per invocation ran 2× faster than one, which pays the row's setup for every element.
 */
const BACKWARD_WORKGROUP_SIZE = 64;
const BACKWARD_PER_INVOCATION = 16;

class SelectiveLogSoftmaxGradProgram implements WebGPUProgram {
  variableNames = ['logits', 'labels', 'terms'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [BACKWARD_WORKGROUP_SIZE, 1, 1];
  variableComponents: number[];
  outputComponent: number;
  private lanes: Lanes;

  constructor(rows: number, vocab: number, rowsPerDimension: number) {
    this.lanes = lanesFor(vocab);
    this.outputShape = [rows, vocab];
    this.variableComponents = [this.lanes, 1, 1];
    this.outputComponent = this.lanes;
    const groupsPerRow = Math.ceil(vocab / this.lanes / (BACKWARD_WORKGROUP_SIZE * BACKWARD_PER_INVOCATION));
    const rowGroups = Math.max(1, Math.min(rows, rowsPerDimension));
    this.dispatch = [groupsPerRow, rowGroups, Math.ceil(rows / rowGroups)];
    this.shaderKey = `dpoSelectiveLogSoftmaxGrad_${BACKWARD_WORKGROUP_SIZE}_${BACKWARD_PER_INVOCATION}_${this.lanes}`;
  }

  getUserCode(): string {
    const consts = `const WG : i32 = ${BACKWARD_WORKGROUP_SIZE};\nconst PER_INVOCATION : i32 = ${BACKWARD_PER_INVOCATION};\n`;
    return `${consts}${lanesPrelude(this.lanes)}${shaders.selectiveLogSoftmaxBackward}`;
  }
}

/** Throws, naming the op and the input, unless t has this dtype and shape (null: any size). */
export function expectInput(where: string, name: string, t: TensorInfo, dtype: string, shape: (number | null)[]): void {
  const fits = t.dtype === dtype && t.shape.length === shape.length && shape.every((s, i) => s === null || s === t.shape[i]);
  if (!fits) {
    const want = `[${shape.map((s) => s ?? '*').join(', ')}] ${dtype}`;
    throw new Error(`${where}: ${name} must be ${want}, got [${t.shape.join(', ')}] ${t.dtype}`);
  }
}

/**
 * Runs the forward program: logits [N, V] float32, labels [N] int32 → row statistics [N, 7]
 * (ROW_STAT). `output`, when given, is written in place (tests pass a poisoned tensor).
 * `invocationsPerRow` (a power of two) overrides the adapter's choice: tests run the GPU width on any
 * adapter. The choice: 8 on CPU adapters, where a row reduced by 8 invocations ran ~25% faster than by
 * 64 (N = 1024, V = 32,000), 64 on GPUs to keep their lanes busy.
 */
export function runSelectiveLogSoftmax(
  backend: WebGPUBackend,
  logits: TensorInfo,
  labels: TensorInfo,
  output?: TensorInfo,
  invocationsPerRow = isCpuAdapter(backend) ? 8 : 64,
): TensorInfo {
  const where = 'selective log-softmax (webgpu)';
  expectInput(where, 'logits', logits, 'float32', [null, null]);
  const [rows] = logits.shape;
  expectInput(where, 'labels', labels, 'int32', [rows]);
  if (output) expectInput(where, 'output', output, 'float32', [rows, ROW_STAT_COLUMNS]);
  if (!(Number.isInteger(invocationsPerRow) && invocationsPerRow > 0 && (invocationsPerRow & (invocationsPerRow - 1)) === 0)) {
    throw new Error(`${where}: invocationsPerRow must be a power of two, got ${invocationsPerRow}`);
  }
  return backend.runWebGPUProgram(
    new SelectiveLogSoftmaxProgram(rows, logits.shape[1], invocationsPerRow),
    [logits, labels],
    'float32',
    undefined,
    output,
  );
}

/**
 * Runs the backward program: logits [N, V], labels [N] int32 and terms [N, 7] (GRAD_TERM) → dlogits
 * [N, V]. `output`, when given, is written in place (tests pass a poisoned tensor); rows beyond
 * `rowsPerDimension` workgroups continue in the dispatch's z dimension (tests lower it to reach that
 * path without 65,536 rows).
 */
export function runSelectiveLogSoftmaxGrad(
  backend: WebGPUBackend,
  logits: TensorInfo,
  labels: TensorInfo,
  terms: TensorInfo,
  output?: TensorInfo,
  rowsPerDimension = MAX_WORKGROUPS_PER_DIMENSION,
): TensorInfo {
  const where = 'selective log-softmax gradient (webgpu)';
  expectInput(where, 'logits', logits, 'float32', [null, null]);
  const [rows, vocab] = logits.shape;
  expectInput(where, 'labels', labels, 'int32', [rows]);
  expectInput(where, 'terms', terms, 'float32', [rows, GRAD_TERM_COLUMNS]);
  if (output) expectInput(where, 'output', output, 'float32', [rows, vocab]);
  return backend.runWebGPUProgram(
    new SelectiveLogSoftmaxGradProgram(rows, vocab, rowsPerDimension),
    [logits, labels, terms],
    'float32',
    undefined,
    output,
  );
}
