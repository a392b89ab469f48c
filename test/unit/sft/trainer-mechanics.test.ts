import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import type { CausalLM } from '../../../src/core/model/types';
import { DEFAULT_SFT_CONFIG } from '../../../src/core/sft/config';
import { localGradients, type GradientSource } from '../../../src/core/sft/gradients';
import type { TokenizedSftExample } from '../../../src/core/sft/tokenize';
import { SFTTrainer, type SftLogEntry, type SftTrainerInit } from '../../../src/core/sft/trainer';
import { NonFiniteError } from '../../../src/core/train/trainer';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A frozen tiny Llama (embeddings large enough for LoRA to move the logits), NaN in its final norm if poisoned. */
function tinyModel(poison = false): CausalLM {
  const { configJson, tensors } = randomCheckpoint(
    'LlamaForCausalLM',
    {
      vocab_size: 40,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 16,
      tie_word_embeddings: true,
    },
    5,
    { std: 0.5 },
  );
  const host = new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }]));
  if (poison) host.get('model.norm.weight')!.data[0] = NaN;
  return createCausalLM(parseModelConfig(configJson, 'tiny'), host, 'tiny');
}

const ex = (index: number, prompt_ids: number[], completion_ids: number[]): TokenizedSftExample => ({
  index,
  prompt_ids,
  completion_ids,
  prefix_mismatch: false,
});

/** Completions of 1, 2, 3, 5 and 8 tokens: no two disjoint pairs of examples hold the same number of tokens. */
const EXAMPLES = [
  ex(0, [1, 2], [10]),
  ex(1, [1, 3], [13, 14, 15, 16, 17]),
  ex(2, [1, 4], [16, 17]),
  ex(3, [1, 5, 6], [19, 20, 21, 22, 23, 24, 25, 26]),
  ex(4, [1, 7], [23, 24, 25]),
];

type Config = SftTrainerInit['config'];

const config = (o: Partial<Config>): Config => ({
  ...DEFAULT_SFT_CONFIG,
  learning_rate: 2e-2,
  logging_steps: 2,
  warmup_steps: 1,
  weight_decay: 0.01,
  max_grad_norm: 0.5,
  ...o,
});

function setup(cfg: Config, options: { poison?: boolean; gradients?: (local: GradientSource) => GradientSource } = {}) {
  const model = tinyModel(options.poison);
  const adapter = createLoraAdapter(model, { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false }, 1);
  const params = [...adapter.modules.values()].flatMap((m) => [m.A, m.B]);
  const local = localGradients(model, params, adapter, { max_length: cfg.max_length, pad_token_id: 0 });
  const trainer = new SFTTrainer({
    model,
    params,
    adapter,
    train: EXAMPLES,
    config: cfg,
    padTokenId: 0,
    gradients: options.gradients?.(local),
  });
  const values = async () => (await Promise.all(params.map((p) => p.data()))).map((a) => Array.from(a));
  return { trainer, values };
}

async function run(trainer: SFTTrainer, steps: number): Promise<(SftLogEntry | null)[]> {
  const logs = [];
  for (let i = 0; i < steps; i++) logs.push(await trainer.step());
  return logs;
}

describe('SFTTrainer on the shared loop', () => {
  it('accumulating 2 micro-batches of 2 takes the step one batch of 4 takes, with micro-batches of unequal token counts', async () => {
    // Both runs see the same shuffled order (it depends on seed and epoch only), cut in 4s or in 2s.
    const micro: { lossSum: number; tokens: number }[] = [];
    const recording =
      (local: GradientSource): GradientSource =>
      async (examples) => {
        const out = await local(examples);
        micro.push({ lossSum: out.lossSum, tokens: out.tokens });
        return out;
      };
    const whole = setup(config({ per_device_train_batch_size: 4, max_steps: 3, logging_steps: 1 }));
    const accumulated = setup(config({ per_device_train_batch_size: 2, gradient_accumulation_steps: 2, max_steps: 3, logging_steps: 1 }), {
      gradients: recording,
    });
    expect(accumulated.trainer.plan).toMatchObject({ microBatchesPerEpoch: 3, stepsPerEpoch: 2 });
    expect(whole.trainer.plan).toMatchObject({ microBatchesPerEpoch: 2, stepsPerEpoch: 2 });
    const [a, b] = [await run(whole.trainer, 3), await run(accumulated.trainer, 3)];
    for (let i = 0; i < 3; i++) {
      for (const k of ['loss', 'grad_norm', 'learning_rate', 'epoch'] as const) {
        expect(Math.abs(b[i]![k] - a[i]![k]), `${k} at step ${i + 1}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(a[i]![k])));
      }
      expect(b[i]!.num_tokens).toBe(a[i]!.num_tokens);
    }
    // The step's loss is the mean over all its tokens; the mean of the two micro-batch means is not.
    const meanOfMeans = (micro[0].lossSum / micro[0].tokens + micro[1].lossSum / micro[1].tokens) / 2;
    expect(Math.abs(meanOfMeans - a[0]!.loss)).toBeGreaterThan(1e-3);
    const [va, vb] = [(await whole.values()).flat(), (await accumulated.values()).flat()];
    let moved = 0;
    for (let j = 0; j < va.length; j++) {
      expect(Math.abs(vb[j] - va[j])).toBeLessThan(1e-5);
      moved = Math.max(moved, Math.abs(va[j]));
    }
    expect(moved).toBeGreaterThan(1e-3);
  });

  it('a non-finite loss stops with NonFiniteError naming the examples, the parameters and the state unchanged', async () => {
    const { trainer, values } = setup(config({ per_device_train_batch_size: 2, max_steps: 4 }), { poison: true });
    const [before, state] = [await values(), await trainer.getState()];
    const error = await trainer.step().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).message).toMatch(/^non-finite loss at step 1; the batch holds the examples \d, \d$/);
    expect(trainer.globalStep).toBe(0);
    expect(await values()).toEqual(before);
    expect(await trainer.getState()).toEqual(state);
  });

  it('a huge learning rate that blows the weights up stops at the first non-finite step, keeping the last good weights', async () => {
    // Without clipping, a rate of 1e30 makes the adapter overflow within a few steps.
    const { trainer, values } = setup(config({ per_device_train_batch_size: 2, max_steps: 20, learning_rate: 1e30, max_grad_norm: 0 }));
    let last = await values();
    let error: unknown = null;
    while (!trainer.done && error === null) {
      last = await values();
      error = await trainer.step().then(
        () => null,
        (e: unknown) => e,
      );
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(await values()).toEqual(last);
    expect(last.flat().every(Number.isFinite)).toBe(true);
  });

  it('getState / restore: a run snapshotted mid-epoch and mid-interval and resumed in a fresh trainer ends with identical weights', async () => {
    const cfg = config({ per_device_train_batch_size: 1, gradient_accumulation_steps: 2, max_steps: 6, logging_steps: 4 });
    const full = setup(cfg);
    const fullLogs = await run(full.trainer, 6);
    const first = setup(cfg);
    await run(first.trainer, 2);
    const state = await first.trainer.getState();
    // Mid-epoch (5 micro-batches make 3 steps: 2, 2, 1) and mid-interval (logs every 4 steps).
    expect(state.microInEpoch).toBe(4);
    expect(Object.keys(state.pendingMetrics)).toEqual(['loss', 'num_tokens']);
    const second = setup(cfg);
    second.trainer.restore(state);
    const resumed = await run(second.trainer, 4);
    expect(resumed).toEqual(fullLogs.slice(2));
    expect(await second.values()).toEqual(await full.values());
  });
});
