import * as tf from '@tensorflow/tfjs';
import { gatherRows, scoreTokensComposed, type TokenScorer } from '../dpo/logps';
import type { CausalLM, LoraAdapter } from '../model/types';
import type { SftBatch, SftTokenIndex } from './batch';

export interface SftLossOptions {
  /** 'mean' (default) over the batch's completion tokens, as TRL; 'sum' lets shards of a batch add up. */
  reduction?: 'mean' | 'sum';
  scorer?: TokenScorer;
}

/**
 * Next-token cross-entropy on completion tokens only, averaged over all of them in the batch, as TRL's
 * SFTTrainer with completion_only_loss: prompt and padding positions are never sent through the LM
 * head, so they can add nothing to the loss or its gradient. Returns a scalar.
 */
export function sftLoss(
  model: CausalLM,
  batch: SftBatch,
  index: SftTokenIndex,
  adapter: LoraAdapter | null,
  options: SftLossOptions = {},
): tf.Scalar {
  const scorer = options.scorer ?? scoreTokensComposed;
  if (index.labels.length === 0) throw new Error('SFT batch has no completion tokens to score (all were truncated away?)');
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.input_ids, [batch.rows, batch.T], 'int32');
    const hidden = model.hidden(ids, { adapter });
    const flat = tf.reshape(hidden, [-1, model.config.hidden_size]) as tf.Tensor2D;
    const picked = gatherRows(flat, tf.tensor1d(index.positions, 'int32'));
    const { logp } = scorer(picked, model.headWeight(), tf.tensor1d(index.labels, 'int32'), false);
    return tf.neg(options.reduction === 'sum' ? tf.sum(logp) : tf.mean(logp)) as tf.Scalar;
  });
}
