import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { DEFAULT_DPO_CONFIG, type DPOConfig } from '../../../src/core/dpo/config';
import { DPOTrainer, NonFiniteError, type LogEntry } from '../../../src/core/dpo/trainer';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { cloneAdapterFrozen, createLoraAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import type { CausalLM, LoraAdapter } from '../../../src/core/model/types';
import { examplePairs, tokenize } from '../../helpers/tiny';

const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
const tokenizer = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
const pairs = tokenize(examplePairs().slice(0, 16), tokenizer);

function model(poison = false): CausalLM {
  const { configJson, tensors } = randomCheckpoint(
    'LlamaForCausalLM',
    {
      vocab_size: 259,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 128,
      tie_word_embeddings: true,
    },
    23,
  );
  const host = new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }]));
  if (poison) host.get('model.norm.weight')!.data[0] = NaN;
  return createCausalLM(parseModelConfig(configJson, 'tiny'), host, 'tiny');
}

function config(overrides: Partial<DPOConfig> = {}): DPOConfig {
  return {
    ...DEFAULT_DPO_CONFIG,
    per_device_train_batch_size: 4,
    max_steps: 6,
    learning_rate: 1e-2,
    logging_steps: 1,
    seed: 9,
    ...overrides,
  };
}

function setup(cfg: DPOConfig, m = model(), evalPairs?: typeof pairs): { trainer: DPOTrainer; policy: LoraAdapter } {
  const policy = createLoraAdapter(m, { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false }, 5);
  return {
    trainer: new DPOTrainer({
      models: { model: m, policy, reference: null },
      train: pairs,
      eval: evalPairs,
      config: cfg,
      padTokenId: tokenizer.padTokenId!,
    }),
    policy,
  };
}

async function steps(trainer: DPOTrainer, n: number): Promise<LogEntry[]> {
  const logs: LogEntry[] = [];
  for (let i = 0; i < n; i++) logs.push((await trainer.step())!);
  return logs;
}

async function adapterValues(policy: LoraAdapter): Promise<number[]> {
  const out: number[] = [];
  for (const m of policy.modules.values()) out.push(...(await m.A.data()), ...(await m.B.data()));
  return out;
}

