import * as tf from '@tensorflow/tfjs';
import type { CausalLM, LoraAdapter } from '../model/types';
import { Trainer, type MicroBatch, type Objective } from '../train/trainer';
import { collateSft, sftTokenIndex } from './batch';
import { validateSftConfig, type SFTConfig } from './config';
import { localGradients, type GradientSource } from './gradients';
import { sftLoss } from './loss';
import type { TokenizedSftExample } from './tokenize';

export interface SftTrainerInit {
  model: CausalLM;
  /**
   * The variables to train, in place: every base weight of a trainable model (full fine-tuning), or the
   * A and B matrices of `adapter` (LoRA).
   */
  params: tf.Variable[];
  /** The adapter the forward pass applies; null for full fine-tuning. */
  adapter: LoraAdapter | null;
  train: TokenizedSftExample[];
  config: SFTConfig;
  padTokenId: number;
  /** Computes each micro-batch's gradient; localGradients over the fields above when absent. */
  gradients?: GradientSource;
}

/** One log line: Hugging Face Trainer's names, values over the logging interval. */
export type SftLogEntry = {
  step: number;
  epoch: number;
  /** Mean of the steps' losses. */
  loss: number;
  grad_norm: number;
  learning_rate: number;
  /** Completion tokens scored in the interval. */
  num_tokens: number;
};

interface SftMicroBatch extends MicroBatch {
  /** Σ −log p over the micro-batch's completion tokens. */
  lossSum: number;
}

/**
 * Completion-only next-token loss as TRL computes it with gradient accumulation: the step's loss is the
 * mean over every completion token of its micro-batches (transformers' num_items_in_batch), so
 * accumulating k micro-batches takes the step one batch of all their examples would.
 */
function sftObjective(gradients: GradientSource): Objective<TokenizedSftExample, SftMicroBatch> {
  const stepTokens = (batches: SftMicroBatch[]) => batches.reduce((n, b) => n + b.tokens, 0);
  return {
    items: 'the examples',
    totals: ['num_tokens'],
    async microBatch(examples) {
      const { lossSum, tokens, grads } = await gradients(examples);
      return { loss: lossSum / tokens, lossSum, grads, tokens, ids: examples.map((e) => e.index) };
    },
    stepGradients(summed, batches) {
      const tokens = stepTokens(batches);
      return tf.tidy(() => summed.map((g) => tf.div(g, tokens)));
    },
    stepMetrics(batches) {
      const tokens = stepTokens(batches);
      return [{ loss: batches.reduce((s, b) => s + b.lossSum, 0) / tokens, num_tokens: tokens }];
    },
  };
}

/**
 * Supervised fine-tuning with completion-only loss: the shared training loop (shuffled micro-batches,
 * accumulation, clipping, AdamW, schedule, state) over the next-token loss, one optimizer step per call.
 */
export class SFTTrainer extends Trainer<TokenizedSftExample, SftMicroBatch, SFTConfig> {
  private readonly init: SftTrainerInit;

  constructor(init: SftTrainerInit) {
    const problems = validateSftConfig(init.config);
    if (problems.length > 0) throw new Error(`SFT config:\n  ${problems.join('\n  ')}`);
    if (init.train.length === 0) throw new Error('the SFT training set has no examples');
    if (init.params.length === 0) throw new Error('SFT needs at least one trainable variable');
    const frozen = init.params.filter((p) => !p.trainable);
    if (frozen.length > 0) throw new Error(`SFT params must be trainable; ${frozen.length} are not (e.g. '${frozen[0].name}')`);
    const config = init.config;
    const collate = { max_length: config.max_length, pad_token_id: init.padTokenId };
    const gradients = init.gradients ?? localGradients(init.model, init.params, init.adapter, collate);
    super({ objective: sftObjective(gradients), params: init.params, train: init.train, config });
    this.init = init;
  }

  /** One optimizer step; returns the log entry on logging steps (and the last), else null. */
  override async step(): Promise<SftLogEntry | null> {
    const e = await super.step();
    if (!e) return null;
    return { step: e.step, epoch: e.epoch, loss: e.loss, grad_norm: e.grad_norm, learning_rate: e.learning_rate, num_tokens: e.num_tokens };
  }

  /** Mean completion-token loss over `examples` (token-weighted), without training. */
  async evaluate(examples: TokenizedSftExample[], batchSize = this.config.per_device_train_batch_size): Promise<number> {
    let total = 0;
    let tokens = 0;
    for (let i = 0; i < examples.length; i += batchSize) {
      const batch = collateSft(examples.slice(i, i + batchSize), {
        max_length: this.config.max_length,
        pad_token_id: this.init.padTokenId,
      });
      const index = sftTokenIndex(batch);
      const loss = sftLoss(this.init.model, batch, index, this.init.adapter, { reduction: 'sum' });
      total += (await loss.data())[0];
      tokens += index.labels.length;
      loss.dispose();
    }
    return total / tokens;
  }
}
