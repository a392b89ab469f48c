/**
 * DPO harness: runs in Chromium on the webgpu backend and exposes `window.dpo` (see dpo-harness-api.ts)
 * for dpo-loss.spec.ts. The fused DPO loss against the composed dpoLoss on fresh random inputs, and a
 * whole DPO step (tiny random model, LoRA) with the fused kernels against the step without them.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { byteLevelTokenizerFiles } from '../../src/core/data/byte-tokenizer';
import { collatePreference } from '../../src/core/data/collate';
import { tokenizePairs } from '../../src/core/data/tokenize';
import { ChatTokenizer } from '../../src/core/data/tokenizer';
import type { PreferenceRow, TokenizedPair } from '../../src/core/data/types';
import { policyLoss, referenceLogps, type DpoModels } from '../../src/core/dpo/batch';
import { DEFAULT_DPO_CONFIG, type DPOConfig, type LossConfig } from '../../src/core/dpo/config';
import { dpoLoss, type LossInputs, type LossOutputs } from '../../src/core/dpo/losses';
import { completionIndex, scoreTokensComposed } from '../../src/core/dpo/logps';
import { DPOTrainer } from '../../src/core/dpo/trainer';
import {
  DPO_LOSS_COLUMN,
  DPO_LOSS_COLUMNS,
  DPO_LOSS_MAX_PAIRS,
  dpoLossFused,
  dpoLossUniformValues,
  kernelsFor,
  runDpoLoss,
  scoreTokensFused,
} from '../../src/core/kernels';
import { parseModelConfig } from '../../src/core/model/config';
import { createCausalLM } from '../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../src/core/model/lora';
import { randomCheckpoint } from '../../src/core/model/random-checkpoint';
import type { CausalLM, LoraAdapter } from '../../src/core/model/types';
import { Rng } from '../../src/core/random';
import type {
  Compared,
  Comparison,
  DpoApi,
  LossCase,
  LossChoices,
  LossGrads,
  LossResult,
  PairKind,
  StepCase,
  StepResult,
  TrainerResult,
} from './dpo-harness-api';

function compare(actual: ArrayLike<number>, reference: ArrayLike<number>): Comparison {
  if (actual.length !== reference.length) throw new Error(`compare: ${actual.length} values against ${reference.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  let finite = true;
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i]) || !Number.isFinite(reference[i])) finite = false;
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - reference[i]));
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
  }
  return { relError: maxDiff / Math.max(maxRef, 1e-30), maxAbsReference: maxRef, finite };
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

/** max |actual − reference| over a given scale (for values that are differences of larger ones). */
function compareOnScale(actual: ArrayLike<number>, reference: ArrayLike<number>, scale: number): Comparison {
  const { finite } = compare(actual, reference);
  let maxDiff = 0;
  for (let i = 0; i < actual.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i] - reference[i]));
  return { relError: maxDiff / scale, maxAbsReference: scale, finite };
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

async function poisonPool(shapes: number[][], copies = 3): Promise<void> {
  const poison = shapes.flatMap((shape) => Array.from({ length: copies }, () => tf.fill(shape, NaN)));
  await Promise.all(poison.map((t) => t.data()));
  poison.forEach((t) => t.dispose());
}

function lossConfig(overrides: Partial<LossConfig>): LossConfig {
  return { ...DEFAULT_DPO_CONFIG, ...overrides };
}

interface DrawnBatch {
  inputs: LossInputs;
  kinds: PairKind[];
}

