/**
 * What a benchmark run measures. The full plan is issue 3's: both kernels for N ∈ {512, 4096} ×
 * V ∈ {32000, 49152, 151936}, and DPO steps on a tiny model and on SmolLM2-135M's shape; besides, the
 * LM head at V = 151936, d = 576 on a device with WebGPU's default limits (a 350 MB head over a
 * 128 MiB binding), and the SmolLM2-shaped step cut to what a CPU adapter finishes (the full shape
 * needs hours there and is skipped with its estimate). The driver shortens or skips a case whose
 * matMul work would outlast the time limit, and says so. `--quick` keeps every (kernel, V) but takes 32
 * rows and a narrow LM head (d = 32), and cuts the SmolLM2-shaped model to 2 layers and one pair of 8
 * tokens, so SwiftShader (a few tenths of a GFLOP/s) finishes in minutes; the report says what ran.
 */
import type { DeviceLimits, KernelCase, KernelName, LoraShape, MatmulProbeCase, ModelDims, StepCase } from './protocol';

export type BenchMode = 'quick' | 'full';

export interface BenchPlan {
  mode: BenchMode;
  matmul: MatmulProbeCase;
  /** Each (kernel, N, V) appears twice: fused, then composed. */
  kernels: KernelCase[];
  /** Each model appears twice: kernels on, then off. */
  steps: StepCase[];
  /** A measurement that has not reported after this long is recorded as timed out and the page replaced. */
  caseTimeoutMs: number;
}

/** SmolLM2-135M (HuggingFaceTB/SmolLM2-135M config.json): Llama, tied embeddings. */
export const SMOLLM2_135M: ModelDims = {
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  tie_word_embeddings: true,
};

/** The demo model's shape (scripts/make-tiny-model.ts): byte-level vocabulary, two small layers. */
export const TINY: ModelDims = {
  vocab_size: 259,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
};

export const LORA: LoraShape = { r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] };

const KERNELS: KernelName[] = ['selective_log_softmax', 'lm_head_logps'];
const VOCABS = [32000, 49152, 151936];

/** A step's model size and batch. */
interface StepSize {
  layers: number;
  pairs: number;
  seqLen: number;
  timedRuns: number;
}

interface ModeSizes {
  rows: number[];
  /** Hidden size of the LM-head cases: SmolLM2's. */
  lmHeadHidden: number;
  /** Tokens of the linear-layer cases. */
  linearRows: number;
  /** Sequence lengths of the attention cases, with their priorities. */
  attentionSeqs: [number, number][];
  kernelTimedRuns: number;
  /** Rows of the LM-head case on WebGPU's default limits (d = 576, V = 151936). */
  defaultLimitsRows: number;
  /** SmolLM2-shaped steps, largest first. */
  smol: StepSize[];
  tinyPairs: number;
  tinySeqLen: number;
  stepTimedRuns: number;
  matmulMaxN: number;
  caseTimeoutMs: number;
}

const SIZES: Record<BenchMode, ModeSizes> = {
  full: {
    rows: [512, 4096],
    lmHeadHidden: SMOLLM2_135M.hidden_size,
    linearRows: 512,
    attentionSeqs: [
      [512, 1],
      [2048, 5],
    ],
    kernelTimedRuns: 5,
    defaultLimitsRows: 128,
    // The shape, then a cut a CPU adapter finishes in minutes: 2 pairs of 64 tokens score 128
    // positions, more than one block of LM-head logits, as a real batch does.
    smol: [
      { layers: SMOLLM2_135M.num_hidden_layers, pairs: 4, seqLen: 512, timedRuns: 5 },
      { layers: 2, pairs: 2, seqLen: 64, timedRuns: 3 },
    ],
    tinyPairs: 4,
    tinySeqLen: 64,
    stepTimedRuns: 5,
    matmulMaxN: 4096,
    caseTimeoutMs: 20 * 60_000,
  },
  quick: {
    rows: [32],
    lmHeadHidden: 32,
    linearRows: 64,
    attentionSeqs: [[64, 1]],
    kernelTimedRuns: 5,
    defaultLimitsRows: 32,
    smol: [{ layers: 2, pairs: 1, seqLen: 8, timedRuns: 3 }],
    tinyPairs: 4,
    tinySeqLen: 64,
    stepTimedRuns: 3,
    matmulMaxN: 4096,
    caseTimeoutMs: 5 * 60_000,
  },
};

