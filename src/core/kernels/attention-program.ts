import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { shaders } from './shaders';

/**
 * The three flash-attention kernels as tfjs WebGPU programs. Their shaders (shaders/attention_*.wgsl)
 * hold the loops; every statement per tile row and per vec4 of the head is written out here in place of
 * the shader's capitalised marker lines, so that the tile's rows and accumulators are named registers:
 * a private array indexed at run time lives in memory on many devices (SwiftShader among them).
 */

export type AttentionKind = 'forward' | 'query' | 'key';

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

/**
 * Invocations per workgroup: small, so that a causal pass (whose tiles differ in cost by up to T/R
 * times) splits into many workgroups that balance over the device's cores; 64 measured 1.24× slower
 * forward + backward at T = 512 on SwiftShader (docs/benchmarks.md).
 */
export const ATTENTION_WORKGROUP = 16;

/**
 * Rows per invocation: each K/V row read (forward, dq) or Q/dO row read (dk, dv) serves this many, and
 * each row holds two (forward), three (dq) or four (dk, dv) head-sized sets of registers.
 * - On adapters that run shaders on the CPU (SwiftShader), four rows of a 64-wide head ran 1.3× faster
 *   than two (docs/benchmarks.md); wider heads take fewer, so that a set stays at 256 floats per
 *   invocation, which also bounds the written-out shader's size (one shape's attention unit test takes
 *   7–19 s on SwiftShader against about 1 s with the loops left to the compiler: nearly all compiling).
 * - On GPUs a thread has about 255 registers before it spills, so a 64-wide head takes one row (the
 *   dk/dv kernel's four sets are then 256 floats) and only narrow heads share reads. Not yet timed on a
 *   GPU.
 */
export function tileRows(headDim: number, cpu: boolean): number {
  return Math.max(1, Math.min(4, Math.floor((cpu ? 256 : 64) / headDim)));
}

