import { collatePreference } from '../data/collate';
import type { TokenizedPair } from '../data/types';
import { MetricWindow } from '../train/metrics';
import { batchMetrics, evaluateBatch, type DpoModels } from './batch';
import type { DataConfig, LossConfig, TrainConfig } from './config';

/** One pair's numbers under the policy and the reference. */
export interface ScoredPair {
  pair: TokenizedPair;
  chosenLogps: number;
  rejectedLogps: number;
  refChosenLogps: number;
  refRejectedLogps: number;
  loss: number;
  chosenReward: number;
  rejectedReward: number;
}

export interface PairsEvaluation {
  /** One per pair, in the order given. */
  pairs: ScoredPair[];
  /** TRL's metric names, unprefixed. */
  metrics: Record<string, number>;
}

export interface EvaluatePairsOptions {
  /** Reference log-probs of a batch's pairs (chosen rows, then rejected), when known; else the reference runs. */
  referenceLogps?: (pairs: TokenizedPair[]) => Float32Array | undefined;
  onBatch?: (done: number, total: number) => void;
  /**
   * Tokens trained on so far, reported as num_tokens as TRL's evaluate does (0 before any training);
   * absent: the count is unknown and num_tokens is left out.
   */
  trainTokens?: number;
}

/**
 * Scores pairs in batches of per_device_eval_batch_size, without gradients, and aggregates as
 * Trainer.evaluate with TRL's metrics does: the loss is the mean over pairs (Trainer weighs each batch's
 * mean loss by its size), every other metric the mean of its per-batch values.
 */
export async function evaluatePairs(
  models: DpoModels,
  pairs: TokenizedPair[],
  config: LossConfig & DataConfig & Pick<TrainConfig, 'per_device_eval_batch_size'>,
  padTokenId: number,
  options: EvaluatePairsOptions = {},
): Promise<PairsEvaluation> {
  if (pairs.length === 0) throw new Error('there are no pairs to evaluate');
  const window = new MetricWindow();
  const scored: ScoredPair[] = [];
  const bs = config.per_device_eval_batch_size;
  let lossSum = 0;
  for (let i = 0; i < pairs.length; i += bs) {
    const part = pairs.slice(i, i + bs);
    const batch = collatePreference(part, {
      max_length: config.max_length,
      max_prompt_length: config.max_prompt_length,
      truncation_mode: config.truncation_mode,
      pad_token_id: padTokenId,
    });
    const r = await evaluateBatch(models, batch, config, options.referenceLogps?.(part));
    part.forEach((pair, j) =>
      scored.push({
        pair,
        chosenLogps: r.chosenLogps[j],
        rejectedLogps: r.rejectedLogps[j],
        refChosenLogps: r.refChosenLogps[j],
        refRejectedLogps: r.refRejectedLogps[j],
        loss: r.perPairLoss[j],
        chosenReward: r.chosenRewards[j],
        rejectedReward: r.rejectedRewards[j],
      }),
    );
    window.add(batchMetrics(r));
    lossSum += r.loss * part.length;
    options.onBatch?.(i + part.length, pairs.length);
  }
  const metrics = window.drain();
  metrics.loss = lossSum / pairs.length;
  if (options.trainTokens !== undefined) metrics.num_tokens = options.trainTokens;
  return { pairs: scored, metrics };
}