function expectLogsClose(
  a: LogEntry[],
  b: LogEntry[],
  tol: number,
  keys = [
    'loss',
    'rewards/chosen',
    'rewards/rejected',
    'rewards/margins',
    'rewards/accuracies',
    'logps/chosen',
    'grad_norm',
    'learning_rate',
  ],
) {
  expect(a.map((l) => l.step)).toEqual(b.map((l) => l.step));
  for (let i = 0; i < a.length; i++) {
    for (const k of keys)
      expect(Math.abs(a[i][k] - b[i][k]), `${k} at step ${a[i].step}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i][k])));
  }
}

describe('DPOTrainer mechanics', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('resumes from a saved state exactly where an uninterrupted run would be', async () => {
    const full = await steps(setup(config()).trainer, 6);
    const first = setup(config());
    await steps(first.trainer, 3);
    const state = await first.trainer.getState();
    const second = setup(config());
    second.trainer.restore(state);
    const resumed = await steps(second.trainer, 3);
    expectLogsClose(resumed, full.slice(3), 1e-5);
  });

  it('continues a saved state with half the batch and twice the accumulation: the same pairs per step, the same run', async () => {
    const full = await steps(setup(config()).trainer, 6);
    const first = setup(config());
    await steps(first.trainer, 3);
    const state = await first.trainer.getState();
    expect(state.trainBatchSize).toBe(4);
    const split = setup(config({ per_device_train_batch_size: 2, gradient_accumulation_steps: 2 }));
    expect(split.trainer.totalSteps).toBe(6);
    split.trainer.restore(state);
    const resumed = await steps(split.trainer, 3);
    expectLogsClose(resumed, full.slice(3), 1e-5, ['loss', 'rewards/margins', 'grad_norm', 'learning_rate']);
    // A batch size that does not divide the pairs already consumed cannot continue at a batch boundary.
    const odd = setup(config({ per_device_train_batch_size: 5 }));
    expect(() => odd.trainer.restore(state)).toThrow(
      /stopped after 12 pairs of its epoch, which per_device_train_batch_size 5 does not divide/,
    );
  });

  it('precomputed reference log-probs give the same run as computing them each step', async () => {
    const live = await steps(setup(config()).trainer, 3);
    const pre = setup(config({ precompute_ref_log_probs: true }));
    await pre.trainer.precomputeReference();
    expectLogsClose(await steps(pre.trainer, 3), live, 1e-5);
  });

  it('gradient accumulation of 2 × 4 pairs equals one batch of 8', async () => {
    const big = setup(config({ per_device_train_batch_size: 8, max_steps: 2 }));
    const bigLogs = await steps(big.trainer, 2);
    const acc = setup(config({ per_device_train_batch_size: 4, gradient_accumulation_steps: 2, max_steps: 2 }));
    const accLogs = await steps(acc.trainer, 2);
    expectLogsClose(accLogs, bigLogs, 1e-5, ['loss', 'rewards/margins', 'grad_norm', 'learning_rate']);
    const [a, b] = [await adapterValues(acc.policy), await adapterValues(big.policy)];
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
  });

  it('a non-finite loss stops the run with the step and the batch lines named, keeping the adapter', async () => {
    const { trainer, policy } = setup(config(), model(true));
    const before = await adapterValues(policy);
    const error = await trainer.step().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NonFiniteError);
    const e = error as NonFiniteError;
    expect(e.step).toBe(1);
    expect(e.lines).toHaveLength(4);
    expect(e.message).toMatch(/non-finite loss at step 1; the batch holds the pairs on lines \d+, \d+, \d+, \d+/);
    expect(trainer.globalStep).toBe(0);
    expect(await adapterValues(policy)).toEqual(before);
  });

  it('training from an existing adapter measures against a frozen copy of it (TRL with a PeftModel)', async () => {
    const m = model();
    const start = createLoraAdapter(
      m,
      { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
      5,
    );
    for (const { B } of start.modules.values()) B.assign(tf.randomNormal(B.shape, 0, 0.5, 'float32', 1));
    const run = async (reference: LoraAdapter | null) => {
      const policy = cloneAdapterFrozen(start);
      for (const pair of policy.modules.values()) {
        pair.A = tf.variable(pair.A, true);
        pair.B = tf.variable(pair.B, true);
      }
      const trainer = new DPOTrainer({
        models: { model: m, policy, reference },
        train: pairs,
        config: config({ max_steps: 1 }),
        padTokenId: tokenizer.padTokenId!,
      });
      return (await trainer.step())!;
    };
    // Against the frozen start, policy == reference at step 1: u = 0 exactly, loss ln 2, margins 0.
    const againstStart = await run(cloneAdapterFrozen(start));
    expect(againstStart.loss).toBeCloseTo(Math.log(2), 6);
    expect(againstStart['rewards/margins']).toBe(0);
    // Against the base model the non-zero adapter already shifts the log-ratios.
    const againstBase = await run(null);
    expect(Math.abs(againstBase['rewards/margins'])).toBeGreaterThan(1e-4);
  });

  it('logs the learning rate the schedule holds after each step and the epoch as a fraction', async () => {
    const logs = await steps(setup(config({ max_steps: 4, warmup_steps: 2 })).trainer, 4);
    // Linear warmup over 2 steps then linear decay to 0 at step 4: after step k the rate is lr(k).
    expect(logs.map((l) => l.learning_rate)).toEqual([0.005, 0.01, 0.005, 0]);
    // 16 pairs in batches of 4: 4 steps per epoch.
    expect(logs.map((l) => l.epoch)).toEqual([0.25, 0.5, 0.75, 1]);
  });
  it("logs num_tokens as TRL does: every training batch's attention-mask total so far, carried across a resume and into eval", async () => {
    // Each pair puts prompt + chosen and prompt + rejected through the model: the prompt counts twice.
    const perEpoch = pairs.reduce((s, p) => s + 2 * p.prompt_ids.length + p.chosen_ids.length + p.rejected_ids.length, 0);
    const cfg = config({ max_steps: 8, logging_steps: 2 });
    const logs = (await steps(setup(cfg).trainer, 8)).filter(Boolean);
    expect(logs.map((l) => l.step)).toEqual([2, 4, 6, 8]);
    // 16 pairs in batches of 4: an epoch every 4 steps, whatever the shuffle.
    expect(logs[1].num_tokens).toBe(perEpoch);
    expect(logs[3].num_tokens).toBe(2 * perEpoch);
    expect(logs[0].num_tokens).toBeGreaterThan(0);
    expect(logs[0].num_tokens).toBeLessThan(perEpoch);

    const first = setup(cfg);
    await steps(first.trainer, 2);
    const state = await first.trainer.getState();
    expect(state.tokensSeen).toBe(logs[0].num_tokens);
    const resumed = setup(cfg);
    resumed.trainer.restore(state);
    expect((await steps(resumed.trainer, 6)).filter(Boolean).map((l) => l.num_tokens)).toEqual(logs.slice(1).map((l) => l.num_tokens));

    // A state from before the count was kept: the count is unknown, so no num_tokens is logged.
    const older = setup(cfg);
    older.trainer.restore({ ...state, tokensSeen: undefined });
    const [next] = (await steps(older.trainer, 2)).filter(Boolean);
    expect(next.num_tokens).toBeUndefined();

    const withEval = setup(cfg, model(), pairs.slice(0, 4)).trainer;
    await steps(withEval, 4);
    const evaluated = await withEval.evaluate();
    expect(evaluated.eval_num_tokens).toBe(perEpoch);
    expect(evaluated.eval_entropy).toBeGreaterThan(0);
  });
});
