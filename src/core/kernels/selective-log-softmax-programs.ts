import type { TensorInfo } from '@tensorflow/tfjs';
import { webgpu_util, type WebGPUBackend, type WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { shaders } from './shaders';

/**
 * Column layout of the forward statistics [N, 5] (see shaders/selective_log_softmax.wgsl).
 * `max` and `logS1` are kept apart rather than summed into a logsumexp so that the backward pass and
 * the merging of vocabulary chunks can work relative to the row maximum; logsumexp = max + logS1.
 */
export const ROW_STAT = { logp: 0, max: 1, logS1: 2, logitMean: 3, logSumP2: 4 } as const;
export const ROW_STAT_COLUMNS = 5;

/**
 * Column layout of the per-row backward terms [N, 7] (see shaders/selective_log_softmax_backward.wgsl):
 * dz_v = a·[v = label] + b + c·softmax(z)_v + e·softmax(2z)_v, with the forward shift statistics.
 */
export const GRAD_TERM = { a: 0, b: 1, c: 2, e: 3, max: 4, logS1: 5, logSumP2: 6 } as const;
export const GRAD_TERM_COLUMNS = 7;

/**
 * Invocations per row. On SwiftShader larger workgroups cost more than they gain (N = 512, V = 8192:
 * 64 ran ~3× faster than 256, 32 only ~15% faster than 64); on a GPU, 64 per row still gives thousands
 * of invocations per dispatch at the N we score. A power of two, for the tree reduction.
 */
const FORWARD_WORKGROUP_SIZE = 64;

/** One workgroup per row of logits: the row statistics in a single read of the row. */
class SelectiveLogSoftmaxProgram implements WebGPUProgram {
  variableNames = ['logits', 'labels'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];

  constructor(rows: number) {
    this.outputShape = [rows, ROW_STAT_COLUMNS];
    this.workgroupSize = [FORWARD_WORKGROUP_SIZE, 1, 1];
    this.dispatch = [rows, 1, 1];
    this.shaderKey = `dpoSelectiveLogSoftmax_${FORWARD_WORKGROUP_SIZE}`;
  }

  getUserCode(): string {
    return `const WG : i32 = ${this.workgroupSize[0]};\n${shaders.selectiveLogSoftmaxForward}`;
  }
}

/** One invocation per logit: the gradient w.r.t. the logits from the per-row terms. */
class SelectiveLogSoftmaxGradProgram implements WebGPUProgram {
  variableNames = ['logits', 'labels', 'terms'];
  outputShape: number[];
  shaderKey = 'dpoSelectiveLogSoftmaxGrad';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(rows: number, vocab: number) {
    this.outputShape = [rows, vocab];
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, this.outputShape, this.workgroupSize);
  }

  getUserCode(): string {
    return shaders.selectiveLogSoftmaxBackward;
  }
}

function expectInput(where: string, name: string, t: TensorInfo, dtype: string, shape: (number | null)[]): void {
  const fits = t.dtype === dtype && t.shape.length === shape.length && shape.every((s, i) => s === null || s === t.shape[i]);
  if (!fits) {
    const want = `[${shape.map((s) => s ?? '*').join(', ')}] ${dtype}`;
    throw new Error(`${where}: ${name} must be ${want}, got [${t.shape.join(', ')}] ${t.dtype}`);
  }
}

/**
 * Runs the forward program: logits [N, V] float32, labels [N] int32 → row statistics [N, 5]
 * (ROW_STAT). `output`, when given, is written in place (tests pass a poisoned tensor).
 */
export function runSelectiveLogSoftmax(
  backend: WebGPUBackend,
  logits: TensorInfo,
  labels: TensorInfo,
  output?: TensorInfo,
): TensorInfo {
  const where = 'selective log-softmax (webgpu)';
  expectInput(where, 'logits', logits, 'float32', [null, null]);
  const [rows] = logits.shape;
  expectInput(where, 'labels', labels, 'int32', [rows]);
  if (output) expectInput(where, 'output', output, 'float32', [rows, ROW_STAT_COLUMNS]);
  return backend.runWebGPUProgram(new SelectiveLogSoftmaxProgram(rows), [logits, labels], 'float32', undefined, output);
}

/**
 * Runs the backward program: logits [N, V], labels [N] int32 and terms [N, 7] (GRAD_TERM) → dlogits
 * [N, V]. `output`, when given, is written in place (tests pass a poisoned tensor).
 */
export function runSelectiveLogSoftmaxGrad(
  backend: WebGPUBackend,
  logits: TensorInfo,
  labels: TensorInfo,
  terms: TensorInfo,
  output?: TensorInfo,
): TensorInfo {
  const where = 'selective log-softmax gradient (webgpu)';
  expectInput(where, 'logits', logits, 'float32', [null, null]);
  const [rows, vocab] = logits.shape;
  expectInput(where, 'labels', labels, 'int32', [rows]);
  expectInput(where, 'terms', terms, 'float32', [rows, GRAD_TERM_COLUMNS]);
  if (output) expectInput(where, 'output', output, 'float32', [rows, vocab]);
  return backend.runWebGPUProgram(
    new SelectiveLogSoftmaxGradProgram(rows, vocab),
    [logits, labels, terms],
    'float32',
    undefined,
    output,
  );
}
