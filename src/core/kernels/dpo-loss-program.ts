import type { TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import dpoLossSource from '../../../shaders/dpo_loss.wgsl?raw';
import { LOSS_TYPES, type FDivergenceType, type LossConfig, type LossType } from '../dpo/config';

/**
 * The fused DPO loss as a tfjs WebGPU program (shaders/dpo_loss.wgsl): one workgroup, one dispatch, the
 * whole batch. The loss configuration travels in uniforms, so one compiled pipeline serves every loss.
 */

/**
 * Pairs one dispatch can take: one workgroup holds every pair's sort keys and terms in workgroup memory
 * (13 KiB at 256, under WebGPU's guaranteed 16 KiB). DPO batches per step are far smaller; dpoLossFused
 * falls back to the composed loss above this.
 */
export const DPO_LOSS_MAX_PAIRS = 256;

/**
 * Column layout of the output [B + 1, 14] (the shader's header says what each column holds). Row B is
 * the batch: the loss in the perPair column, ∂loss/∂sft_loss in the sftCoefficient column.
 */
export const DPO_LOSS_COLUMN = {
  perPair: 0,
  chosenReward: 1,
  rejectedReward: 2,
  lossGradChosen: 3,
  lossGradRejected: 4,
  sftCoefficient: 5,
  localChosen: 6,
  localRejected: 7,
  aotRank: 8,
  aotSlope: 9,
  unpairedChosenRank: 10,
  unpairedChosenSlope: 11,
  unpairedRejectedRank: 12,
  unpairedRejectedSlope: 13,
} as const;
export const DPO_LOSS_COLUMNS = 14;

/** SwiftShader and GPUs alike: 64 lanes cover a typical batch in one pass; larger B loops. */
const WORKGROUP_SIZE = 64;

const F_DIVERGENCE_CODE: Record<FDivergenceType, number> = {
  reverse_kl: 0,
  forward_kl: 1,
  js_divergence: 2,
  alpha_divergence: 3,
};

/** The weight of each loss type, duplicates summed; 0 for a type not in the list. */
export function lossTypeWeights(config: LossConfig): Record<LossType, number> {
  const weights = Object.fromEntries(LOSS_TYPES.map((t) => [t, 0])) as Record<LossType, number>;
  config.loss_type.forEach((type, k) => {
    weights[type] += config.loss_weights?.[k] ?? 1;
  });
  return weights;
}

function fDivergenceCode(config: LossConfig): number {
  // α → 1 is reverse KL; the composed loss switches at the same tolerance.
  const alphaIsOne = Math.abs(config.f_alpha_divergence_coef - 1) < 1e-6;
  return config.f_divergence_type === 'alpha_divergence' && alphaIsOne
    ? F_DIVERGENCE_CODE.reverse_kl
    : F_DIVERGENCE_CODE[config.f_divergence_type];
}

interface UniformField {
  name: string;
  type: 'f32' | 'i32';
  value: (config: LossConfig, weights: Record<LossType, number>) => number;
}

/**
 * The program's uniforms, in declaration order. Constants are formed here in float64 as the composed
 * loss forms them, so both paths start from the same float32 values.
 */
const UNIFORM_FIELDS: UniformField[] = [
  { name: 'beta', type: 'f32', value: (c) => c.beta },
  { name: 'eps', type: 'f32', value: (c) => c.label_smoothing },
  { name: 'oneMinusTwoEps', type: 'f32', value: (c) => 1 - 2 * c.label_smoothing },
  { name: 'logOneMinusEps', type: 'f32', value: (c) => Math.log1p(-c.label_smoothing) },
  // Only exo_pair reads log ε, and it requires ε > 0.
  { name: 'logEps', type: 'f32', value: (c) => (c.label_smoothing > 0 ? Math.log(c.label_smoothing) : 0) },
  { name: 'halfInvBeta', type: 'f32', value: (c) => 1 / (2 * c.beta) },
  { name: 'tau', type: 'f32', value: (c) => c.discopop_tau },
  { name: 'alphaMinusOne', type: 'f32', value: (c) => c.f_alpha_divergence_coef - 1 },
  { name: 'fDivergence', type: 'i32', value: (c) => fDivergenceCode(c) },
  { name: 'referenceFree', type: 'i32', value: (c) => (c.reference_free ? 1 : 0) },
  { name: 'useWeighting', type: 'i32', value: (c) => (c.use_weighting ? 1 : 0) },
  ...LOSS_TYPES.map((type): UniformField => ({ name: `w_${type}`, type: 'f32', value: (_, w) => w[type] })),
];

/** Uniform values for a loss configuration, in UNIFORM_FIELDS order (the kernel's attribute). */
export function dpoLossUniformValues(config: LossConfig): number[] {
  const weights = lossTypeWeights(config);
  return UNIFORM_FIELDS.map((field) => field.value(config, weights));
}

/** The per-pair inputs of the program, all float32 [B]; `wpo` is read only when use_weighting. */
export interface DpoLossProgramInputs {
  chosen: TensorInfo;
  rejected: TensorInfo;
  refChosen: TensorInfo;
  refRejected: TensorInfo;
  chosenLengths: TensorInfo;
  rejectedLengths: TensorInfo;
  wpo: TensorInfo;
}

/** Which LossInputs field each program input comes from, for error messages; binding order. */
const INPUT_FIELD: Record<keyof DpoLossProgramInputs, string> = {
  chosen: 'chosen_logps',
  rejected: 'rejected_logps',
  refChosen: 'ref_chosen_logps',
  refRejected: 'ref_rejected_logps',
  chosenLengths: 'chosen_lengths',
  rejectedLengths: 'rejected_lengths',
  wpo: 'wpo_weights',
};
/** The program's inputs in binding order. */
export const DPO_LOSS_PROGRAM_INPUTS = Object.keys(INPUT_FIELD) as (keyof DpoLossProgramInputs)[];

class DpoLossProgram implements WebGPUProgram {
  variableNames: string[] = [...DPO_LOSS_PROGRAM_INPUTS];
  outputShape: number[];
  shaderKey = `dpoLoss_${WORKGROUP_SIZE}_${DPO_LOSS_MAX_PAIRS}`;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number] = [1, 1, 1];
  workgroupSize: [number, number, number] = [WORKGROUP_SIZE, 1, 1];
  uniforms = UNIFORM_FIELDS.map((f) => `${f.name} : ${f.type}, `).join('');

  constructor(pairs: number) {
    this.outputShape = [pairs + 1, DPO_LOSS_COLUMNS];
  }

  getUserCode(): string {
    return `const WG : i32 = ${WORKGROUP_SIZE};\nconst MAX_PAIRS : i32 = ${DPO_LOSS_MAX_PAIRS};\n${dpoLossSource}`;
  }
}

