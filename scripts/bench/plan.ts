/**
 * What a benchmark run measures. The full plan is issue 3's: both kernels for N ∈ {512, 4096} ×
 * V ∈ {32000, 49152, 151936}, and DPO steps on a tiny model and on SmolLM2-135M's shape. `--quick`
 * keeps every (kernel, V) but takes 32 rows and a narrow LM head (d = 32), and cuts the SmolLM2-shaped
 * model to 2 layers and one pair of 8 tokens, so a CPU adapter such as SwiftShader (a few tenths of a
 * GFLOP/s) finishes in minutes; the report says exactly what ran.
 */
import type { KernelCase, KernelName, LoraShape, MatmulProbeCase, ModelDims, StepCase } from './protocol';

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

interface ModeSizes {
  rows: number[];
  /** Hidden size of the LM-head cases: SmolLM2's. */
  lmHeadHidden: number;
  kernelTimedRuns: number;
  smolLayers: number;
  smolPairs: number;
  smolSeqLen: number;
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
    kernelTimedRuns: 5,
    smolLayers: SMOLLM2_135M.num_hidden_layers,
    smolPairs: 4,
    smolSeqLen: 512,
    tinyPairs: 4,
    tinySeqLen: 64,
    stepTimedRuns: 5,
    matmulMaxN: 4096,
    caseTimeoutMs: 20 * 60_000,
  },
  quick: {
    rows: [32],
    lmHeadHidden: 32,
    kernelTimedRuns: 5,
    smolLayers: 2,
    smolPairs: 1,
    smolSeqLen: 8,
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
  for (const kernel of KERNELS) {
    for (const N of s.rows) {
      for (const V of VOCABS) {
        for (const path of ['fused', 'composed'] as const) {
          kernels.push({ kernel, path, N, V, hidden: s.lmHeadHidden, warmupRuns: 1, timedRuns: s.kernelTimedRuns, seed: N + V });
        }
      }
    }
  }
  const steps: StepCase[] = [];
  const models = [
    { model: 'tiny' as const, dims: TINY, pairs: s.tinyPairs, seqLen: s.tinySeqLen },
    { model: 'smollm2-135m-shape' as const, dims: { ...SMOLLM2_135M, num_hidden_layers: s.smolLayers }, pairs: s.smolPairs, seqLen: s.smolSeqLen },
  ];
  for (const m of models) {
    for (const kernels of [true, false]) {
      steps.push({ ...m, lora: LORA, kernels, warmupRuns: 1, timedRuns: s.stepTimedRuns, seed: 135 });
    }
  }
  return {
    mode,
    matmul: { minRunMs: 1000, maxN: s.matmulMaxN, timedRuns: 5 },
    kernels,
    steps,
    caseTimeoutMs: caseTimeoutMs ?? s.caseTimeoutMs,
  };
}