/** Fresh per-pair inputs: summed log-probs of tens to hundreds of nats, the log-ratios set by the kind. */
function drawBatch(c: LossCase): DrawnBatch {
  const rng = new Rng(c.seed);
  const large = c.largeScale ?? 400;
  const n = c.pairs;
  const [pc, pr, rc, rr, lc, lr, w] = Array.from({ length: 7 }, () => new Float32Array(n));
  const kinds: PairKind[] = [];
  for (let i = 0; i < n; i++) {
    const kind = c.pairKinds[i % c.pairKinds.length];
    kinds.push(kind);
    rc[i] = -(20 + 200 * rng.next());
    rr[i] = -(20 + 200 * rng.next());
    let uc = 2 * rng.normal();
    let ur = 2 * rng.normal();
    if (kind === 'large') {
      const sign = rng.next() < 0.5 ? -1 : 1;
      uc = sign * large * rng.uniform(0.5, 1);
      ur = -sign * large * rng.uniform(0, 0.5);
    }
    if (kind === 'tie') {
      // |u| ≥ 2: at a tie apo_down's ∂/∂chosen is β·(σ'(βu) − σ'(0)), which as u → 0 is nothing but the
      // rounding of two equal terms; 'start' covers u = 0 itself, where both are exact.
      rr[i] = rc[i];
      uc = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(2, 6);
      ur = uc;
    }
    if (kind === 'start') {
      uc = 0;
      ur = 0;
    }
    pc[i] = rc[i] + uc;
    pr[i] = rr[i] + ur;
    // Lengths 0 (clamped to 1) to 40 tokens.
    lc[i] = rng.int(41);
    lr[i] = rng.int(41);
    w[i] = rng.uniform(0.05, 1.5);
  }
  const inputs: LossInputs = {
    chosen_logps: tf.tensor1d(pc),
    rejected_logps: tf.tensor1d(pr),
    ref_chosen_logps: tf.tensor1d(rc),
    ref_rejected_logps: tf.tensor1d(rr),
    chosen_lengths: tf.tensor1d(lc),
    rejected_lengths: tf.tensor1d(lr),
    sft_loss: tf.scalar(rng.uniform(0.5, 3.5)),
    wpo_weights: tf.tensor1d(w),
  };
  return { inputs, kinds };
}

type LossFn = typeof dpoLoss;

/**
 * tfjs-webgpu's AddN binds one storage buffer per input, so with 8 or more inputs it exceeds WebGPU's
 * default of 8 storage buffers per stage: the pipeline is invalid and the whole submitted command buffer
 * is dropped. dpoLoss sums its loss types with tf.addN, so past 7 types its webgpu result is garbage.
 */
const ADDN_MAX_INPUTS = 7;

/**
 * The composed reference: dpoLoss itself, or for more than ADDN_MAX_INPUTS loss types the sum of dpoLoss
 * over groups of at most that many (the loss is linear in its weighted terms; rewards are the same in
 * every group).
 */
function composedLoss(inputs: LossInputs, config: LossConfig): LossOutputs {
  if (config.loss_type.length <= ADDN_MAX_INPUTS) return dpoLoss(inputs, config);
  return tf.tidy(() => {
    const parts: LossOutputs[] = [];
    for (let start = 0; start < config.loss_type.length; start += ADDN_MAX_INPUTS) {
      const end = start + ADDN_MAX_INPUTS;
      parts.push(
        dpoLoss(inputs, {
          ...config,
          loss_type: config.loss_type.slice(start, end),
          loss_weights: config.loss_weights?.slice(start, end) ?? null,
        }),
      );
    }
    const sum = <T extends tf.Tensor>(pick: (o: LossOutputs) => T) => parts.map(pick).reduce((a, b) => tf.add(a, b) as T);
    const out: LossOutputs = {
      loss: sum((o) => o.loss),
      per_pair: sum((o) => o.per_pair),
      chosen_rewards: parts[0].chosen_rewards,
      rejected_rewards: parts[0].rejected_rewards,
    };
    return out as unknown as tf.TensorContainer;
  }) as unknown as LossOutputs;
}

/** What one path computes for a batch, read back: forward outputs, and gradients w.r.t. [chosen, rejected, sft]. */
interface Quantities {
  loss: Float32Array;
  perPair: Float32Array;
  chosenRewards: Float32Array;
  rejectedRewards: Float32Array;
  lossGrad: Float32Array[];
  perPairGrad: Float32Array[];
  rewardGrad: Float32Array[];
}

type Objective = (o: LossOutputs) => tf.Scalar;

/** The scalars differentiated: the loss; λ·loss + Σ a·per_pair; Σ b·chosen_rewards + Σ d·rejected_rewards. */
interface Objectives {
  lossGrad: Objective;
  perPairGrad: Objective;
  rewardGrad: Objective;
}

/**
 * Gradients of `objective(outputs)` w.r.t. chosen_logps, rejected_logps and sft_loss; zeros for an input
 * the objective does not reach (only an 'sft' term reads sft_loss; an sft-only loss reads no log-probs).
 */
