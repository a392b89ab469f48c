import * as tf from '@tensorflow/tfjs';
import { batchIndices, collatePreference } from '../data/collate';
import type { PreferenceBatch, TokenizedPair } from '../data/types';
import { Rng } from '../random';
import { batchMetrics, evaluateBatch, policyLoss, readBatchResult, referenceLogps, type BatchResult, type DpoModels } from './batch';
import type { DPOConfig } from './config';
import { completionIndex } from './logps';
import { AdamW, clipGradNorm } from './optim';
import { learningRateAt, warmupStepsFor } from './schedule';

/** One line of metrics.jsonl: Hugging Face Trainer's log entry with TRL's metric names. */
export type LogEntry = { step: number; epoch: number } & Record<string, number>;

/** A non-finite loss or gradient: the run stops before applying the update, keeping the last good state. */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    readonly what: 'loss' | 'gradient',
    readonly lines: number[],
  ) {
    super(`non-finite ${what} at step ${step}; the batch holds the pairs on lines ${lines.join(', ')}`);
  }
}

/** What a checkpoint needs to continue a run exactly. */
export interface TrainerState {
  globalStep: number;
  /** Micro-batches consumed in the current epoch. */
  epoch: number;
  microInEpoch: number;
  optimizer: { step: number; m: Float32Array[]; v: Float32Array[] };
  adapter: Float32Array[];
  dropoutRng: number;
  pendingMetrics: Record<string, number[]>;
}

export interface TrainerInit {
  models: DpoModels;
  train: TokenizedPair[];
  eval?: TokenizedPair[];
  config: DPOConfig;
  padTokenId: number;
}

/** Averages metric values over a logging interval, as TRL does (mean of per-batch values). */
class MetricWindow {
  values: Record<string, number[]> = {};

  add(metrics: Record<string, number>) {
    for (const [k, v] of Object.entries(metrics)) (this.values[k] ??= []).push(v);
  }

  drain(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, vs] of Object.entries(this.values)) out[k] = vs.reduce((a, b) => a + b, 0) / vs.length;
    this.values = {};
    return out;
  }
}

/**
 * DPO training of a LoRA adapter: TRL's DPOTrainer loop (AdamW on the adapter only, schedule with warmup,
 * gradient accumulation, clipping, logging-interval averages) driven one optimizer step at a time, so
 * the CLI, the worker and tests share it.
 */
export class DPOTrainer {
  readonly config: DPOConfig;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  globalStep = 0;

  private readonly models: DpoModels;
  private readonly train: TokenizedPair[];
  private readonly evalPairs: TokenizedPair[];
  private readonly padTokenId: number;
  private readonly params: tf.Variable[];
  private readonly optimizer: AdamW;
  private readonly window = new MetricWindow();
  private epoch = 0;
  private microInEpoch = 0;
  private epochBatches: number[][] = [];
  private dropoutRng: Rng;
  private refCache: Map<number, [number, number]> | null = null;
  private lastGradNorm = 0;

  constructor(init: TrainerInit) {
    const c = init.config;
    if (init.train.length === 0) throw new Error('the training set has no pairs');
    this.config = c;
    this.models = init.models;
    this.train = init.train;
    this.evalPairs = init.eval ?? [];
    this.padTokenId = init.padTokenId;
    const microPerEpoch = Math.ceil(this.train.length / c.per_device_train_batch_size);
    this.stepsPerEpoch = Math.max(1, Math.ceil(microPerEpoch / c.gradient_accumulation_steps));
    this.totalSteps = c.max_steps > 0 ? c.max_steps : Math.ceil(this.stepsPerEpoch * c.num_train_epochs);
    this.warmupSteps = warmupStepsFor(this.totalSteps, c.warmup_ratio, c.warmup_steps);
    if (!init.models.policy) throw new Error('training needs a LoRA adapter on the policy');
    this.params = [...init.models.policy.modules.values()].flatMap((m) => [m.A, m.B]);
    this.optimizer = new AdamW(this.params, {
      beta1: c.adam_beta1,
      beta2: c.adam_beta2,
      eps: c.adam_epsilon,
      weight_decay: c.weight_decay,
    });
    this.dropoutRng = new Rng(c.seed ^ 0x5eed);
    this.epochBatches = this.batchesFor(0);
  }