export function benchPlan(mode: BenchMode, caseTimeoutMs?: number): BenchPlan {
  const s = SIZES[mode];
  const kernels: KernelCase[] = [];
  const add = (kernel: KernelName, N: number, V: number, hidden: number, limits: DeviceLimits, priority: number) => {
    for (const path of ['fused', 'composed'] as const) {
      kernels.push({
        kernel,
        path,
        N,
        V,
        hidden,
        warmupRuns: 1,
        timedRuns: s.kernelTimedRuns,
        timeForward: true,
        limits,
        priority,
        seed: N + V,
      });
    }
  };
  // The done-when figures run first, cheapest first, so that a run with a budget keeps them: selective
  // log-softmax at N = 4096, V = 32000 (1); the SmolLM2-shaped step as cut (2); the LM head at
  // V = 151936 on default limits, where the composed path cannot run (3); the LM head's peak bytes at
  // the smallest N for V = 32000 and 49152 (4); then the rest (5), the adapter-limit V = 151936 LM head
  // (the costliest case a CPU adapter may finish) first. Quick runs all in the plan's order.
  const priorityOf = (kernel: KernelName, N: number, V: number): number => {
    if (mode === 'quick') return 1;
    if (kernel === 'selective_log_softmax') return N === 4096 && V === 32000 ? 1 : 6;
    if (N !== s.rows[0]) return 6;
    return V === 151936 ? 5 : 4;
  };
  for (const kernel of KERNELS) {
    for (const N of s.rows) for (const V of VOCABS) add(kernel, N, V, s.lmHeadHidden, 'adapter', priorityOf(kernel, N, V));
  }
  add('lm_head_logps', s.defaultLimitsRows, 151936, SMOLLM2_135M.hidden_size, 'webgpu-default', mode === 'quick' ? 1 : 3);
  // Every frozen linear layer's shape in SmolLM2-135M (V = out, d = in): q/o_proj, k/v_proj,
  // gate/up_proj, down_proj, on the step's token count; our products against tfjs's matMul.
  const d = SMOLLM2_135M.hidden_size;
  const kv = (d / SMOLLM2_135M.num_attention_heads) * SMOLLM2_135M.num_key_value_heads;
  const ff = SMOLLM2_135M.intermediate_size;
  for (const [out, inF] of [
    [d, d],
    [kv, d],
    [ff, d],
    [d, ff],
  ])
    add('linear', s.linearRows, out, inF, 'adapter', 1);
  // Causal attention with SmolLM2-135M's 9 query heads over 3 KV heads of 64, one sequence of T tokens.
  const headDim = d / SMOLLM2_135M.num_attention_heads;
  for (const [T, priority] of s.attentionSeqs) add('attention', T, SMOLLM2_135M.num_attention_heads, headDim, 'adapter', priority);
  const steps: StepCase[] = [];
  const models = [
    {
      model: 'tiny' as const,
      dims: TINY,
      pairs: s.tinyPairs,
      seqLen: s.tinySeqLen,
      timedRuns: s.stepTimedRuns,
      priority: mode === 'quick' ? 1 : 5,
    },
    ...s.smol.map((size, i) => ({
      model: 'smollm2-135m-shape' as const,
      dims: { ...SMOLLM2_135M, num_hidden_layers: size.layers },
      pairs: size.pairs,
      seqLen: size.seqLen,
      timedRuns: size.timedRuns,
      // The smallest SmolLM2-shaped step is the one every adapter finishes.
      priority: mode === 'quick' ? 1 : i === s.smol.length - 1 ? 2 : 5,
    })),
  ];
  for (const m of models) {
    for (const kernels of [true, false]) {
      steps.push({ ...m, lora: LORA, kernels, gradientCheckpointing: false, warmupRuns: 1, seed: 135 });
    }
    // The same step with each layer recomputed in the backward pass: its peak memory beside the above.
    steps.push({ ...m, lora: LORA, kernels: true, gradientCheckpointing: true, warmupRuns: 1, seed: 135 });
  }
  return {
    mode,
    matmul: { minRunMs: 1000, maxN: s.matmulMaxN, timedRuns: 5 },
    kernels,
    steps,
    caseTimeoutMs: caseTimeoutMs ?? s.caseTimeoutMs,
  };
}
