import * as tf from '@tensorflow/tfjs';
import { batchIndices } from '../data/collate';
import { AdamW, clipGradNorm } from '../dpo/optim';
import { learningRateAt, warmupStepsFor } from '../dpo/schedule';
import type { CausalLM, LoraAdapter } from '../model/types';
import { collateSft, sftTokenIndex, type SftBatch } from './batch';
import { validateSftConfig, type SFTConfig } from './config';
import { localGradients, type GradientSource } from './gradients';
import { sftLoss } from './loss';
import type { TokenizedSftExample } from './tokenize';

export interface SftTrainerInit {
  model: CausalLM;
  /**
   * The variables to train, in place: every base weight of a createTrainableCausalLM model (full
   * fine-tuning), or the A and B matrices of `adapter` (LoRA).
   */
  params: tf.Variable[];
  /** The adapter the forward pass applies; null for full fine-tuning. */
  adapter: LoraAdapter | null;
  train: TokenizedSftExample[];
  config: SFTConfig;
  padTokenId: number;
  /** Computes each batch's gradient; localGradients over the fields above when absent. */
  gradients?: GradientSource;
}

/** One log line: Hugging Face Trainer's names, values averaged over the logging interval. */
export interface SftLogEntry {
  step: number;
  epoch: number;
  loss: number;
  grad_norm: number;
  learning_rate: number;
  /** Completion tokens scored in the interval. */
  num_tokens: number;
}

/**
 * Supervised fine-tuning with completion-only loss: shuffled batches each epoch, AdamW (torch's update),
 * gradient clipping and a Hugging Face schedule, one optimizer step per call. The loop's pieces are the
 * DPO trainer's, so the two modes differ only in the loss.
 */
export class SFTTrainer {
  readonly config: SFTConfig;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  globalStep = 0;

  private readonly init: SftTrainerInit;
  private readonly optimizer: AdamW;
  private readonly gradients: GradientSource;
  private epoch = 0;
  private batchInEpoch = 0;
  private epochBatches: number[][];
  private interval = { loss: 0, steps: 0, tokens: 0 };

  constructor(init: SftTrainerInit) {
    const problems = validateSftConfig(init.config);
    if (problems.length > 0) throw new Error(`SFT config:\n  ${problems.join('\n  ')}`);
    if (init.train.length === 0) throw new Error('the SFT training set has no examples');
    if (init.params.length === 0) throw new Error('SFT needs at least one trainable variable');
    const frozen = init.params.filter((p) => !p.trainable);
    if (frozen.length > 0) throw new Error(`SFT params must be trainable; ${frozen.length} are not (e.g. '${frozen[0].name}')`);
    const c = init.config;
    this.init = init;
    this.config = c;
    this.stepsPerEpoch = Math.ceil(init.train.length / c.per_device_train_batch_size);
    this.totalSteps = c.max_steps > 0 ? c.max_steps : Math.ceil(this.stepsPerEpoch * c.num_train_epochs);
    this.warmupSteps = warmupStepsFor(this.totalSteps, c.warmup_ratio, c.warmup_steps);
    this.optimizer = new AdamW(init.params, {
      beta1: c.adam_beta1,
      beta2: c.adam_beta2,
      eps: c.adam_epsilon,
      weight_decay: c.weight_decay,
    });
    this.epochBatches = this.batchesFor(0);
    this.gradients = init.gradients ?? localGradients(init.model, init.params, init.adapter, this.collateOptions);
  }

  private get collateOptions() {
    return { max_length: this.config.max_length, pad_token_id: this.init.padTokenId };
  }

  get done(): boolean {
    return this.globalStep >= this.totalSteps;
  }

  private batchesFor(epoch: number): number[][] {
    return batchIndices(this.init.train.length, this.config.per_device_train_batch_size, this.config.seed, epoch, true);
  }

  private collate(examples: TokenizedSftExample[]): SftBatch {
    return collateSft(examples, this.collateOptions);
  }

  private nextBatch(): TokenizedSftExample[] {
    if (this.batchInEpoch >= this.epochBatches.length) {
      this.epoch++;
      this.batchInEpoch = 0;
      this.epochBatches = this.batchesFor(this.epoch);
    }
    return this.epochBatches[this.batchInEpoch++].map((i) => this.init.train[i]);
  }

  /** One optimizer step; returns the log entry on logging steps (and the last), else null. */
  async step(): Promise<SftLogEntry | null> {
    if (this.done) throw new Error('SFT training is finished');
    const c = this.config;
    const { lossSum, tokens, grads: summed } = await this.gradients(this.nextBatch());
    // The batch loss is the mean over its completion tokens, as TRL's.
    const loss = lossSum / tokens;
    const mean = tf.tidy(() => summed.map((g) => tf.div(g, tokens)));
    tf.dispose(summed);
    try {
      if (!Number.isFinite(loss)) throw new Error(`SFT: non-finite loss ${loss} at step ${this.globalStep + 1}`);
      const { grads: clipped, norm } = await clipGradNorm(mean, c.max_grad_norm);
      try {
        if (!Number.isFinite(norm)) throw new Error(`SFT: non-finite gradient norm at step ${this.globalStep + 1}`);
        this.optimizer.step(
          clipped,
          learningRateAt(this.globalStep, this.totalSteps, this.warmupSteps, c.learning_rate, c.lr_scheduler_type),
        );
      } finally {
        tf.dispose(clipped);
      }
      this.globalStep++;
      this.interval.loss += loss;
      this.interval.steps++;
      this.interval.tokens += tokens;
      if (this.globalStep % c.logging_steps !== 0 && !this.done) return null;
      const entry: SftLogEntry = {
        step: this.globalStep,
        epoch: Math.round((this.globalStep / this.stepsPerEpoch) * 1e4) / 1e4,
        loss: this.interval.loss / this.interval.steps,
        grad_norm: norm,
        learning_rate: learningRateAt(this.globalStep, this.totalSteps, this.warmupSteps, c.learning_rate, c.lr_scheduler_type),
        num_tokens: this.interval.tokens,
      };
      this.interval = { loss: 0, steps: 0, tokens: 0 };
      return entry;
    } finally {
      tf.dispose(mean);
    }
  }

  /** Mean completion-token loss over `examples` (token-weighted), without training. */
  async evaluate(examples: TokenizedSftExample[], batchSize = this.config.per_device_train_batch_size): Promise<number> {
    let total = 0;
    let tokens = 0;
    for (let i = 0; i < examples.length; i += batchSize) {
      const batch = this.collate(examples.slice(i, i + batchSize));
      const index = sftTokenIndex(batch);
      const loss = sftLoss(this.init.model, batch, index, this.init.adapter, { reduction: 'sum' });
      total += (await loss.data())[0];
      tokens += index.labels.length;
      loss.dispose();
    }
    return total / tokens;
  }

  /** Frees the optimizer state; the model and params belong to the caller. */
  dispose(): void {
    this.optimizer.dispose();
  }
}
