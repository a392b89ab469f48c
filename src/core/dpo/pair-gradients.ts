import * as tf from '@tensorflow/tfjs';
import { collatePreference } from '../data/collate';
import type { PreferenceBatch, TokenizedPair } from '../data/types';
import { evaluateBatch, type DpoModels } from './batch';
import type { DataConfig, LossConfig } from './config';
import { completionIndex, sequenceLogps, type CompletionIndex } from './logps';
import { dpoLoss, type LossInputs } from './losses';

/**
 * How hard the loss pulls on one preference pair, and how much of that pull reaches the adapter.
 *
 * The loss of a pair depends on the parameters only through the completion log-probs L_c = log π(chosen)
 * and L_r = log π(rejected) (and, with an `sft` term, the chosen row's plain log-prob P_c), so
 *
 *     ∇θ ℓ = (∂ℓ/∂L_c)·∇θ L_c + (∂ℓ/∂L_r)·∇θ L_r (+ (∂ℓ/∂P_c)·∇θ P_c).
 *
 * The partials come from the engine's own dpoLoss; each ∇θ L comes from a forward and backward pass over
 * that one sequence alone. When chosen and rejected are the same tokens the two sequences are the same
 * computation, so ∇θ L_c and ∇θ L_r are the same numbers; a loss of the difference Δ = u_c − u_r has
 * ∂ℓ/∂L_r = −∂ℓ/∂L_c, and the two terms cancel to an exact zero however steep the loss is there.
 */
export interface PairGradient {
  /** Position of the pair in the list passed in. */
  index: number;
  line: number;
  /** Chosen and rejected completions are the same token ids (a corrupted pair). */
  identical: boolean;
  /** Δ = (L_c − L^ref_c) − (L_r − L^ref_r): how much more the policy than the reference prefers chosen. */
  logRatioDiff: number;
  /** β·Δ: the pair's rewards/margins. */
  margin: number;
  /** The pair's loss under the run's loss type(s). */
  loss: number;
  /** ∂ℓ/∂L_c and ∂ℓ/∂L_r. */
  dLossDChosen: number;
  dLossDRejected: number;
  /**
   * dℓ/dΔ: the rate of change when Δ grows with the two log-probs moving apart symmetrically,
   * (∂ℓ/∂L_c − ∂ℓ/∂L_r)/2. For sigmoid it is −β·σ(−βΔ), so −β/2 at Δ = 0.
   */
  slope: number;
  /** ‖∇θ ℓ‖₂ over every LoRA parameter of the policy. */
  gradNorm: number;
}

/** The loss's partials for one pair: what the composed dpoLoss says, whichever loss the run computes with. */
interface Partials {
  chosen: number;
  rejected: number;
  /** ∂ℓ/∂sft_loss, 0 without an sft term. */
  sft: number;
}

/**
 * Gradients of one pair's loss with respect to the loss inputs that carry a gradient. Every input stays
 * on the tape (times 0), so a loss that ignores one reports a zero partial instead of failing.
 */
function lossPartials(inputs: LossInputs, config: LossConfig): tf.Tensor[] {
  const xs: tf.Tensor[] = [inputs.chosen_logps, inputs.rejected_logps];
  if (inputs.sft_loss) xs.push(inputs.sft_loss);
  const f = (...args: tf.Tensor[]) => {
    const loss = dpoLoss(
      {
        ...inputs,
        chosen_logps: args[0] as tf.Tensor1D,
        rejected_logps: args[1] as tf.Tensor1D,
        sft_loss: args[2] as tf.Scalar | undefined,
      },
      config,
    ).loss;
    const anchor = args.map((a) => tf.sum(a)).reduce((s, a) => tf.add(s, a));
    return tf.add(loss, tf.mul(anchor, 0)) as tf.Scalar;
  };
  return tf.grads(f)(xs);
}

/**
 * One pair's loss, log-ratios and loss partials, through the engine's evaluation path (policyLoss with
 * the run's scorer and loss), with dpoLoss's partials read at the inputs it receives.
 */
async function pairTerms(models: DpoModels, batch: PreferenceBatch, config: LossConfig) {
  let partials: tf.Tensor[] = [];
  const listening: DpoModels = {
    ...models,
    loss: (inputs, cfg) => {
      partials = lossPartials(inputs, cfg).map((t) => tf.keep(t));
      return (models.loss ?? dpoLoss)(inputs, cfg);
    },
  };
  const result = await evaluateBatch(listening, batch, config);
  const values = await Promise.all(partials.map((t) => t.data()));
  tf.dispose(partials);
  const p: Partials = { chosen: values[0][0], rejected: values[1][0], sft: values[2]?.[0] ?? 0 };
  return { result, partials: p };
}