  get done(): boolean {
    return this.globalStep >= this.totalSteps;
  }

  get epochFloat(): number {
    return this.globalStep / this.stepsPerEpoch;
  }

  private batchesFor(epoch: number): number[][] {
    return batchIndices(this.train.length, this.config.per_device_train_batch_size, this.config.seed, epoch, true);
  }

  private collate(pairs: TokenizedPair[]): PreferenceBatch {
    return collatePreference(pairs, {
      max_length: this.config.max_length,
      max_prompt_length: this.config.max_prompt_length,
      truncation_mode: this.config.truncation_mode,
      pad_token_id: this.padTokenId,
    });
  }

  /**
   * One reference pass over the training (and eval) pairs, in order, kept per pair: TRL's
   * precompute_ref_log_probs. Later steps read the cache instead of running the reference.
   */
  async precomputeReference(onProgress?: (done: number, total: number) => void): Promise<void> {
    const cache = new Map<number, [number, number]>();
    const all = [...this.train.map((p) => ['t', p] as const), ...this.evalPairs.map((p) => ['e', p] as const)];
    const bs = this.config.per_device_eval_batch_size;
    for (let i = 0; i < all.length; i += bs) {
      const chunk = all.slice(i, i + bs);
      const batch = this.collate(chunk.map(([, p]) => p));
      const ref = await referenceLogps(this.models, batch, completionIndex(batch, this.config.ld_alpha));
      chunk.forEach(([kind, p], j) => cache.set(this.cacheKey(kind, p), [ref[j], ref[j + batch.B]]));
      onProgress?.(Math.min(i + bs, all.length), all.length);
    }
    this.refCache = cache;
  }

  private cacheKey(kind: 't' | 'e', p: TokenizedPair): number {
    return kind === 't' ? p.index : -1 - p.index;
  }

  private cachedRef(kind: 't' | 'e', pairs: TokenizedPair[]): Float32Array | undefined {
    if (!this.refCache) return undefined;
    const out = new Float32Array(2 * pairs.length);
    pairs.forEach((p, j) => {
      const [c, r] = this.refCache!.get(this.cacheKey(kind, p))!;
      out[j] = c;
      out[j + pairs.length] = r;
    });
    return out;
  }

  private nextMicroBatch(): TokenizedPair[] {
    if (this.microInEpoch >= this.epochBatches.length) {
      this.epoch++;
      this.microInEpoch = 0;
      this.epochBatches = this.batchesFor(this.epoch);
    }
    return this.epochBatches[this.microInEpoch++].map((i) => this.train[i]);
  }

  /** Micro-batches left in the epoch, so the last optimizer step of an epoch may take fewer. */
  private microBatchesThisStep(): number {
    const left = this.epochBatches.length - this.microInEpoch;
    return left <= 0 ? this.config.gradient_accumulation_steps : Math.min(left, this.config.gradient_accumulation_steps);
  }