async function gradsOf(loss: LossFn, inputs: LossInputs, config: LossConfig, objective: Objective): Promise<Float32Array[]> {
  const xs = [inputs.chosen_logps, inputs.rejected_logps, inputs.sft_loss as tf.Scalar];
  const { value, grads } = tf.engine().gradients(() => objective(loss(inputs, config)), xs, undefined, true);
  const values = await Promise.all(grads.map((g, i) => (g ? read(g) : Promise.resolve(new Float32Array(xs[i].size)))));
  tf.dispose([value, ...grads.filter((g) => g)]);
  return values;
}

/** Every quantity of one path; `poison` fills the buffer pool with NaN before each computation. */
async function quantitiesOf(
  loss: LossFn,
  inputs: LossInputs,
  config: LossConfig,
  objectives: Objectives,
  poison: boolean,
): Promise<Quantities> {
  const pairs = inputs.chosen_logps.shape[0];
  const poisonIfAsked = () => (poison ? poisonPool([[pairs + 1, DPO_LOSS_COLUMNS], [pairs], []]) : Promise.resolve());
  await poisonIfAsked();
  const out = loss(inputs, config);
  const forward = {
    loss: await read(out.loss),
    perPair: await read(out.per_pair),
    chosenRewards: await read(out.chosen_rewards),
    rejectedRewards: await read(out.rejected_rewards),
  };
  tf.dispose(out as unknown as tf.TensorContainer);
  const grads = async (objective: Objective) => {
    await poisonIfAsked();
    return gradsOf(loss, inputs, config, objective);
  };
  return {
    ...forward,
    lossGrad: await grads(objectives.lossGrad),
    perPairGrad: await grads(objectives.perPairGrad),
    rewardGrad: await grads(objectives.rewardGrad),
  };
}

/**
 * Comparison scales. For a combined loss, per entry Σ_k |that entry for loss type k alone|: the size of
 * the terms the loss adds up. Where terms of opposite sign cancel (sigmoid and nca_pair at a tie, say),
 * any float32 order of summation is off by the rounding of the terms, not of their small sum, so errors
 * are measured against the terms. For one loss type, and for the rewards (no sum), it is |reference|.
 */
async function scalesOf(inputs: LossInputs, config: LossConfig, objectives: Objectives, reference: Quantities): Promise<Quantities> {
  const abs = (a: Float32Array) => a.map(Math.abs);
  const scales: Quantities = {
    loss: abs(reference.loss),
    perPair: abs(reference.perPair),
    chosenRewards: abs(reference.chosenRewards),
    rejectedRewards: abs(reference.rejectedRewards),
    lossGrad: reference.lossGrad.map(abs),
    perPairGrad: reference.perPairGrad.map(abs),
    rewardGrad: reference.rewardGrad.map(abs),
  };
  if (config.loss_type.length === 1) return scales;
  const summed = ['loss', 'perPair', 'lossGrad', 'perPairGrad'] as const;
  for (const key of summed) {
    const zero = (a: Float32Array) => new Float32Array(a.length);
    if (key === 'loss' || key === 'perPair') scales[key] = zero(scales[key]);
    else scales[key] = scales[key].map(zero);
  }
  for (let k = 0; k < config.loss_type.length; k++) {
    const single = { ...config, loss_type: [config.loss_type[k]], loss_weights: [config.loss_weights?.[k] ?? 1] };
    const term = await quantitiesOf(composedLoss, inputs, single, objectives, false);
    const accumulate = (into: Float32Array, from: Float32Array) => into.forEach((_, i) => (into[i] += Math.abs(from[i])));
    accumulate(scales.loss, term.loss);
    accumulate(scales.perPair, term.perPair);
    term.lossGrad.forEach((g, x) => accumulate(scales.lossGrad[x], g));
    term.perPairGrad.forEach((g, x) => accumulate(scales.perPairGrad[x], g));
  }
  return scales;
}

