import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  NonFiniteError,
  Trainer,
  type MicroBatch,
  type MicroBatchContext,
  type Objective,
  type TrainerConfig,
} from '../../../src/core/train/trainer';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface Seen {
  step: number;
  microBatches: number;
  ids: number[];
  draw: number;
}

/** Fits w to the mean of the examples: loss mean((w − x)²) per micro-batch, divided over the step's micro-batches. */
class MeanObjective implements Objective<number> {
  readonly items = 'the examples';
  readonly totals = ['examples'];
  seen: Seen[] = [];
  /** Steps whose micro-batches report a NaN loss. */
  poison = new Set<number>();
  /** Steps whose micro-batches have a finite loss and a NaN gradient. */
  poisonGradient = new Set<number>();

  constructor(private readonly w: tf.Variable) {}

  async microBatch(xs: number[], ctx: MicroBatchContext): Promise<MicroBatch> {
    this.seen.push({ step: ctx.step, microBatches: ctx.microBatches, ids: xs, draw: ctx.rng.next() });
    const x = tf.tensor1d(xs);
    const { value, grads } = tf.variableGrads(() => tf.div(tf.mean(tf.square(tf.sub(this.w, x))), ctx.microBatches) as tf.Scalar, [this.w]);
    const loss = (await value.data())[0] * ctx.microBatches;
    const g = this.poisonGradient.has(ctx.step) ? tf.mul(grads[this.w.name], NaN) : tf.clone(grads[this.w.name]);
    tf.dispose([value, x, grads[this.w.name]]);
    return { loss: this.poison.has(ctx.step) ? NaN : loss, grads: [g], tokens: xs.length, ids: xs };
  }

  stepMetrics(batches: MicroBatch[]): Record<string, number>[] {
    return batches.map((b) => ({ loss: b.loss, examples: b.tokens }));
  }
}

const EXAMPLES = [10, 11, 12, 13, 14];

const CONFIG: TrainerConfig = {
  learning_rate: 0.5,
  per_device_train_batch_size: 1,
  gradient_accumulation_steps: 2,
  max_steps: -1,
  num_train_epochs: 2,
  warmup_ratio: 0,
  warmup_steps: 0,
  lr_scheduler_type: 'linear',
  weight_decay: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  max_grad_norm: 1,
  logging_steps: 2,
  seed: 3,
};

function setup(config: Partial<TrainerConfig> = {}, evaluates = false) {
  const w = tf.variable(tf.zeros([1]));
  const objective = new MeanObjective(w);
  const trainer = new Trainer({ objective, params: [w], train: EXAMPLES, config: { ...CONFIG, ...config }, evaluates });
  return { w, objective, trainer };
}

describe('Trainer', () => {
  it('runs the plan: accumulation over micro-batches, the rest of an epoch in its last step, a fresh order each epoch', async () => {
    const { objective, trainer } = setup();
    expect(trainer.plan).toEqual({ microBatchesPerEpoch: 5, stepsPerEpoch: 3, totalSteps: 6, warmupSteps: 0 });
    const logs = [];
    while (!trainer.done) logs.push(await trainer.step());
    const perStep = [1, 2, 3, 4, 5, 6].map((s) => objective.seen.filter((x) => x.step === s));
    expect(perStep.map((s) => s.length)).toEqual([2, 2, 1, 2, 2, 1]);
    expect(perStep.every((s) => s.every((x) => x.microBatches === s.length))).toBe(true);
    const epochs = [objective.seen.slice(0, 5), objective.seen.slice(5)].map((e) => e.flatMap((x) => x.ids));
    for (const e of epochs) expect([...e].sort()).toEqual(EXAMPLES);
    expect(epochs[0]).not.toEqual(epochs[1]);
    // Logged every 2 steps: the interval's micro-batch losses averaged, its examples summed.
    expect(logs.map((l) => l && [l.step, l.epoch, l.examples])).toEqual([null, [2, 0.6667, 4], null, [4, 1.3333, 3], null, [6, 2, 3]]);
    // The rate the linear schedule holds after each logged step.
    expect(logs.filter((l) => l).map((l) => l!.learning_rate)).toEqual([0.5 * (4 / 6), 0.5 * (2 / 6), 0]);
    trainer.dispose();
  });

  it('a step that throws applies nothing and leaves position and random stream as they were: retried, the run is the uninterrupted one', async () => {
    const whole = setup();
    while (!whole.trainer.done) await whole.trainer.step();
    const expected = await whole.w.data();

    const { w, objective, trainer } = setup();
    await trainer.step();
    const before = await trainer.getState();
    objective.poison.add(2);
    const error = await trainer.step().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NonFiniteError);
    const failed = objective.seen.filter((x) => x.step === 2);
    expect((error as NonFiniteError).lines).toEqual(failed[0].ids);
    expect((error as NonFiniteError).message).toBe(`non-finite loss at step 2; the batch holds the examples ${failed[0].ids[0]}`);
    expect(await trainer.getState()).toEqual(before);

    objective.poison.clear();
    while (!trainer.done) await trainer.step();
    const retried = objective.seen.filter((x) => x.step === 2).slice(1);
    expect(retried.map((x) => [x.ids, x.draw])).toEqual(whole.objective.seen.filter((x) => x.step === 2).map((x) => [x.ids, x.draw]));
    expect(await w.data()).toEqual(expected);
  });

  it('a non-finite gradient stops the step before the update and names every item of the step', async () => {
    const { w, objective, trainer } = setup();
    const before = await trainer.getState();
    objective.poisonGradient.add(1);
    const error = (await trainer.step().catch((e: unknown) => e)) as NonFiniteError;
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(error.what).toBe('gradient');
    expect(error.lines).toEqual(objective.seen.flatMap((x) => x.ids));
    expect(error.lines).toHaveLength(2);
    expect(await w.data()).toEqual(new Float32Array([0]));
    expect(await trainer.getState()).toEqual(before);
  });

  it('an update that would overflow the weights is refused: the weights and state stay those of the last good step', async () => {
    const { w, trainer } = setup({ learning_rate: 1e38, max_grad_norm: 0 });
    const before = await trainer.getState();
    const error = (await trainer.step().catch((e: unknown) => e)) as NonFiniteError;
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(error.what).toBe('update');
    expect(error.message).toMatch(
      /^the update at step 1 would make the weights non-finite \(is the learning rate or adam_epsilon out of range\?\)/,
    );
    expect(await w.data()).toEqual(new Float32Array([0]));
    expect(await trainer.getState()).toEqual(before);
    expect(trainer.globalStep).toBe(0);
  });

  it('evalDue: every eval_steps steps and after the last, never without an eval set', async () => {
    const run = async (evaluates: boolean, eval_steps: number | null) => {
      const { trainer } = setup({ eval_steps }, evaluates);
      const due: number[] = [];
      while (!trainer.done) {
        await trainer.step();
        if (trainer.evalDue) due.push(trainer.globalStep);
      }
      return due;
    };
    expect(await run(true, 4)).toEqual([4, 6]);
    expect(await run(true, null)).toEqual([6]);
    expect(await run(false, 2)).toEqual([]);
  });
});