export function shapeKey(s: AttentionShape): string {
  return `${s.headDim}_${s.heads}_${s.kvHeads}_${s.window ?? 0}_${Math.fround(s.scale)}`;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Σ over the head's vec4s of dot(a(d), b(d)), summed left to right. */
function dots(quads: number, a: (d: number) => string, b: (d: number) => string): string {
  return range(quads)
    .map((d) => `dot(${a(d)}, ${b(d)})`)
    .join(' + ');
}

/** Each marker's lines, for R rows and Q4 vec4s. */
function markers(kind: AttentionKind, R: number, Q4: number): Record<string, string[]> {
  const rows = range(R);
  const quads = range(Q4);
  const perRowQuad = (line: (r: number, d: number) => string) => rows.flatMap((r) => quads.map((d) => line(r, d)));
  const perQuad = (line: (d: number) => string) => quads.map(line);
  const perRow = (line: (r: number) => string) => rows.map(line);
  // The forward and dq kernels: key j's vec4s, and each query row's score against them.
  const queryRowScores = {
    LOAD_KEY: perQuad((d) => `let k${d} = k[kj + ${d}];`),
    SCORES: perRow(
      (r) =>
        `let s${r} = ${dots(
          Q4,
          (d) => `q${r}_${d}`,
          (d) => `k${d}`,
        )};`,
    ),
  };
  if (kind === 'forward') {
    return {
      LOAD_QUERY_ROWS: [
        ...perRow((r) => `let qRow${r} = (bh * seq + min(i0 + ${r}, seq - 1)) * Q4;`),
        ...perRowQuad((r, d) => `let q${r}_${d} = q[qRow${r} + ${d}] * SCALE;`),
        ...perRowQuad((r, d) => `var a${r}_${d} = vec4<f32>(0.0);`),
        ...perRow((r) => `var m${r} = -3.0e38;`),
        ...perRow((r) => `var l${r} = 0.0;`),
      ],
      ...queryRowScores,
      ONLINE_SOFTMAX: perRow(
        (r) =>
          `var p${r} = 0.0; var c${r} = 1.0; if (${r} < rows && sees(i0 + ${r}, j)) { ` +
          `let mNew = max(m${r}, s${r}); c${r} = exp(m${r} - mNew); p${r} = exp(s${r} - mNew); ` +
          `l${r} = l${r} * c${r} + p${r}; m${r} = mNew; }`,
      ),
      LOAD_VALUE: perQuad((d) => `let v${d} = v[kj + ${d}];`),
      ACCUMULATE_OUTPUT: perRowQuad((r, d) => `a${r}_${d} = a${r}_${d} * c${r} + p${r} * v${d};`),
      STORE_OUTPUT: perRow(
        (r) =>
          `if (${r} < rows) { let at = (bh * seq + i0 + ${r}) * (HD + 1); ` +
          quads.map((d) => `storeQuad(at + ${4 * d}, a${r}_${d} / l${r});`).join(' ') +
          ` result[at + HD] = m${r} + log(l${r}); }`,
      ),
    };
  }
  if (kind === 'query') {
    return {
      LOAD_QUERY_ROWS: [
        ...perRow((r) => `let row${r} = bh * seq + min(i0 + ${r}, seq - 1);`),
        ...perRowQuad((r, d) => `let q${r}_${d} = q[row${r} * Q4 + ${d}] * SCALE;`),
        ...perRowQuad((r, d) => `let g${r}_${d} = dout[row${r} * Q4 + ${d}];`),
        ...perRowQuad((r, d) => `var a${r}_${d} = vec4<f32>(0.0);`),
        ...perRow((r) => `let lse${r} = stats[row${r} * 2];`),
        ...perRow((r) => `let delta${r} = stats[row${r} * 2 + 1];`),
      ],
      ...queryRowScores,
      LOAD_VALUE: perQuad((d) => `let v${d} = v[kj + ${d}];`),
      SCORE_GRADIENTS: perRow(
        (r) =>
          `var ds${r} = 0.0; if (${r} < rows && sees(i0 + ${r}, j)) { ` +
          `ds${r} = exp(s${r} - lse${r}) * (${dots(
            Q4,
            (d) => `g${r}_${d}`,
            (d) => `v${d}`,
          )} - delta${r}); }`,
      ),
      ACCUMULATE_DQ: perRowQuad((r, d) => `a${r}_${d} = a${r}_${d} + ds${r} * k${d};`),
      STORE_DQ: perRow(
        (r) =>
          `if (${r} < rows) { let at = (bh * seq + i0 + ${r}) * Q4; ` +
          quads.map((d) => `result[at + ${d}] = a${r}_${d} * SCALE;`).join(' ') +
          ' }',
      ),
    };
  }
  return {
    LOAD_KEY_ROWS: [
      ...perRow((r) => `let kRow${r} = (bg * seq + min(j0 + ${r}, seq - 1)) * Q4;`),
      ...perRowQuad((r, d) => `let k${r}_${d} = k[kRow${r} + ${d}] * SCALE;`),
      ...perRowQuad((r, d) => `let v${r}_${d} = v[kRow${r} + ${d}];`),
      ...perRowQuad((r, d) => `var dk${r}_${d} = vec4<f32>(0.0);`),
      ...perRowQuad((r, d) => `var dv${r}_${d} = vec4<f32>(0.0);`),
    ],
    LOAD_QUERY: [...perQuad((d) => `let q${d} = q[qBase + ${d}];`), ...perQuad((d) => `let g${d} = dout[qBase + ${d}];`)],
    SCORES: perRow(
      (r) =>
        `let s${r} = ${dots(
          Q4,
          (d) => `q${d}`,
          (d) => `k${r}_${d}`,
        )};`,
    ),
    SCORE_GRADIENTS: perRow(
      (r) =>
        `var p${r} = 0.0; var ds${r} = 0.0; if (${r} < rows && sees(i, j0 + ${r})) { p${r} = exp(s${r} - lse); ` +
        `ds${r} = p${r} * (${dots(
          Q4,
          (d) => `g${d}`,
          (d) => `v${r}_${d}`,
        )} - delta); }`,
    ),
    ACCUMULATE_DK_DV: [
      ...perRowQuad((r, d) => `dv${r}_${d} = dv${r}_${d} + p${r} * g${d};`),
      ...perRowQuad((r, d) => `dk${r}_${d} = dk${r}_${d} + ds${r} * q${d};`),
    ],
    STORE_DK_DV: perRow(
      (r) =>
        `if (${r} < rows) { let at = (bg * seq + j0 + ${r}) * 2 * Q4; ` +
        quads.map((d) => `result[at + ${d}] = dk${r}_${d} * SCALE; result[at + Q4 + ${d}] = dv${r}_${d};`).join(' ') +
        ' }',
    ),
  };
}

/** The shader's marker lines (a capitalised word alone on its line) replaced by their statements. */
export function writeOut(source: string, lines: Record<string, string[]>): string {
  const used = new Set<string>();
  const text = source.replace(/^( *)([A-Z][A-Z_]+)$/gm, (_, indent: string, name: string) => {
    const statements = lines[name];
    if (!statements) throw new Error(`attention shader: no statements for its ${name} line`);
    used.add(name);
    return statements.map((s) => indent + s).join('\n');
  });
  const unused = Object.keys(lines).filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`attention shader: no ${unused.join(', ')} line`);
  return text;
}

