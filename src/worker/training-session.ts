import type { PairSource } from '../core/data/pair-source';
import type { TokenizedPair } from '../core/data/types';
import type { DpoModels } from '../core/dpo/batch';
import { DPOTrainer, NonFiniteError, type LogEntry } from '../core/dpo/trainer';
import { cloneAdapterFrozen, createLoraAdapter, disposeAdapter } from '../core/model/lora';
import type { LoraAdapter } from '../core/model/types';
import { kernelsFor } from '../core/kernels';
import { GpuFailure, stepFlops, stepTimeoutMs } from '../core/gpu';
import { tensorMemoryMeter } from '../core/train/memory-meter';
import * as tf from '@tensorflow/tfjs';
import { gpu, watchdogSettings } from './backend';
import type { ModelSession } from './model-session';
import { loadCheckpoint, recordProgress, storeCheckpoint } from './persist';
import type { RunSpec, StreamEvent, Task, TrainState } from './protocol';
import { cloneAdapterTrainable } from './model-session';
import { splitForRun, type TrainingPairs } from './dataset-session';

type Emit = (event: StreamEvent) => void;
type Progress = (task: Task, label: string, fraction: number | null) => void;

/**
 * The worker's tensor memory, counted from its first tensor: installed when this module loads, before
 * any model, so a run's peak includes the weights.
 */
const meter = tensorMemoryMeter();

/** The WebGPU backend's buffer pool (it keeps freed buffers for reuse), or null on the CPU backend. */
function gpuPoolBytes(): number | null {
  const m = tf.memory() as { numBytesAllocatedInGPU?: number };
  return typeof m.numBytesAllocatedInGPU === 'number' ? m.numBytesAllocatedInGPU : null;
}

/** Steps averaged for the ETA: recent enough to follow a change of speed, long enough to be steady. */
const TIMING_WINDOW = 8;

/**
 * One run: a DPOTrainer driven step by step, with pause, resume and stop between steps and a
 * checkpoint every `saveSteps` steps and whenever the run pauses or ends. The trained adapter stays
 * here after the run ends; scoring, samples and exports read it.
 */
export class TrainingSession {
  state: TrainState = 'preparing';
  readonly runId: string;
  readonly policy: LoraAdapter;
  readonly reference: LoraAdapter | null;
  readonly evalPairs: TokenizedPair[];

  private readonly trainer: DPOTrainer;
  private history: LogEntry[] = [];
  /** The run record's history and step, written in order as entries are logged. */
  private progressWrites: Promise<void> = Promise.resolve();
  private checkpointRequested = false;
  private lastSavedStep = -1;
  private pauseRequested = false;
  private stopRequested = false;
  private wake: (() => void) | null = null;
  private stepSeconds: number[] = [];
  /** Every step's time in this session (not only the ETA's window): the watchdog scales to the slowest. */
  private readonly slowest: number[] = [];
  /** The plan's arithmetic per optimizer step: the first step's watchdog allows for it. */
  private flopsPerStep = 0;
  private tokensPerSecond = 0;
  /** Seconds spent in steps and evals over the whole run (pauses and restarts excluded), logged as elapsed_seconds. */
  private trainedSeconds = 0;
  /** Work to run after each logged training step, between steps (the token view of a followed pair). */
  afterLog: (() => Promise<void>) | null = null;

  private constructor(
    private readonly spec: RunSpec,
    readonly models: DpoModels,
    train: PairSource,
    evalPairs: TokenizedPair[],
    padTokenId: number,
    private readonly emit: Emit,
  ) {
    this.runId = spec.runId;
    this.policy = models.policy!;
    this.reference = models.reference;
    this.evalPairs = evalPairs;
    this.trainer = new DPOTrainer({ models, train, eval: evalPairs, config: spec.config, padTokenId });
  }

