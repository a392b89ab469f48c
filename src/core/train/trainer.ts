import * as tf from '@tensorflow/tfjs';
import { batchIndices } from '../data/collate';
import type { TrainerConfig } from '../config';
import { Rng } from '../random';
import { MetricWindow } from './metrics';
import { AdamW, clipGradNorm, type AdamWState } from './optim';
import { planSteps, type StepPlan } from './plan';
import { learningRateAt } from './schedule';

/** One line of metrics.jsonl: Hugging Face Trainer's log entry (step, epoch, then the metrics). */
export type LogEntry = { step: number; epoch: number } & Record<string, number>;

/**
 * A non-finite loss or gradient, or an update that would make the weights non-finite (a learning rate
 * or adam_epsilon that overflows them): the run stops before applying it, keeping the last good state.
 */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    readonly what: 'loss' | 'gradient' | 'update',
    /** The step's items as its objective names them: DPO pairs by file line, SFT examples by index. */
    readonly lines: number[],
    items = 'the pairs on lines',
  ) {
    super(
      what === 'update'
        ? `the update at step ${step} would make the weights non-finite (is the learning rate or adam_epsilon out of range?); ` +
            `the batch holds ${items} ${lines.join(', ')}`
        : `non-finite ${what} at step ${step}; the batch holds ${items} ${lines.join(', ')}`,
    );
  }
}

/** What a checkpoint needs to continue a run exactly. */
export interface TrainerState {
  globalStep: number;
  epoch: number;
  /** Micro-batches consumed in the current epoch. */
  microInEpoch: number;
  optimizer: AdamWState;
  /** The trained variables' values in order (for DPO, the LoRA adapter's A and B matrices). */
  adapter: Float32Array[];
  /** The run's random stream (dropout masks). */
  dropoutRng: number;
  /** Metric values of the logging interval in progress. */
  pendingMetrics: Record<string, number[]>;
  /**
   * per_device_train_batch_size when the state was taken (absent in older checkpoints: the same as
   * now). A run may continue with smaller micro-batches (and more accumulation): the position is
   * carried over in pairs, so each optimizer step still sees the same pairs.
   */
  trainBatchSize?: number;
  /**
   * Tokens of every micro-batch trained on so far (MicroBatch.tokens), logged as num_tokens by
   * objectives that count them; absent in older checkpoints, whose runs then log no num_tokens.
   */
  tokensSeen?: number;
}

export type { TrainerConfig };

export interface MicroBatchContext {
  /** The optimizer step being computed, 1-based. */
  step: number;
  /** Micro-batches in this step: gradient_accumulation_steps, or what is left at the end of an epoch. */
  microBatches: number;
  /** The run's random stream; it is part of the trainer state, so a resumed run draws the same numbers. */
  rng: Rng;
}

/** What an objective computes for one micro-batch. */
export interface MicroBatch {
  /** The micro-batch's loss; a non-finite one stops the run before the update. */
  loss: number;
  /** Gradients, one per trained variable in order: the trainer sums them over the step and frees them. */
  grads: tf.Tensor[];
  /** Tokens counted for the log (DPO: the forward pass's, for throughput; SFT: the completion tokens scored). */
  tokens: number;
  /** How an error names the micro-batch's items (see NonFiniteError.lines). */
  ids: number[];
}

/**
 * What a training mode adds to the loop: the loss and gradients of a micro-batch, and what a step
 * logs. Everything else (batching, accumulation, clipping, AdamW, schedule, logging, state) is the
 * Trainer's.
 */