/** max |actual − reference| / max scale, over all entries and, given `kinds`, over the pairs of each kind. */
function compareScaled(actual: ArrayLike<number>, reference: ArrayLike<number>, scale: ArrayLike<number>, kinds?: PairKind[]): Compared {
  const one = (index: number[]): Comparison => {
    let maxDiff = 0;
    let maxScale = 0;
    let finite = true;
    for (const i of index) {
      if (!Number.isFinite(actual[i]) || !Number.isFinite(reference[i])) finite = false;
      maxDiff = Math.max(maxDiff, Math.abs(actual[i] - reference[i]));
      maxScale = Math.max(maxScale, scale[i]);
    }
    return { relError: maxDiff / Math.max(maxScale, 1e-30), maxAbsReference: maxScale, finite };
  };
  const all = Array.from({ length: reference.length }, (_, i) => i);
  const out: Compared = { all: one(all) };
  if (kinds) for (const kind of new Set(kinds)) out[kind] = one(all.filter((i) => kinds[i] === kind));
  return out;
}

function compareGrads(
  actual: Float32Array[],
  reference: Float32Array[],
  scale: Float32Array[],
  kinds: PairKind[],
  hasSft: boolean,
): LossGrads {
  const out: LossGrads = {
    chosen: compareScaled(actual[0], reference[0], scale[0], kinds),
    rejected: compareScaled(actual[1], reference[1], scale[1], kinds),
  };
  if (hasSft) out.sft = compareScaled(actual[2], reference[2], scale[2]).all;
  return out;
}

function isSorting(config: LossConfig): boolean {
  return config.loss_type.some((t) => t === 'aot' || t === 'aot_unpaired');
}

/** The raw program straight into a NaN-filled output, read back as Quantities' forward part and loss gradient. */
async function runProgramPoisoned(
  inputs: LossInputs,
  config: LossConfig,
): Promise<{ unwrittenCells: number; q: Omit<Quantities, 'perPairGrad' | 'rewardGrad'> }> {
  const pairs = inputs.chosen_logps.shape[0];
  const poisoned = tf.fill([pairs + 1, DPO_LOSS_COLUMNS], NaN);
  runDpoLoss(
    tf.backend() as WebGPUBackend,
    {
      chosen: inputs.chosen_logps,
      rejected: inputs.rejected_logps,
      refChosen: inputs.ref_chosen_logps,
      refRejected: inputs.ref_rejected_logps,
      chosenLengths: inputs.chosen_lengths,
      rejectedLengths: inputs.rejected_lengths,
      wpo: inputs.wpo_weights as tf.Tensor1D,
    },
    dpoLossUniformValues(config),
    poisoned,
  );
  const packed = await read(poisoned);
  poisoned.dispose();
  const cell = (row: number, col: number) => packed[row * DPO_LOSS_COLUMNS + col];
  const column = (col: number) => Float32Array.from({ length: pairs }, (_, i) => cell(i, col));
  // The kernel leaves the sft term out of per_pair and the loss and gives its coefficients instead.
  const sft = config.loss_type.includes('sft') ? (await read(inputs.sft_loss as tf.Scalar))[0] : 0;
  return {
    unwrittenCells: packed.filter((v) => Number.isNaN(v)).length,
    q: {
      loss: Float32Array.of(cell(pairs, DPO_LOSS_COLUMN.perPair) + sft * cell(pairs, DPO_LOSS_COLUMN.sftCoefficient)),
      perPair: column(DPO_LOSS_COLUMN.perPair).map((v, i) => v + sft * cell(i, DPO_LOSS_COLUMN.sftCoefficient)),
      chosenRewards: column(DPO_LOSS_COLUMN.chosenReward),
      rejectedRewards: column(DPO_LOSS_COLUMN.rejectedReward),
      lossGrad: [
        column(DPO_LOSS_COLUMN.lossGradChosen),
        column(DPO_LOSS_COLUMN.lossGradRejected),
        Float32Array.of(cell(pairs, DPO_LOSS_COLUMN.sftCoefficient)),
      ],
    },
  };
}