  /**
   * Builds the trainer (and restores the run's latest checkpoint when resuming). A run that starts
   * from a loaded adapter trains a copy of it against a frozen copy, as TRL does with a PeftModel;
   * otherwise a fresh adapter trains against the base model with adapters off.
   */
  static async prepare(
    session: ModelSession,
    pairs: TrainingPairs,
    spec: RunSpec,
    backend: string,
    emit: Emit,
    progress: Progress,
  ): Promise<TrainingSession> {
    meter.resetPeak();
    meter.startInterval();
    const start = session.start?.adapter ?? null;
    const policy = start ? cloneAdapterTrainable(start) : createLoraAdapter(session.model, spec.lora, spec.config.seed);
    const reference = start ? cloneAdapterFrozen(start) : null;
    const models: DpoModels = { model: session.model, policy, reference, ...kernelsFor(backend, 'auto') };
    let run: TrainingSession;
    try {
      // The held-out pairs are kept in memory; the training pairs are read as batches ask for them.
      const { train, eval: held } = await splitForRun(pairs, spec.config.eval_split, spec.config.seed);
      run = new TrainingSession(spec, models, train, held, session.tokenizer.padTokenId!, emit);
      // Chosen and rejected rows of every micro-batch, at their longest.
      const c = spec.config;
      const longest = pairs.longest;
      const tokens = 2 * c.per_device_train_batch_size * c.gradient_accumulation_steps * Math.min(c.max_length ?? longest, longest);
      run.flopsPerStep = stepFlops(session.info().parameters, tokens);
    } catch (e) {
      disposeAdapter(policy);
      if (reference) disposeAdapter(reference);
      throw e;
    }
    try {
      if (spec.resume) {
        const checkpoint = await loadCheckpoint(spec.runId);
        if (!checkpoint) throw new Error(`run ${spec.runId} has no saved checkpoint to resume from`);
        run.trainer.restore(checkpoint.state);
        run.history = checkpoint.history;
        run.trainedSeconds = [...run.history].reverse().find((e) => typeof e.elapsed_seconds === 'number')?.elapsed_seconds ?? 0;
        run.lastSavedStep = checkpoint.step;
        emit({ type: 'history', runId: spec.runId, entries: run.history });
      }
      if (spec.config.precompute_ref_log_probs) {
        await gpu().run('computing the reference log-probs', () =>
          run.trainer.precomputeReference((done, total) =>
            progress('reference', `reference log-probs ${done} / ${total} pairs`, done / total),
          ),
        );
      }
    } catch (e) {
      run.dispose();
      throw e;
    }
    return run;
  }

  get step(): number {
    return this.trainer.globalStep;
  }

  get totalSteps(): number {
    return this.trainer.totalSteps;
  }

  get config() {
    return this.spec.config;
  }

  private status(state: TrainState, message?: string, failure?: GpuFailure): void {
    this.state = state;
    this.emit({
      type: 'trainStatus',
      runId: this.runId,
      state,
      step: this.step,
      totalSteps: this.totalSteps,
      message,
      ...(failure ? { failure: failure.toJSON() } : {}),
    });
  }

  /** The watchdog of the next step's GPU waits: generous for the first (shader compilation), then scaled to the slowest. */
  private stepTimeout(): number {
    return stepTimeoutMs(this.slowest, watchdogSettings(), this.flopsPerStep);
  }

  private async checkpoint(): Promise<void> {
    if (this.lastSavedStep === this.step) return;
    const step = this.step;
    try {
      const state = await gpu().run(`saving the checkpoint of step ${step}`, () => this.trainer.getState(), this.stepTimeout());
      await storeCheckpoint(this.runId, { step, state, history: this.history });
      this.lastSavedStep = step;
      this.emit({ type: 'checkpoint', runId: this.runId, step, saved: true });
    } catch (e) {
      this.emit({ type: 'checkpoint', runId: this.runId, step, saved: false, message: this.unsavedMessage(step, e) });
    }
  }

  /** Why the checkpoint of `step` is not in storage, and what is there instead, in plain words. */
  private unsavedMessage(step: number, error: unknown): string {
    const kept =
      this.lastSavedStep >= 0
        ? `The checkpoint of step ${this.lastSavedStep} is intact: Resume after a reload continues from there.`
        : 'No checkpoint of this run is saved yet.';
    if (error instanceof Error && error.name === 'StorageFullError') {
      return `Browser storage is full: the checkpoint of step ${step} was not saved. ${kept} Free space by deleting old runs (Runs) or stored models (Model).`;
    }
    return `The checkpoint of step ${step} was not saved: ${error instanceof Error ? error.message : String(error)}. ${kept}`;
  }