/**
 * Runs the program: the seven [B] inputs and the uniform values (dpoLossUniformValues) → [B + 1, 14]
 * (DPO_LOSS_COLUMN). `output`, when given, is written in place (tests pass a poisoned tensor).
 */
export function runDpoLoss(backend: WebGPUBackend, inputs: DpoLossProgramInputs, uniformValues: number[], output?: TensorInfo): TensorInfo {
  const where = 'DPO loss (webgpu)';
  const pairs = inputs.chosen.shape[0] ?? 0;
  for (const name of DPO_LOSS_PROGRAM_INPUTS) {
    const t = inputs[name];
    if (t.dtype !== 'float32' || t.shape.length !== 1 || t.shape[0] !== pairs) {
      throw new Error(
        `${where}: ${INPUT_FIELD[name]} must be [${pairs}] float32 like chosen_logps, got [${t.shape.join(', ')}] ${t.dtype}`,
      );
    }
  }
  if (!(pairs >= 1 && pairs <= DPO_LOSS_MAX_PAIRS)) {
    throw new Error(`${where}: B = ${pairs} pairs; one dispatch takes 1 to ${DPO_LOSS_MAX_PAIRS}`);
  }
  if (uniformValues.length !== UNIFORM_FIELDS.length) {
    throw new Error(`${where}: ${uniformValues.length} uniform values, expected ${UNIFORM_FIELDS.length} (use dpoLossUniformValues)`);
  }
  if (output && (output.dtype !== 'float32' || output.shape.join() !== [pairs + 1, DPO_LOSS_COLUMNS].join())) {
    throw new Error(
      `${where}: output must be [${pairs + 1}, ${DPO_LOSS_COLUMNS}] float32, got [${output.shape.join(', ')}] ${output.dtype}`,
    );
  }
  const ordered = DPO_LOSS_PROGRAM_INPUTS.map((name) => inputs[name]);
  const uniforms = UNIFORM_FIELDS.map((field, k) => ({
    type: field.type === 'f32' ? 'float32' : 'int32',
    data: [uniformValues[k]],
  }));
  return backend.runWebGPUProgram(new DpoLossProgram(pairs), ordered, 'float32', uniforms, output);
}
