import * as tf from '@tensorflow/tfjs';
import { F_DIVERGENCE_TYPES, LOSS_TYPES, type LossConfig, type LossType } from './config';

/**
 * DPO loss family, formula for formula as TRL's DPOTrainer._compute_loss (HEAD, v1.9); see
 * notes/dpo_anchors.md §1.1–1.2. Two deliberate additions, both TRL ≤ 0.28 behaviour users still ask
 * for: cDPO label smoothing on `sigmoid`, and `reference_free`, which here zeroes the reference in
 * every loss type alike (TRL ≤ 0.28 zeroed it only in some) and never in the rewards.
 */

/** Per-pair inputs, all float32 of length B (pairs). */
export interface LossInputs {
  /** Policy log-prob summed over completion tokens (LD-weighted already when ld_alpha is set). */
  chosen_logps: tf.Tensor1D;
  rejected_logps: tf.Tensor1D;
  /** Reference log-probs; treated as constants (no gradient flows into them). */
  ref_chosen_logps: tf.Tensor1D;
  ref_rejected_logps: tf.Tensor1D;
  /** Completion token counts |y|; clamped at ≥ 1 here. */
  chosen_lengths: tf.Tensor1D;
  rejected_lengths: tf.Tensor1D;
  /** Token-mean NLL over all chosen completion tokens of the batch; required by 'sft'. */
  sft_loss?: tf.Scalar;
  /** WPO weight w_c·w_r per pair; required when use_weighting. Treated as constants. */
  wpo_weights?: tf.Tensor1D;
}

export interface LossOutputs {
  /** Σ_k w_k · mean_i ℓ_{k,i} (ℓ multiplied by the WPO weight of its row when use_weighting). */
  loss: tf.Scalar;
  /**
   * Σ_k w_k · ℓ_{k,i}. For 'aot' and 'aot_unpaired' the terms are indexed by rank in the batch sort,
   * not by pair, exactly as TRL's per-sequence tensor is.
   */
  per_pair: tf.Tensor1D;
  /** β·(π_c − ref_c): the raw log-ratio, never f-divergence-scored, length-normalised or reference-free. */
  chosen_rewards: tf.Tensor1D;
  rejected_rewards: tf.Tensor1D;
}

export interface RewardMetrics {
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/accuracies': number;
  'rewards/margins': number;
}

/** TRL clamps the alpha-divergence exponent here in float32 so that exp() stays finite. */
const ALPHA_DIVERGENCE_MAX_EXPONENT = 80;

/** Losses whose per-row terms follow a batch sort, so a per-row weight has no row to attach to. */
const SORTING_LOSSES: readonly LossType[] = ['aot', 'aot_unpaired'];

/** Throws a clear error for any setting TRL rejects or that would make the loss meaningless. */
export function validateLossConfig(config: LossConfig): void {
  const where = 'LossConfig';
  if (!Number.isFinite(config.beta) || config.beta <= 0) {
    throw new Error(`${where}.beta must be a finite number > 0, got ${config.beta}`);
  }
  if (!Array.isArray(config.loss_type) || config.loss_type.length === 0) {
    throw new Error(`${where}.loss_type must be a non-empty list of loss types, got ${JSON.stringify(config.loss_type)}`);
  }
  for (const type of config.loss_type) {
    if (!(LOSS_TYPES as readonly string[]).includes(type)) {
      throw new Error(`${where}.loss_type: unknown loss type '${type}'; expected one of ${LOSS_TYPES.join(', ')}`);
    }
  }
  if (config.loss_weights !== null) {
    if (config.loss_weights.length !== config.loss_type.length) {
      throw new Error(
        `${where}.loss_weights has ${config.loss_weights.length} entries but loss_type has ` +
          `${config.loss_type.length} (${config.loss_type.join(', ')}); give one weight per loss type`,
      );
    }
    config.loss_weights.forEach((w, k) => {
      if (!Number.isFinite(w)) throw new Error(`${where}.loss_weights[${k}] must be finite, got ${w}`);
    });
  }
  const eps = config.label_smoothing;
  if (!Number.isFinite(eps) || eps < 0 || eps >= 0.5) {
    throw new Error(`${where}.label_smoothing must be in [0, 0.5), got ${eps}`);
  }
  if (config.loss_type.includes('exo_pair') && eps === 0) {
    throw new Error(`${where}.label_smoothing must be > 0 for loss_type 'exo_pair' (log ε is part of the loss); TRL uses e.g. 1e-3`);
  }
  if (!(F_DIVERGENCE_TYPES as readonly string[]).includes(config.f_divergence_type)) {
    throw new Error(`${where}.f_divergence_type: unknown '${config.f_divergence_type}'; expected one of ${F_DIVERGENCE_TYPES.join(', ')}`);
  }
  if (config.f_divergence_type === 'alpha_divergence' && !Number.isFinite(config.f_alpha_divergence_coef)) {
    throw new Error(`${where}.f_alpha_divergence_coef must be finite, got ${config.f_alpha_divergence_coef}`);
  }
  if (!Number.isFinite(config.discopop_tau) || config.discopop_tau <= 0) {
    throw new Error(`${where}.discopop_tau must be a finite number > 0, got ${config.discopop_tau}`);
  }
  if (config.use_weighting) {
    const sorting = config.loss_type.filter((t) => SORTING_LOSSES.includes(t));
    if (sorting.length > 0) {
      throw new Error(`${where}.use_weighting (WPO) cannot be combined with loss_type '${sorting[0]}' (TRL rejects it too)`);
    }
  }
}