  /**
   * Records a log entry. A training entry gains the studio's own measures beside TRL's metrics: the
   * time trained so far (elapsed_seconds) and the most tensor memory held at once since the previous
   * one (peak_memory_mb, MiB).
   */
  private log(logged: LogEntry): void {
    let entry = logged;
    if (typeof entry.loss === 'number') {
      entry = { ...entry, elapsed_seconds: Math.round(this.trainedSeconds * 1000) / 1000, peak_memory_mb: meter.intervalPeak / 2 ** 20 };
      meter.startInterval();
    }
    this.history.push(entry);
    if (typeof entry.tokens_per_second === 'number') this.tokensPerSecond = entry.tokens_per_second;
    this.emit({ type: 'log', runId: this.runId, entry });
    // Written as logged, not only with checkpoints: a reload mid-run keeps every logged metric.
    const history = [...this.history];
    this.progressWrites = this.progressWrites.then(() => recordProgress(this.runId, { history, step: entry.step })).catch(() => undefined);
  }

  /** Saves a checkpoint after the step in progress (the page is being hidden); training goes on. */
  checkpointSoon(): void {
    if (this.state === 'running') this.checkpointRequested = true;
  }

  /** The training loop; returns when the run finishes, is stopped or fails (it never throws). */
  async run(): Promise<void> {
    const every = Math.max(1, Math.floor(this.spec.saveSteps));
    this.status('running');
    try {
      while (!this.trainer.done) {
        if (this.pauseRequested && !this.stopRequested) {
          await this.checkpoint();
          this.status('paused');
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = null;
          if (!this.stopRequested) this.status('running');
        }
        if (this.stopRequested) break;
        const started = performance.now();
        const n = this.step + 1;
        this.emit({ type: 'stepStarted', runId: this.runId, step: n, startedAt: Date.now() });
        const timeout = this.stepTimeout();
        const entry = await gpu().run(`training step ${n} of ${this.totalSteps} (forward/backward)`, () => this.trainer.step(), timeout);
        const trainedBefore = this.trainedSeconds;
        this.trainedSeconds = trainedBefore + (performance.now() - started) / 1000;
        if (entry) this.log(entry);
        if (entry && this.afterLog) await gpu().run(`the token view after step ${this.step}`, this.afterLog, timeout);
        if (this.trainer.evalDue) this.log(await gpu().run(`the eval after step ${this.step}`, () => this.trainer.evaluate(), timeout));
        const seconds = (performance.now() - started) / 1000;
        this.trainedSeconds = trainedBefore + seconds;
        this.slowest.push(seconds);
        this.stepSeconds.push(seconds);
        if (this.stepSeconds.length > TIMING_WINDOW) this.stepSeconds.shift();
        this.emit({
          type: 'trainProgress',
          runId: this.runId,
          step: this.step,
          totalSteps: this.totalSteps,
          secondsPerStep: this.stepSeconds.reduce((a, b) => a + b, 0) / this.stepSeconds.length,
          tokensPerSecond: this.tokensPerSecond,
          memory: { peakBytes: meter.peak, gpuBytes: gpuPoolBytes() },
        });
        if (this.step % every === 0 || this.checkpointRequested) await this.checkpoint();
        this.checkpointRequested = false;
      }
      await this.checkpoint();
      this.status(this.trainer.done ? 'finished' : 'stopped');
    } catch (e) {
      if (e instanceof GpuFailure) {
        // The GPU's state is not to be trusted now (and reading it may hang again): the checkpoint in
        // storage is left as it was, the last good state Resume continues from.
        const kept =
          this.lastSavedStep >= 0
            ? `The checkpoint of step ${this.lastSavedStep} is intact: Resume continues from there${e.kind === 'device-lost' ? ' after a reload' : ''}.`
            : 'No checkpoint of this run was saved yet.';
        this.status('failed', `${e.message} ${kept}`, e);
        return;
      }
      // The step that failed applied nothing: the adapter and the last checkpoint are the last good state.
      await this.checkpoint();
      const message =
        e instanceof NonFiniteError
          ? `${e.message}. Training stopped at the last good step ${this.step}.`
          : e instanceof Error
            ? e.message
            : String(e);
      this.status('failed', message);
    }
  }

  pause(): void {
    if (this.state === 'running') this.pauseRequested = true;
  }

  resume(): void {
    this.pauseRequested = false;
    this.wake?.();
  }

  stop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  get active(): boolean {
    return this.state === 'preparing' || this.state === 'running' || this.state === 'paused';
  }

  dispose(): void {
    this.trainer.dispose();
    disposeAdapter(this.policy);
    if (this.reference) disposeAdapter(this.reference);
  }
}