async function lossCase(c: LossCase): Promise<LossResult> {
  const config = lossConfig(c.config);
  const { inputs, kinds } = drawBatch(c);
  const pairs = c.pairs;
  const hasSft = config.loss_type.includes('sft');
  // per_pair of the sorting losses is indexed by rank, not by pair: compare it over all entries only.
  const perPairKinds = isSorting(config) ? undefined : kinds;

  const rng = new Rng(c.seed ^ 0x5eed);
  const randomWeights = (lo: number, hi: number) => tf.tensor1d(Array.from({ length: pairs }, () => rng.uniform(lo, hi)));
  // Positive per-pair weights: a pair's upstream gradient λ/B + a_i is then no cancellation residue.
  const lambda = rng.uniform(0.5, 1.5);
  const weights = { perPair: randomWeights(0.5, 1.5), chosen: randomWeights(-1, 1), rejected: randomWeights(-1, 1) };
  const objectives: Objectives = {
    lossGrad: (o) => o.loss,
    perPairGrad: (o) => tf.add(tf.mul(o.loss, lambda), tf.sum(tf.mul(o.per_pair, weights.perPair))),
    rewardGrad: (o) => tf.add(tf.sum(tf.mul(o.chosen_rewards, weights.chosen)), tf.sum(tf.mul(o.rejected_rewards, weights.rejected))),
  };

  const reference = await quantitiesOf(composedLoss, inputs, config, objectives, false);
  const scale = await scalesOf(inputs, config, objectives, reference);
  const forwardOf = (q: Omit<Quantities, 'perPairGrad' | 'rewardGrad'>) => ({
    loss: compareScaled(q.loss, reference.loss, scale.loss).all,
    perPair: compareScaled(q.perPair, reference.perPair, scale.perPair, perPairKinds),
    chosenRewards: compareScaled(q.chosenRewards, reference.chosenRewards, scale.chosenRewards, kinds),
    rejectedRewards: compareScaled(q.rejectedRewards, reference.rejectedRewards, scale.rejectedRewards, kinds),
  });

  const program = await runProgramPoisoned(inputs, config);
  const fused = await quantitiesOf(dpoLossFused, inputs, config, objectives, true);

  const before = tf.memory().numTensors;
  tf.tidy(() => {
    tf.grads(
      (a: tf.Tensor, b: tf.Tensor) =>
        dpoLossFused({ ...inputs, chosen_logps: a as tf.Tensor1D, rejected_logps: b as tf.Tensor1D }, config).loss,
    )([inputs.chosen_logps, inputs.rejected_logps]);
  });
  const leakedTensors = tf.memory().numTensors - before;
  tf.dispose([inputs, weights.perPair, weights.chosen, weights.rejected] as unknown as tf.TensorContainer);

  return {
    program: {
      unwrittenCells: program.unwrittenCells,
      ...forwardOf(program.q),
      lossGrad: compareGrads(program.q.lossGrad, reference.lossGrad, scale.lossGrad, kinds, hasSft),
    },
    forward: forwardOf(fused),
    lossGrad: compareGrads(fused.lossGrad, reference.lossGrad, scale.lossGrad, kinds, hasSft),
    perPairGrad: compareGrads(fused.perPairGrad, reference.perPairGrad, scale.perPairGrad, kinds, hasSft),
    rewardGrad: compareGrads(fused.rewardGrad, reference.rewardGrad, scale.rewardGrad, kinds, hasSft),
    leakedTensors,
  };
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

async function kernelsDispatched(fn: () => LossOutputs): Promise<string[]> {
  const info = await tf.profile(() => fn() as unknown as tf.TensorContainer);
  tf.dispose(info.result);
  return info.kernelNames;
}

async function choices(): Promise<LossChoices> {
  const config = lossConfig({});
  const small = drawBatch({ pairs: 8, seed: 1, config: {}, pairKinds: ['normal'] });
  const big = drawBatch({ pairs: DPO_LOSS_MAX_PAIRS + 1, seed: 2, config: {}, pairKinds: ['normal', 'large', 'tie'] });
  const fusedBig = dpoLossFused(big.inputs, config);
  const composedBig = dpoLoss(big.inputs, config);
  const [gradFused] = await gradsOf(dpoLossFused, big.inputs, config, (o) => o.loss);
  const [gradComposed] = await gradsOf(dpoLoss, big.inputs, config, (o) => o.loss);
  const aboveLimit = {
    loss: compare(await read(fusedBig.loss), await read(composedBig.loss)),
    perPair: compare(await read(fusedBig.per_pair), await read(composedBig.per_pair)),
    gradChosen: compare(gradFused, gradComposed),
  };
  const { wpo_weights: _w, ...withoutWpo } = small.inputs;
  const { sft_loss: _s, ...withoutSft } = small.inputs;
  const out = {
    webgpuAutoIsFused: kernelsFor('webgpu', 'auto').loss === dpoLossFused && kernelsFor('webgpu', 'auto').scorer === scoreTokensFused,
    webgpuFusedIsFused: kernelsFor('webgpu', 'fused').loss === dpoLossFused && kernelsFor('webgpu', 'fused').scorer === scoreTokensFused,
    webgpuComposedIsComposed:
      kernelsFor('webgpu', 'composed').loss === dpoLoss && kernelsFor('webgpu', 'composed').scorer === scoreTokensComposed,
    cpuAutoIsComposed: kernelsFor('cpu', 'auto').loss === dpoLoss && kernelsFor('cpu', 'auto').scorer === scoreTokensComposed,
    cpuFusedError: errorOf(() => kernelsFor('cpu', 'fused')),
    kernelsAtSmallBatch: await kernelsDispatched(() => dpoLossFused(small.inputs, config)),
    kernelsAboveLimit: await kernelsDispatched(() => dpoLossFused(big.inputs, config)),
    aboveLimit,
    missingWpoError: errorOf(() => dpoLossFused(withoutWpo as LossInputs, lossConfig({ use_weighting: true }))),
    missingSftError: errorOf(() => dpoLossFused(withoutSft as LossInputs, lossConfig({ loss_type: ['sigmoid', 'sft'] }))),
    mismatchedShapeError: errorOf(() => dpoLossFused({ ...small.inputs, ref_rejected_logps: big.inputs.ref_rejected_logps }, config)),
  };
  tf.dispose([small.inputs, big.inputs, fusedBig, composedBig] as unknown as tf.TensorContainer);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// A whole DPO step on a tiny random model.
// ---------------------------------------------------------------------------------------------------

const ROWS: PreferenceRow[] = [
  ['Say hello.', ' HELLO THERE!', ' hello there.'],
  ['Name a color.', ' RED!', ' red, i think'],
  ['Count to three.', ' ONE TWO THREE', ' one, two, three'],
  ['Greet a friend.', ' HI FRIEND!!', ' hi friend'],
].map(([prompt, chosen, rejected], i) => ({ line: i + 1, format: 'standard', conversational: false, prompt, chosen, rejected }));

interface TinySetup {
  model: CausalLM;
  pairs: TokenizedPair[];
  padTokenId: number;
}

function tinySetup(seed: number): TinySetup {
  const { configJson, tensors } = randomCheckpoint(
    'LlamaForCausalLM',
    {
      vocab_size: 259,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 64,
      tie_word_embeddings: true,
    },
    seed,
    { std: 0.2 },
  );
  const host = new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: t.data }]));
  const model = createCausalLM(parseModelConfig(configJson, 'tiny'), host, 'tiny');
  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  const tokenizer = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
  const pairs = tokenizePairs(ROWS, tokenizer, { max_length: 48 }).pairs;
  return { model, pairs, padTokenId: tokenizer.padTokenId as number };
}