/** log σ(x) = −softplus(−x): finite for any finite x. */
function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** Identity forward, zero gradient: the no-grad of the reference and of the WPO weights. */
const detach = tf.customGrad((...args) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as (x: tf.Tensor) => tf.Tensor;

/** Ascending sort over the batch (torch.sort); the gradient goes back to each value's original slot. */
const sortAscending = tf.customGrad((...args) => {
  const x = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const n = x.shape[0];
  const order = tf.topk(tf.neg(x), n, true).indices;
  save([order]);
  return {
    value: tf.gather(x, order as tf.Tensor1D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.unsortedSegmentSum(dy, saved[0] as tf.Tensor1D, n),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** Everything the per-row formulas read; built once per call. */
interface LossTerms {
  beta: number;
  eps: number;
  tau: number;
  /** Log-ratios as the loss sees them (reference zeroed when reference_free). */
  uC: tf.Tensor;
  uR: tf.Tensor;
  /** f-divergence scores s = f(u). */
  sC: tf.Tensor;
  sR: tf.Tensor;
  /** Δ = s_c − s_r. */
  delta: tf.Tensor;
  /** Completion lengths clamped at ≥ 1. */
  lenC: tf.Tensor;
  lenR: tf.Tensor;
  policyC: tf.Tensor;
  policyR: tf.Tensor;
  refC: tf.Tensor;
  refR: tf.Tensor;
  sft: tf.Scalar | undefined;
}

/** −(1−ε)·logσ(x) − ε·logσ(−x): cDPO, also the form of both AOT losses. */
function smoothedSigmoidLoss(x: tf.Tensor, eps: number): tf.Tensor {
  const clean = tf.mul(logSigmoid(x), -(1 - eps));
  return eps === 0 ? clean : tf.sub(clean, tf.mul(logSigmoid(tf.neg(x)), eps));
}

const PER_ROW_LOSS: Record<LossType, (t: LossTerms) => tf.Tensor> = {
  sigmoid: (t) => smoothedSigmoidLoss(tf.mul(t.delta, t.beta), t.eps),

  hinge: (t) => tf.relu(tf.sub(1, tf.mul(t.delta, t.beta))),

  // Per-token average of the scores: TRL's choice, confirmed with the IPO authors.
  ipo: (t) => {
    const perToken = tf.sub(tf.div(t.sC, t.lenC), tf.div(t.sR, t.lenR));
    return tf.square(tf.sub(perToken, 1 / (2 * t.beta)));
  },

  exo_pair: (t) => {
    const x = tf.mul(t.delta, t.beta);
    const winner = tf.mul(tf.sigmoid(x), tf.sub(logSigmoid(x), Math.log1p(-t.eps)));
    const loser = tf.mul(tf.sigmoid(tf.neg(x)), tf.sub(logSigmoid(tf.neg(x)), Math.log(t.eps)));
    return tf.add(winner, loser);
  },

  nca_pair: (t) => {
    const rc = tf.mul(t.sC, t.beta);
    const rr = tf.mul(t.sR, t.beta);
    return tf.sub(tf.neg(logSigmoid(rc)), tf.mul(tf.add(logSigmoid(tf.neg(rc)), logSigmoid(tf.neg(rr))), 0.5));
  },

  robust: (t) => {
    const x = tf.mul(t.delta, t.beta);
    const clean = tf.mul(logSigmoid(x), -(1 - t.eps));
    const flipped = tf.mul(logSigmoid(tf.neg(x)), t.eps);
    return tf.div(tf.add(clean, flipped), 1 - 2 * t.eps);
  },

  // HEAD form: no running mean δ of the rewards (that was TRL ≤ 0.28).
  bco_pair: (t) => tf.neg(tf.add(logSigmoid(tf.mul(t.sC, t.beta)), logSigmoid(tf.mul(t.sR, -t.beta)))),

  sppo_hard: (t) => {
    const half = 0.5 / t.beta;
    return tf.add(tf.square(tf.sub(t.sC, half)), tf.square(tf.add(t.sR, half)));
  },

  // AOT reads the raw log-probs, never the f-divergence scores.
  aot: (t) => {
    const d = tf.sub(sortAscending(tf.sub(t.policyC, t.policyR)), sortAscending(tf.sub(t.refC, t.refR)));
    return smoothedSigmoidLoss(tf.mul(d, t.beta), t.eps);
  },

  aot_unpaired: (t) => {
    const d = tf.sub(sortAscending(t.uC), sortAscending(t.uR));
    return smoothedSigmoidLoss(tf.mul(d, t.beta), t.eps);
  },

  apo_zero: (t) => tf.add(tf.sub(1, tf.sigmoid(tf.mul(t.uC, t.beta))), tf.sigmoid(tf.mul(t.uR, t.beta))),

  // Raw u for the chosen term but the scored Δ for the second, as TRL has it.
  apo_down: (t) => tf.add(tf.sigmoid(tf.mul(t.uC, t.beta)), tf.sub(1, tf.sigmoid(tf.mul(t.delta, t.beta)))),

  // m·e^{−x} is evaluated as exp(logσ(x/τ) − x): the same value where TRL's product is finite, and
  // finite (instead of ∞·0 = NaN) when x < −88.
  discopop: (t) => {
    const x = tf.mul(t.delta, t.beta);
    const xOverTau = tf.div(x, t.tau);
    const logistic = tf.mul(tf.sigmoid(tf.neg(xOverTau)), tf.neg(logSigmoid(x)));
    const exponential = tf.exp(tf.sub(logSigmoid(xOverTau), x));
    return tf.add(logistic, exponential);
  },

  sigmoid_norm: (t) => {
    const perToken = tf.sub(tf.div(t.sC, t.lenC), tf.div(t.sR, t.lenR));
    return tf.neg(logSigmoid(tf.mul(perToken, t.beta)));
  },

  sft: (t) => tf.broadcastTo(t.sft as tf.Scalar, t.uC.shape),
};

/** s = f(u) for the configured f-divergence (TRL's `chosen_scores` / `rejected_scores`). */
function fDivergenceScore(u: tf.Tensor, config: LossConfig): tf.Tensor {
  switch (config.f_divergence_type) {
    case 'reverse_kl':
      return u;
    case 'forward_kl':
      return tf.neg(tf.exp(tf.neg(u)));
    case 'js_divergence':
      return logSigmoid(u);
    case 'alpha_divergence': {
      const alpha = config.f_alpha_divergence_coef;
      // α → 1 is the log, i.e. reverse KL; TRL switches at the same tolerance.
      if (Math.abs(alpha - 1) < 1e-6) return u;
      const exponent = tf.minimum(tf.mul(u, alpha - 1), ALPHA_DIVERGENCE_MAX_EXPONENT);
      return tf.div(tf.exp(exponent), alpha - 1);
    }
  }
}

function checkInputs(inputs: LossInputs, config: LossConfig): void {
  const vectors = [
    'chosen_logps',
    'rejected_logps',
    'ref_chosen_logps',
    'ref_rejected_logps',
    'chosen_lengths',
    'rejected_lengths',
  ] as const;
  const named: Array<[string, tf.Tensor | undefined]> = vectors.map((name) => [name, inputs[name]]);
  if (config.use_weighting) {
    if (inputs.wpo_weights === undefined) {
      throw new Error('dpoLoss: use_weighting is set but inputs.wpo_weights is missing (one w_c·w_r per pair)');
    }
    named.push(['wpo_weights', inputs.wpo_weights]);
  }
  let pairs = -1;
  for (const [name, t] of named) {
    if (!(t instanceof tf.Tensor)) throw new Error(`dpoLoss: inputs.${name} is missing`);
    if (t.rank !== 1) throw new Error(`dpoLoss: inputs.${name} must be rank 1 [B], got shape [${t.shape.join(', ')}]`);
    if (t.dtype !== 'float32') throw new Error(`dpoLoss: inputs.${name} must be float32, got ${t.dtype}`);
    if (pairs === -1) pairs = t.shape[0];
    else if (t.shape[0] !== pairs) {
      throw new Error(`dpoLoss: inputs.${name} has shape [${t.shape[0]}], expected [${pairs}] like inputs.chosen_logps`);
    }
  }
  if (pairs === 0) throw new Error('dpoLoss: the batch is empty (B = 0)');
  if (config.loss_type.includes('sft')) {
    if (!(inputs.sft_loss instanceof tf.Tensor)) {
      throw new Error("dpoLoss: loss_type 'sft' needs inputs.sft_loss (token-mean NLL over the chosen completions)");
    }
    if (inputs.sft_loss.rank !== 0) {
      throw new Error(`dpoLoss: inputs.sft_loss must be a scalar, got shape [${inputs.sft_loss.shape.join(', ')}]`);
    }
  }
}

/**
 * The DPO loss of a batch of B pairs. Gradients flow into chosen_logps, rejected_logps and sft_loss
 * only. The caller owns the returned tensors.
 */
export function dpoLoss(inputs: LossInputs, config: LossConfig): LossOutputs {
  validateLossConfig(config);
  checkInputs(inputs, config);
  const weights = config.loss_weights ?? config.loss_type.map(() => 1);

  return tf.tidy(() => {
    const refC = detach(inputs.ref_chosen_logps);
    const refR = detach(inputs.ref_rejected_logps);
    const lossRefC = config.reference_free ? tf.zerosLike(refC) : refC;
    const lossRefR = config.reference_free ? tf.zerosLike(refR) : refR;
    const uC = tf.sub(inputs.chosen_logps, lossRefC);
    const uR = tf.sub(inputs.rejected_logps, lossRefR);
    const sC = fDivergenceScore(uC, config);
    const sR = fDivergenceScore(uR, config);
    const terms: LossTerms = {
      beta: config.beta,
      eps: config.label_smoothing,
      tau: config.discopop_tau,
      uC,
      uR,
      sC,
      sR,
      delta: tf.sub(sC, sR),
      lenC: tf.maximum(inputs.chosen_lengths, 1),
      lenR: tf.maximum(inputs.rejected_lengths, 1),
      policyC: inputs.chosen_logps,
      policyR: inputs.rejected_logps,
      refC: lossRefC,
      refR: lossRefR,
      sft: inputs.sft_loss,
    };
    const rowWeight = config.use_weighting ? detach(inputs.wpo_weights as tf.Tensor) : null;

    const weighted = config.loss_type.map((type, k): tf.Tensor1D => {
      const perRow = PER_ROW_LOSS[type](terms);
      const scaled = rowWeight === null ? perRow : tf.mul(perRow, rowWeight);
      return tf.mul(scaled, weights[k]);
    });
    // Σ_k w_k·mean_i ℓ_{k,i} = mean_i Σ_k w_k·ℓ_{k,i}.
    // Pairwise sums: tf.addN over 8 or more tensors needs more storage buffers than WebGPU grants a
    // shader by default, and the invalid pipeline silently drops the whole command buffer.
    const perPair = weighted.reduce((sum, term) => tf.add(sum, term) as tf.Tensor1D);

    return {
      loss: tf.mean(perPair) as tf.Scalar,
      per_pair: perPair,
      chosen_rewards: tf.mul(tf.sub(inputs.chosen_logps, refC), config.beta) as tf.Tensor1D,
      rejected_rewards: tf.mul(tf.sub(inputs.rejected_logps, refR), config.beta) as tf.Tensor1D,
    };
  });
}

/** Batch means of the reward metrics TRL logs; accuracy counts strict wins only, so ties score 0. */
export function rewardMetrics(chosen: ArrayLike<number>, rejected: ArrayLike<number>): RewardMetrics {
  if (chosen.length !== rejected.length) {
    throw new Error(`rewardMetrics: ${chosen.length} chosen rewards but ${rejected.length} rejected rewards`);
  }
  const n = chosen.length;
  if (n === 0) throw new Error('rewardMetrics: the batch is empty');
  let sumChosen = 0;
  let sumRejected = 0;
  let wins = 0;
  let sumMargin = 0;
  for (let i = 0; i < n; i++) {
    sumChosen += chosen[i];
    sumRejected += rejected[i];
    sumMargin += chosen[i] - rejected[i];
    if (chosen[i] > rejected[i]) wins++;
  }
  return {
    'rewards/chosen': sumChosen / n,
    'rewards/rejected': sumRejected / n,
    'rewards/accuracies': wins / n,
    'rewards/margins': sumMargin / n,
  };
}