export interface Objective<E, B extends MicroBatch = MicroBatch> {
  microBatch(examples: E[], ctx: MicroBatchContext): Promise<B>;
  /** The step's gradient from the sum of its micro-batches' gradients (new tensors); absent: the sum itself. */
  stepGradients?(summed: tf.Tensor[], batches: B[]): tf.Tensor[];
  /** The entries a finished step adds to the logging window, in order. */
  stepMetrics(batches: B[], seconds: number): Record<string, number>[];
  /** Metrics summed over a logging interval rather than averaged. */
  readonly totals?: readonly string[];
  /** Whether log entries carry num_tokens: the tokens of every micro-batch so far (TRL's cumulative count). */
  readonly logsTokensSeen?: boolean;
  /** How NonFiniteError introduces the ids, e.g. 'the pairs on lines'. */
  readonly items: string;
}

/** Training examples by position, read when a micro-batch asks for them (a file too large to hold). */
export interface ExampleSource<E> {
  readonly length: number;
  get(positions: readonly number[]): Promise<E[]>;
}

export interface TrainerCoreInit<E, B extends MicroBatch, C extends TrainerConfig> {
  objective: Objective<E, B>;
  /** The variables AdamW updates, in place. */
  params: tf.Variable[];
  /** The examples, held in memory or read on demand. */
  train: E[] | ExampleSource<E>;
  config: C;
  /** Whether the run has an eval set: evalDue is never true without one. */
  evaluates?: boolean;
}

interface Position {
  epoch: number;
  microInEpoch: number;
  epochBatches: number[][];
  rng: number;
}

/**
 * The one training loop, Hugging Face Trainer's, driven one optimizer step at a time so the CLI, the
 * worker and tests share it: seeded shuffles per epoch, gradient accumulation over micro-batches (the
 * last step of an epoch takes what is left), clipping, AdamW on `params` with the learning-rate
 * schedule, logging-interval averages, a stop on non-finite numbers, and snapshots to resume from.
 */
export class Trainer<E, B extends MicroBatch = MicroBatch, C extends TrainerConfig = TrainerConfig> {
  readonly config: C;
  readonly plan: StepPlan;
  /** Optimizer steps taken. */
  globalStep = 0;

  private readonly objective: Objective<E, B>;
  private readonly params: tf.Variable[];
  /** The training examples, held in memory or read on demand. */
  protected readonly train: ExampleSource<E>;
  private readonly evaluates: boolean;
  private readonly optimizer: AdamW;
  private readonly window: MetricWindow;
  private epoch = 0;
  private microInEpoch = 0;
  private epochBatches: number[][];
  private rng: Rng;
  private lastGradNorm = 0;
  /** Σ MicroBatch.tokens over every step taken; null when restored from a state that did not count them. */
  protected tokensSeen: number | null = 0;

  constructor(init: TrainerCoreInit<E, B, C>) {
    const c = init.config;
    if (init.train.length === 0) throw new Error('the training set is empty');
    this.config = c;
    this.objective = init.objective;
    this.params = init.params;
    const examples = init.train;
    this.train = Array.isArray(examples) ? { length: examples.length, get: async (at) => at.map((i) => examples[i]) } : examples;
    this.evaluates = init.evaluates ?? false;
    this.plan = planSteps({
      examples: init.train.length,
      per_device_train_batch_size: c.per_device_train_batch_size,
      gradient_accumulation_steps: c.gradient_accumulation_steps,
      max_steps: c.max_steps,
      num_train_epochs: c.num_train_epochs,
      warmup_ratio: c.warmup_ratio,
      warmup_steps: c.warmup_steps,
    });
    this.optimizer = new AdamW(init.params, {
      beta1: c.adam_beta1,
      beta2: c.adam_beta2,
      eps: c.adam_epsilon,
      weight_decay: c.weight_decay,
    });
    this.window = new MetricWindow(init.objective.totals);
    this.rng = new Rng(c.seed ^ 0x5eed);
    this.epochBatches = this.batchesFor(0);
  }

  get stepsPerEpoch(): number {
    return this.plan.stepsPerEpoch;
  }

  get totalSteps(): number {
    return this.plan.totalSteps;
  }

  get warmupSteps(): number {
    return this.plan.warmupSteps;
  }

  get done(): boolean {
    return this.globalStep >= this.plan.totalSteps;
  }

