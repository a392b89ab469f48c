import type { TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { expectInput } from './selective-log-softmax-programs';
import { shaders } from './shaders';

/**
 * The two products of the fused LM head as WebGPU programs: logits = hidden · headᵀ for a block, and
 * dhidden = dlogits · head. Each invocation keeps a ROWS × 4 tile in registers and reads both operands
 * straight from storage along their contiguous dimension: no workgroup memory, no barriers. On
 * SwiftShader (N = 128, d = 576, V = 8192) a trial of this design ran the logits 8.8× faster than
 * tfjs's matMul(a, b, false, true) and dhidden 4× faster than its matMul(a, b); a GPU's caches serve the
 * repeated reads of the small hidden block.
 *
 * The hidden size must be a multiple of 4 (vec4 loads along d); lmHeadMatmulFits says when it is.
 */

/** Hidden rows per invocation (registers: ROWS vec4 accumulators). */
const ROWS = 8;

/** Whether the programs take this hidden size (vec4 along d). */
export function lmHeadMatmulFits(hiddenSize: number): boolean {
  return hiddenSize > 0 && hiddenSize % 4 === 0;
}

/** The shaders' ROWS_* placeholders, unrolled for ROWS rows so every accumulator stays a register. */
function unrollRows(
  source: string,
  declare: (i: number) => string,
  accumulate: (i: number) => string,
  store: (i: number) => string,
): string {
  const rows = Array.from({ length: ROWS }, (_, i) => i);
  const expand = (text: string, marker: string, line: (i: number) => string) => {
    const pattern = new RegExp(`^( *)${marker}$`, 'm');
    if (!pattern.test(text)) throw new Error(`LM-head shader: no ${marker} line`);
    return text.replace(pattern, (_, indent: string) => rows.map((i) => indent + line(i)).join('\n'));
  };
  let text = `const ROWS : i32 = ${ROWS};\n${source}`;
  text = expand(text, 'ROWS_DECLARE', declare);
  text = expand(text, 'ROWS_ACCUMULATE', accumulate);
  return expand(text, 'ROWS_STORE', store);
}

class LmHeadLogitsProgram implements WebGPUProgram {
  variableNames = ['hidden', 'head'];
  variableComponents = [4, 4];
  outputShape: number[];
  shaderKey = `dpoLmHeadLogits_${ROWS}`;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [16, 4, 1];

  constructor(rows: number, vocab: number) {
    this.outputShape = [rows, vocab];
    this.dispatch = [Math.ceil(vocab / 4 / this.workgroupSize[0]), Math.ceil(rows / ROWS / this.workgroupSize[1]), 1];
  }

  getUserCode(): string {
    const store = `fn storeLogits(row : i32, column : i32, values : vec4<f32>, rows : i32, vocab : i32) {
  if (row >= rows) {
    return;
  }
  let at = row * vocab + column;
  for (var j = 0; j < 4; j = j + 1) {
    if (column + j < vocab) {
      result[at + j] = values[j];
    }
  }
}
`;
    return (
      store +
      unrollRows(
        shaders.lmHeadLogits,
        (i) => `var acc${i} = vec4<f32>(0.0); let h${i} = min(row0 + ${i}, rows - 1) * quads;`,
        (i) => `{ let x = hidden[h${i} + k]; acc${i} = acc${i} + vec4<f32>(dot(x, c0), dot(x, c1), dot(x, c2), dot(x, c3)); }`,
        (i) => `storeLogits(row0 + ${i}, column, acc${i}, rows, vocab);`,
      )
    );
  }
}

class LmHeadHiddenGradProgram implements WebGPUProgram {
  variableNames = ['dlogits', 'head'];
  variableComponents = [1, 4];
  outputComponent = 4;
  outputShape: number[];
  shaderKey = `dpoLmHeadHiddenGrad_${ROWS}`;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [16, 4, 1];

  constructor(rows: number, hiddenSize: number) {
    this.outputShape = [rows, hiddenSize];
    this.dispatch = [Math.ceil(hiddenSize / 4 / this.workgroupSize[0]), Math.ceil(rows / ROWS / this.workgroupSize[1]), 1];
  }

  getUserCode(): string {
    return unrollRows(
      shaders.lmHeadHiddenGrad,
      (i) => `var acc${i} = vec4<f32>(0.0); let g${i} = min(row0 + ${i}, rows - 1) * vocab;`,
      (i) => `acc${i} = acc${i} + dlogits[g${i} + v] * w;`,
      (i) => `if (row0 + ${i} < rows) { result[(row0 + ${i}) * quads + quad] = acc${i}; }`,
    );
  }
}

function expectHiddenSize(where: string, hiddenSize: number): void {
  if (!lmHeadMatmulFits(hiddenSize)) {
    throw new Error(`${where}: the hidden size must be a positive multiple of 4, got ${hiddenSize}`);
  }
}

/** logits [M, V] = hidden [M, d] · head [V, d]ᵀ. `output`, when given, is written in place (tests poison it). */
export function runLmHeadLogits(backend: WebGPUBackend, hidden: TensorInfo, head: TensorInfo, output?: TensorInfo): TensorInfo {
  const where = 'LM-head logits (webgpu)';
  expectInput(where, 'hidden', hidden, 'float32', [null, null]);
  const [rows, hiddenSize] = hidden.shape;
  expectHiddenSize(where, hiddenSize);
  expectInput(where, 'head', head, 'float32', [null, hiddenSize]);
  const vocab = head.shape[0];
  if (output) expectInput(where, 'output', output, 'float32', [rows, vocab]);
  return backend.runWebGPUProgram(new LmHeadLogitsProgram(rows, vocab), [hidden, head], 'float32', undefined, output);
}

/** dhidden [M, d] = dlogits [M, V] · head [V, d]. `output`, when given, is written in place (tests poison it). */
export function runLmHeadHiddenGrad(backend: WebGPUBackend, dlogits: TensorInfo, head: TensorInfo, output?: TensorInfo): TensorInfo {
  const where = 'LM-head hidden gradient (webgpu)';
  expectInput(where, 'dlogits', dlogits, 'float32', [null, null]);
  const [rows, vocab] = dlogits.shape;
  expectInput(where, 'head', head, 'float32', [vocab, null]);
  const hiddenSize = head.shape[1];
  expectHiddenSize(where, hiddenSize);
  if (output) expectInput(where, 'output', output, 'float32', [rows, hiddenSize]);
  return backend.runWebGPUProgram(new LmHeadHiddenGradProgram(rows, hiddenSize), [dlogits, head], 'float32', undefined, output);
}