/** Row `row` of a collated batch alone, with the part of the completion index that belongs to it. */
function singleRow(batch: PreferenceBatch, index: CompletionIndex, row: number): { ids: Int32Array; index: CompletionIndex } {
  const T = batch.T;
  const keep: number[] = [];
  for (let k = 0; k < index.positions.length; k++) if (index.rowOf[k] === row) keep.push(k);
  return {
    ids: batch.input_ids.slice(row * T, (row + 1) * T),
    index: {
      rows: 1,
      positions: Int32Array.from(keep, (k) => index.positions[k] - row * T),
      labels: Int32Array.from(keep, (k) => index.labels[k]),
      rowOf: new Int32Array(keep.length),
      weights: Float32Array.from(keep, (k) => index.weights[k]),
      tokenCounts: [index.tokenCounts[row]],
    },
  };
}

/**
 * ∇θ of (coefLogps·L + coefPlain·P) for one sequence, one tensor per parameter (zeros where the
 * sequence does not reach a parameter). Dropout stays off, as in evaluation.
 */
function rowGradient(
  models: DpoModels,
  row: { ids: Int32Array; index: CompletionIndex },
  coefLogps: number,
  coefPlain: number,
  params: tf.Variable[],
): tf.Tensor[] {
  const T = row.ids.length;
  const { grads, value } = tf.variableGrads(() => {
    const ids = tf.tensor2d(row.ids, [1, T], 'int32');
    const hidden = models.model.hidden(ids, { adapter: models.policy });
    const seq = sequenceLogps(hidden, models.model.headWeight(), row.index, { scorer: models.scorer });
    const weighted = tf.mul(tf.sum(seq.logps), coefLogps);
    return (coefPlain === 0 ? weighted : tf.add(weighted, tf.mul(tf.sum(seq.plainLogps), coefPlain))) as tf.Scalar;
  }, params);
  value.dispose();
  return params.map((p) => grads[p.name] ?? tf.zerosLike(p));
}

function sameIds(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Per-pair slope and gradient size of the DPO loss for `pairs` under `models` (the policy must be a LoRA
 * adapter with trainable variables). Each pair is measured on its own, as a batch of one.
 */
export async function pairGradients(
  models: DpoModels,
  pairs: TokenizedPair[],
  config: LossConfig & DataConfig,
  padTokenId: number,
  onPair?: (done: number, total: number) => void,
): Promise<PairGradient[]> {
  const policy = models.policy;
  if (!policy) throw new Error('pairGradients: the policy has no LoRA adapter to take gradients with respect to');
  const params = [...policy.modules.values()].flatMap((m) => [m.A, m.B]);
  const frozen = params.find((p) => !p.trainable);
  if (frozen) throw new Error(`pairGradients: adapter variable ${frozen.name} is not trainable; measure a trainable copy`);
  const out: PairGradient[] = [];
  for (const [i, pair] of pairs.entries()) {
    const batch = collatePreference([pair], {
      max_length: config.max_length,
      max_prompt_length: config.max_prompt_length,
      truncation_mode: config.truncation_mode,
      pad_token_id: padTokenId,
    });
    const { result, partials } = await pairTerms(models, batch, config);
    const index = completionIndex(batch, config.ld_alpha);
    // policyLoss's sft term is −ΣP_c / (chosen tokens): its partial moves to the chosen row's P_c.
    const sftCoef = partials.sft === 0 ? 0 : -partials.sft / Math.max(index.tokenCounts[0], 1);
    const total = tf.tidy(() => {
      const chosen = rowGradient(models, singleRow(batch, index, 0), partials.chosen, sftCoef, params);
      const rejected = rowGradient(models, singleRow(batch, index, 1), partials.rejected, 0, params);
      return chosen.map((g, k) => tf.add(g, rejected[k]));
    });
    const values = await Promise.all(total.map((t) => t.data()));
    tf.dispose(total);
    let squares = 0;
    for (const v of values) for (let k = 0; k < v.length; k++) squares += v[k] * v[k];
    const uC = result.chosenLogps[0] - result.refChosenLogps[0];
    const uR = result.rejectedLogps[0] - result.refRejectedLogps[0];
    out.push({
      index: i,
      line: pair.line,
      identical: sameIds(pair.chosen_ids, pair.rejected_ids),
      logRatioDiff: uC - uR,
      margin: result.chosenRewards[0] - result.rejectedRewards[0],
      loss: result.perPairLoss[0],
      dLossDChosen: partials.chosen,
      dLossDRejected: partials.rejected,
      slope: (partials.chosen - partials.rejected) / 2,
      gradNorm: Math.sqrt(squares),
    });
    onPair?.(i + 1, pairs.length);
  }
  return out;
}
