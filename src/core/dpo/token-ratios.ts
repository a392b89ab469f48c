import * as tf from '@tensorflow/tfjs';
import { collatePreference } from '../data/collate';
import type { PreferenceBatch, TokenizedPair } from '../data/types';
import type { LoraAdapter } from '../model/types';
import type { DpoModels } from './batch';
import type { DataConfig } from './config';
import { completionIndex, gatherRows, scoreTokensComposed, type CompletionIndex } from './logps';

/** One completion's tokens as the model scores them, under the policy and the reference. */
export interface TokenRatioSide {
  /** The completion tokens the collated row keeps, in order. */
  ids: number[];
  /** log p(token) under the policy and under the reference; their difference is the token's log-ratio. */
  policy: number[];
  reference: number[];
}

/** What DPO changed in one pair, token by token: Σ policy − reference over a side is its reward ÷ β. */
export interface PairTokenRatios {
  line: number;
  chosen: TokenRatioSide;
  rejected: TokenRatioSide;
}

/** Per-token log p of every completion position of the batch [N] under one adapter (null: the base model). */
function tokenLogps(models: DpoModels, batch: PreferenceBatch, index: CompletionIndex, adapter: LoraAdapter | null): tf.Tensor1D {
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.input_ids, [2 * batch.B, batch.T], 'int32');
    const hidden = models.model.hidden(ids, { adapter });
    const flat = tf.reshape(hidden, [-1, hidden.shape[2]]) as tf.Tensor2D;
    const picked = gatherRows(flat, tf.tensor1d(index.positions, 'int32'));
    const scorer = models.scorer ?? scoreTokensComposed;
    return scorer(picked, models.model.headWeight(), tf.tensor1d(index.labels, 'int32'), false).logp;
  });
}

/**
 * The policy's and the reference's log-probability of each completion token of one pair, collated and
 * truncated as training sees it (no gradient). The sums over a side are the sequence log-probs DPO
 * compares; the per-token terms show where the policy moved.
 */
export async function pairTokenRatios(
  models: DpoModels,
  pair: TokenizedPair,
  config: Pick<DataConfig, 'max_length' | 'max_prompt_length' | 'truncation_mode'>,
  padTokenId: number,
): Promise<PairTokenRatios> {
  const batch = collatePreference([pair], {
    max_length: config.max_length,
    max_prompt_length: config.max_prompt_length,
    truncation_mode: config.truncation_mode,
    pad_token_id: padTokenId,
  });
  const index = completionIndex(batch);
  const policy = tokenLogps(models, batch, index, models.policy);
  const reference = tokenLogps(models, batch, index, models.reference);
  const [p, r] = (await Promise.all([policy.data(), reference.data()])) as Float32Array[];
  tf.dispose([policy, reference]);
  const side = (row: number): TokenRatioSide => {
    const at = [...index.rowOf.keys()].filter((k) => index.rowOf[k] === row);
    return { ids: at.map((k) => index.labels[k]), policy: at.map((k) => p[k]), reference: at.map((k) => r[k]) };
  };
  return { line: pair.line, chosen: side(0), rejected: side(1) };
}