/** A LoRA adapter with a random non-zero B, so the policy differs from the reference and A gets gradient. */
function randomAdapter(model: CausalLM, seed: number): LoraAdapter {
  const adapter = createLoraAdapter(model, { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false }, seed);
  const rng = new Rng(seed ^ 0xb);
  for (const { B } of adapter.modules.values()) {
    B.assign(
      tf.tensor(
        Float32Array.from({ length: B.size }, () => 0.3 * rng.normal()),
        B.shape,
      ),
    );
  }
  return adapter;
}

function dpoConfig(overrides: Partial<DPOConfig>): DPOConfig {
  return { ...DEFAULT_DPO_CONFIG, max_length: 48, ...overrides };
}

async function fullStep(c: StepCase): Promise<StepResult> {
  const { model, pairs, padTokenId } = tinySetup(c.seed);
  const config = dpoConfig(c.config);
  const policy = randomAdapter(model, c.seed);
  const params = [...policy.modules.values()].flatMap((m) => [m.A, m.B]);
  const batch = collatePreference(pairs, {
    max_length: config.max_length,
    max_prompt_length: null,
    truncation_mode: 'keep_start',
    pad_token_id: padTokenId,
  });
  const index = completionIndex(batch, config.ld_alpha);

  const run = async (mode: 'fused' | 'composed') => {
    const models: DpoModels = { model, policy, reference: null, ...kernelsFor('webgpu', mode) };
    const ref = await referenceLogps(models, batch, index);
    let kept: Parameters<Parameters<typeof policyLoss>[5]>[0] | undefined;
    const { value, grads } = tf.variableGrads(() => policyLoss(models, batch, index, ref, config, (k) => (kept = k)), params);
    const loss = (await value.data())[0];
    const gradValues = await Promise.all(params.map((p) => read(grads[p.name])));
    const perPair = await read(kept!.perPair);
    const logps = await read(kept!.logps);
    const rewards = Float32Array.from([...(await read(kept!.chosenRewards)), ...(await read(kept!.rejectedRewards))]);
    tf.dispose([value, ...Object.values(grads), ...Object.values(kept!)]);
    return { ref, loss, gradValues, perPair, logps, rewards };
  };
  const fused = await run('fused');
  const composed = await run('composed');

  const grads: Record<string, Comparison> = {};
  const names = [...policy.modules.keys()].flatMap((path) => [`${path}.lora_A`, `${path}.lora_B`]);
  names.forEach((name, k) => {
    grads[name] = compare(fused.gradValues[k], composed.gradValues[k]);
  });
  const concat = (arrays: Float32Array[]) => Float32Array.from(arrays.flatMap((a) => [...a]));
  const allComposed = concat(composed.gradValues);
  const result = {
    refLogps: compare(fused.ref, composed.ref),
    loss: { fused: fused.loss, composed: composed.loss },
    lossRelError: Math.abs(fused.loss - composed.loss) / Math.abs(composed.loss),
    grads,
    allGrads: compare(concat(fused.gradValues), allComposed),
    perPair: compare(fused.perPair, composed.perPair),
    logps: compare(fused.logps, composed.logps),
    rewards: compareOnScale(fused.rewards, composed.rewards, config.beta * maxAbs(composed.logps)),
    maxAbsGrad: allComposed.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
  };
  disposeAdapter(policy);
  model.dispose();
  return result;
}