export class AttentionProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ATTENTION_WORKGROUP, 1, 1];
  uniforms = 'seq : i32, tiles : i32,';
  variableComponents: number[];
  outputComponent?: number;

  /** invocations: tiles of `rows` rows (tileRows). */
  constructor(
    private readonly kind: AttentionKind,
    private readonly shape: AttentionShape,
    private readonly rows: number,
    invocations: number,
    outputShape: number[],
  ) {
    this.variableNames = kind === 'forward' ? ['q', 'k', 'v'] : ['q', 'k', 'v', 'dout', 'stats'];
    // Rows of q, k, v and dO are read as vec4; the statistics and the forward output as f32.
    this.variableComponents = kind === 'forward' ? [4, 4, 4] : [4, 4, 4, 4, 1];
    if (kind !== 'forward') this.outputComponent = 4;
    this.outputShape = outputShape;
    this.shaderKey = `dpoAttention_${kind}_R${rows}_${shapeKey(shape)}`;
    this.dispatch = [Math.ceil(invocations / ATTENTION_WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    const s = this.shape;
    const R = this.rows;
    const Q4 = s.headDim / 4;
    const constants = [
      `const HD : i32 = ${s.headDim};`,
      `const Q4 : i32 = ${Q4};`,
      `const R : i32 = ${R};`,
      `const HEADS : i32 = ${s.heads};`,
      `const KV_HEADS : i32 = ${s.kvHeads};`,
      `const GROUP : i32 = ${s.heads / s.kvHeads};`,
      `const WINDOW : i32 = ${s.window ?? 0};`,
      `const SCALE : f32 = ${Math.fround(s.scale)};`,
      '',
    ].join('\n');
    const source =
      this.kind === 'forward'
        ? shaders.attentionForward
        : this.kind === 'query'
          ? shaders.attentionBackwardQuery
          : shaders.attentionBackwardKey;
    const storeQuad =
      this.kind === 'forward'
        ? 'fn storeQuad(at : i32, o : vec4<f32>) {\n  result[at] = o.x;\n  result[at + 1] = o.y;\n  result[at + 2] = o.z;\n  result[at + 3] = o.w;\n}\n'
        : '';
    return constants + shaders.attentionCommon + storeQuad + writeOut(source, markers(this.kind, R, Q4));
  }
}