  /**
   * One optimizer step: gradient accumulation over micro-batches, clipping, AdamW, schedule.
   * Returns the log entry when this step is a logging step (or the last), else null.
   */
  async step(): Promise<LogEntry | null> {
    if (this.done) throw new Error('training is finished');
    const c = this.config;
    const started = performance.now();
    const micro = this.microBatchesThisStep();
    let summed: tf.Tensor[] | null = null;
    let tokens = 0;
    const lines: number[] = [];
    const results: BatchResult[] = [];
    try {
      for (let k = 0; k < micro; k++) {
        const pairs = this.nextMicroBatch();
        lines.push(...pairs.map((p) => p.line));
        const batch = this.collate(pairs);
        const index = completionIndex(batch, c.ld_alpha);
        const ref = this.cachedRef('t', pairs) ?? (await referenceLogps(this.models, batch, index));
        let kept: Parameters<typeof readBatchResult>[1] | undefined;
        const dropout = { on: !c.disable_dropout, seed: this.dropoutRng.int(2 ** 31) };
        const { value, grads } = tf.variableGrads(
          () =>
            tf.div(
              policyLoss(this.models, batch, index, ref, c, (x) => (kept = x), dropout),
              micro,
            ) as tf.Scalar,
          this.params,
        );
        const lossValue = (await value.data())[0] * micro;
        value.dispose();
        const ordered = this.params.map((p) => grads[p.name]);
        if (summed === null) summed = ordered;
        else {
          const next: tf.Tensor[] = summed.map((s, i) => tf.add(s, ordered[i]));
          tf.dispose([...summed, ...ordered]);
          summed = next;
        }
        const result = await readBatchResult(lossValue, kept!, batch, index, ref);
        if (!Number.isFinite(lossValue)) throw new NonFiniteError(this.globalStep + 1, 'loss', lines);
        results.push(result);
        tokens += result.numTokens;
      }
      const { grads: clipped, norm } = await clipGradNorm(summed!, c.max_grad_norm);
      if (!Number.isFinite(norm)) {
        tf.dispose(clipped);
        throw new NonFiniteError(this.globalStep + 1, 'gradient', lines);
      }
      const lr = learningRateAt(this.globalStep, this.totalSteps, this.warmupSteps, c.learning_rate, c.lr_scheduler_type);
      this.optimizer.step(clipped, lr);
      tf.dispose(clipped);
      this.lastGradNorm = norm;
    } finally {
      if (summed) tf.dispose(summed);
    }
    this.globalStep++;
    const seconds = (performance.now() - started) / 1000;
    for (const r of results) this.window.add(batchMetrics(r));
    this.window.add({ tokens_per_second: tokens / seconds });
    const isLog = this.globalStep % c.logging_steps === 0 || this.done;
    if (!isLog) return null;
    return {
      step: this.globalStep,
      epoch: round(this.epochFloat),
      ...this.window.drain(),
      grad_norm: this.lastGradNorm,
      // Hugging Face logs the rate the scheduler holds after this step, i.e. the next step's.
      learning_rate: learningRateAt(this.globalStep, this.totalSteps, this.warmupSteps, c.learning_rate, c.lr_scheduler_type),
    };
  }

  /** Whether an eval should run after the current step. */
  get evalDue(): boolean {
    if (this.evalPairs.length === 0) return false;
    const every = this.config.eval_steps;
    return this.done || (every !== null && every > 0 && this.globalStep % every === 0);
  }

  /** Eval metrics over the held-out pairs, eval_-prefixed (batch means averaged, as TRL). */
  async evaluate(): Promise<LogEntry> {
    const window = new MetricWindow();
    const bs = this.config.per_device_eval_batch_size;
    let lossSum = 0;
    for (let i = 0; i < this.evalPairs.length; i += bs) {
      const pairs = this.evalPairs.slice(i, i + bs);
      const r = await evaluateBatch(this.models, this.collate(pairs), this.config, this.cachedRef('e', pairs));
      window.add(batchMetrics(r));
      lossSum += r.loss * pairs.length;
    }
    const metrics = window.drain();
    // Trainer's eval loss is a mean over samples; TRL's other metrics are means of batch values.
    metrics.loss = lossSum / this.evalPairs.length;
    const out: LogEntry = { step: this.globalStep, epoch: round(this.epochFloat) };
    for (const [k, v] of Object.entries(metrics)) out[`eval_${k}`] = v;
    return out;
  }

  /** A snapshot that `restore` turns back into this exact trainer position. */
  async getState(): Promise<TrainerState> {
    return {
      globalStep: this.globalStep,
      epoch: this.epoch,
      microInEpoch: this.microInEpoch,
      optimizer: await this.optimizer.getState(),
      adapter: (await Promise.all(this.params.map((p) => p.data()))) as Float32Array[],
      dropoutRng: this.dropoutRng.getState(),
      pendingMetrics: structuredClone(this.window.values),
    };
  }

  restore(state: TrainerState): void {
    this.globalStep = state.globalStep;
    this.epoch = state.epoch;
    this.microInEpoch = state.microInEpoch;
    this.epochBatches = this.batchesFor(state.epoch);
    this.optimizer.setState(state.optimizer);
    tf.tidy(() => this.params.forEach((p, i) => p.assign(tf.tensor(state.adapter[i], p.shape))));
    this.dropoutRng = Rng.fromState(state.dropoutRng);
    this.window.values = structuredClone(state.pendingMetrics);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