  get epochFloat(): number {
    return this.globalStep / this.plan.stepsPerEpoch;
  }

  /** The epoch as log entries carry it: rounded to 4 decimals, as Hugging Face's Trainer does. */
  get loggedEpoch(): number {
    return Math.round(this.epochFloat * 1e4) / 1e4;
  }

  /** Whether an eval should run after the current step: every eval_steps steps, and after the last. */
  get evalDue(): boolean {
    if (!this.evaluates) return false;
    const every = this.config.eval_steps ?? null;
    return this.done || (every !== null && every > 0 && this.globalStep % every === 0);
  }

  /** The rate the schedule gives after `step` updates (update k runs at rateAt(k − 1)). */
  private rateAt(step: number): number {
    const c = this.config;
    return learningRateAt(step, this.plan.totalSteps, this.plan.warmupSteps, c.learning_rate, c.lr_scheduler_type);
  }

  private batchesFor(epoch: number): number[][] {
    return batchIndices(this.train.length, this.config.per_device_train_batch_size, this.config.seed, epoch, true);
  }

  private nextMicroBatch(): Promise<E[]> {
    if (this.microInEpoch >= this.epochBatches.length) {
      this.epoch++;
      this.microInEpoch = 0;
      this.epochBatches = this.batchesFor(this.epoch);
    }
    return this.train.get(this.epochBatches[this.microInEpoch++]);
  }

  /** Micro-batches left in the epoch, so the last optimizer step of an epoch may take fewer. */
  private microBatchesThisStep(): number {
    const left = this.epochBatches.length - this.microInEpoch;
    const k = this.config.gradient_accumulation_steps;
    return left <= 0 ? k : Math.min(left, k);
  }

  private position(): Position {
    return { epoch: this.epoch, microInEpoch: this.microInEpoch, epochBatches: this.epochBatches, rng: this.rng.getState() };
  }

  private moveTo(p: Position): void {
    this.epoch = p.epoch;
    this.microInEpoch = p.microInEpoch;
    this.epochBatches = p.epochBatches;
    this.rng = Rng.fromState(p.rng);
  }

  /**
   * One optimizer step: the micro-batches' gradients summed, clipped, and applied by AdamW at the
   * scheduled rate. Returns the log entry on logging steps (every logging_steps, and the last), else
   * null. A step that throws applies nothing and leaves the trainer where it was before the step.
   */
  async step(): Promise<LogEntry | null> {
    if (this.done) throw new Error('training is finished');
    const c = this.config;
    const started = performance.now();
    const before = this.position();
    const micro = this.microBatchesThisStep();
    const ids: number[] = [];
    const batches: B[] = [];
    let summed: tf.Tensor[] | null = null;
    let stepGrads: tf.Tensor[] | null = null;
    try {
      for (let k = 0; k < micro; k++) {
        const b = await this.objective.microBatch(await this.nextMicroBatch(), {
          step: this.globalStep + 1,
          microBatches: micro,
          rng: this.rng,
        });
        ids.push(...b.ids);
        if (summed === null) summed = b.grads;
        else {
          const next: tf.Tensor[] = summed.map((s, i) => tf.add(s, b.grads[i]));
          tf.dispose([...summed, ...b.grads]);
          summed = next;
        }
        if (!Number.isFinite(b.loss)) throw new NonFiniteError(this.globalStep + 1, 'loss', ids, this.objective.items);
        batches.push(b);
      }
      stepGrads = this.objective.stepGradients?.(summed!, batches) ?? summed!;
      const { grads: clipped, norm } = await clipGradNorm(stepGrads, c.max_grad_norm);
      try {
        if (!Number.isFinite(norm)) throw new NonFiniteError(this.globalStep + 1, 'gradient', ids, this.objective.items);
        const applied = await this.optimizer.step(clipped, this.rateAt(this.globalStep));
        if (!applied) throw new NonFiniteError(this.globalStep + 1, 'update', ids, this.objective.items);
      } finally {
        tf.dispose(clipped);
      }
      this.lastGradNorm = norm;
    } catch (e) {
      this.moveTo(before);
      throw e;
    } finally {
      if (stepGrads && stepGrads !== summed) tf.dispose(stepGrads);
      if (summed) tf.dispose(summed);
    }
    this.globalStep++;
    if (this.tokensSeen !== null) this.tokensSeen += batches.reduce((sum, b) => sum + b.tokens, 0);
    const seconds = (performance.now() - started) / 1000;
    for (const entry of this.objective.stepMetrics(batches, seconds)) this.window.add(entry);
    if (this.globalStep % c.logging_steps !== 0 && !this.done) return null;
    return {
      step: this.globalStep,
      epoch: this.loggedEpoch,
      ...this.window.drain(),
      ...(this.objective.logsTokensSeen && this.tokensSeen !== null ? { num_tokens: this.tokensSeen } : {}),
      grad_norm: this.lastGradNorm,
      // Hugging Face logs the rate the scheduler holds after this step, i.e. the next step's.
      learning_rate: this.rateAt(this.globalStep),
    };
  }