async function trainerSteps(c: StepCase & { steps: number }): Promise<TrainerResult> {
  const { model, pairs, padTokenId } = tinySetup(c.seed);
  const config = dpoConfig({
    per_device_train_batch_size: pairs.length,
    max_steps: c.steps,
    logging_steps: 1,
    learning_rate: 1e-3,
    seed: c.seed,
    ...c.config,
  });
  const run = async (mode: 'fused' | 'composed') => {
    const policy = randomAdapter(model, c.seed);
    const trainer = new DPOTrainer({
      models: { model, policy, reference: null, ...kernelsFor('webgpu', mode) },
      train: pairs,
      config,
      padTokenId,
    });
    const logs: Record<string, number>[] = [];
    while (!trainer.done) {
      const entry = await trainer.step();
      if (entry) {
        const { tokens_per_second: _timing, ...metrics } = entry;
        logs.push(metrics);
      }
    }
    trainer.dispose();
    disposeAdapter(policy);
    return logs;
  };
  const fused = await run('fused');
  const composed = await run('composed');
  const batch = collatePreference(pairs, {
    max_length: config.max_length,
    max_prompt_length: null,
    truncation_mode: 'keep_start',
    pad_token_id: padTokenId,
  });
  const meanAbs = tf.tidy(() =>
    tf.mean(tf.abs(model.logits(tf.tensor2d(batch.input_ids, [2 * batch.B, batch.T], 'int32'), { adapter: null }))),
  );
  const meanAbsLogit = (await meanAbs.data())[0];
  meanAbs.dispose();
  model.dispose();
  return { fused, composed, meanAbsLogit };
}

const api: DpoApi = {
  async ready() {
    await tf.setBackend('webgpu');
    await tf.ready();
    const info = (tf.backend() as WebGPUBackend).device.adapterInfo;
    return { backend: tf.getBackend(), adapter: `${info?.vendor ?? '?'} ${info?.architecture ?? '?'}` };
  },
  lossCase,
  choices,
  fullStep,
  trainerSteps,
};

window.dpo = api;
document.body.dataset.ready = 'true';