  /**
   * A snapshot that `restore` turns back into this exact trainer position. Throws rather than return
   * weights or optimizer moments that are not finite, so no checkpoint can hold them.
   */
  async getState(): Promise<TrainerState> {
    const optimizer = await this.optimizer.getState();
    const adapter = (await Promise.all(this.params.map((p) => p.data()))) as Float32Array[];
    for (const [what, arrays] of [
      ['weights', adapter],
      ["optimizer's first moments", optimizer.m],
      ["optimizer's second moments", optimizer.v],
    ] as const) {
      arrays.forEach((values, i) => {
        if (!values.every(Number.isFinite)) {
          throw new Error(`the trained ${what} of variable ${i} (${this.params[i].name}) are not finite: no checkpoint is taken of them`);
        }
      });
    }
    return {
      globalStep: this.globalStep,
      epoch: this.epoch,
      microInEpoch: this.microInEpoch,
      optimizer,
      adapter,
      dropoutRng: this.rng.getState(),
      pendingMetrics: structuredClone(this.window.values),
      trainBatchSize: this.config.per_device_train_batch_size,
      ...(this.tokensSeen !== null ? { tokensSeen: this.tokensSeen } : {}),
    };
  }

  restore(state: TrainerState): void {
    const epochBatches = this.batchesFor(state.epoch);
    const microInEpoch = this.microBatchesOf(state, epochBatches.length);
    this.globalStep = state.globalStep;
    this.moveTo({
      epoch: state.epoch,
      microInEpoch,
      epochBatches,
      rng: state.dropoutRng,
    });
    this.optimizer.setState(state.optimizer);
    tf.tidy(() => this.params.forEach((p, i) => p.assign(tf.tensor(state.adapter[i], p.shape))));
    this.window.values = structuredClone(state.pendingMetrics);
    this.tokensSeen = state.tokensSeen ?? null;
  }

  /** The state's position in the epoch in this trainer's micro-batches (see TrainerState.trainBatchSize). */
  private microBatchesOf(state: TrainerState, inEpoch: number): number {
    const before = state.trainBatchSize ?? this.config.per_device_train_batch_size;
    const now = this.config.per_device_train_batch_size;
    if (before === now) return state.microInEpoch;
    const pairs = state.microInEpoch * before;
    if (pairs >= this.train.length) return inEpoch;
    if (pairs % now !== 0) {
      throw new Error(
        `this checkpoint stopped after ${pairs} pairs of its epoch, which per_device_train_batch_size ${now} does not divide; ` +
          `continue with a batch size that divides ${before}`,
      );
    }
    return pairs / now;
  }

  /** Frees the optimizer state; the model and the trained variables belong to the caller. */
  dispose(): void {
    this.optimizer.dispose();
  }
}
