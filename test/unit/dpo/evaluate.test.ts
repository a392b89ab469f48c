import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collatePreference } from '../../../src/core/data/collate';
import { batchMetrics, evaluateBatch, type DpoModels } from '../../../src/core/dpo/batch';
import { DEFAULT_DPO_CONFIG, type DPOConfig } from '../../../src/core/dpo/config';
import { evaluatePairs } from '../../../src/core/dpo/evaluate';
import { DPOTrainer } from '../../../src/core/dpo/trainer';
import { createLoraAdapter } from '../../../src/core/model/lora';
import { examplePairs, tinyModel, tokenize } from '../../helpers/tiny';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const { model, tokenizer } = tinyModel('LlamaForCausalLM', 7, 16);
const pad = tokenizer.padTokenId!;
const pairs = tokenize(examplePairs().slice(0, 5), tokenizer);
const config: DPOConfig = { ...DEFAULT_DPO_CONFIG, per_device_eval_batch_size: 2 };

/** A policy that differs from the reference, so rewards, margins and accuracies are not all zero. */
function policyModels(): DpoModels {
  const policy = createLoraAdapter(
    model,
    { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
    3,
  );
  for (const { B } of policy.modules.values()) B.assign(tf.randomNormal(B.shape, 0, 0.5, 'float32', 2));
  return { model, policy, reference: null };
}

describe('evaluatePairs', () => {
  it('scores every pair in order and aggregates as TRL: loss over pairs, other metrics over batches', async () => {
    const models = policyModels();
    const progress: number[] = [];
    const { pairs: scored, metrics } = await evaluatePairs(models, pairs, config, pad, { onBatch: (done) => progress.push(done) });
    expect(progress).toEqual([2, 4, 5]);
    expect(scored.map((s) => s.pair)).toEqual(pairs);

    // The same batches by hand: 2, 2 and 1 pairs.
    const batches = [];
    for (const part of [pairs.slice(0, 2), pairs.slice(2, 4), pairs.slice(4)]) {
      batches.push(await evaluateBatch(models, collatePreference(part, { ...config, pad_token_id: pad }), config));
    }
    const perBatch = batches.map(batchMetrics);
    for (const key of Object.keys(perBatch[0]).filter((k) => k !== 'loss')) {
      expect(metrics[key], key).toBe(perBatch.reduce((s, m) => s + m[key], 0) / 3);
    }
    expect(metrics.loss).toBe((batches[0].loss * 2 + batches[1].loss * 2 + batches[2].loss) / 5);
    expect(scored.map((s) => s.chosenReward)).toEqual(batches.flatMap((b) => Array.from(b.chosenRewards)));
    expect(scored.map((s) => s.loss)).toEqual(batches.flatMap((b) => Array.from(b.perPairLoss)));

    // With batches of unequal size the two weightings differ, so the test tells them apart.
    const pairMean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(metrics['rewards/chosen'] - pairMean(scored.map((s) => s.chosenReward)))).toBeGreaterThan(1e-6);
    expect(metrics.loss).toBeCloseTo(pairMean(scored.map((s) => s.loss)), 6);
  });

  it('takes the reference log-probs given for a batch instead of running the reference', async () => {
    const models = policyModels();
    const live = await evaluatePairs(models, pairs, config, pad);
    const shifted = await evaluatePairs(models, pairs, config, pad, {
      referenceLogps: (part) => {
        const scores = live.pairs.filter((s) => part.includes(s.pair));
        return Float32Array.from([...scores.map((s) => s.refChosenLogps - 1), ...scores.map((s) => s.refRejectedLogps)]);
      },
    });
    // A reference 1 nat less likely on chosen raises every chosen reward by β.
    shifted.pairs.forEach((s, i) => expect(s.chosenReward).toBeCloseTo(live.pairs[i].chosenReward + config.beta, 4));
  });

  it('is what DPOTrainer.evaluate reports, eval_-prefixed, with and without precomputed reference log-probs', async () => {
    for (const precompute_ref_log_probs of [false, true]) {
      const models = policyModels();
      const trainer = new DPOTrainer({
        models,
        train: pairs.slice(0, 3),
        eval: pairs,
        config: { ...config, precompute_ref_log_probs },
        padTokenId: pad,
      });
      if (precompute_ref_log_probs) await trainer.precomputeReference();
      // Before any step the trainer has counted no training tokens: eval_num_tokens 0, as TRL.
      const { metrics } = await evaluatePairs(models, pairs, config, pad, { trainTokens: 0 });
      expect(metrics.num_tokens).toBe(0);
      const entry = await trainer.evaluate();
      expect(Object.keys(entry)).toEqual(['step', 'epoch', ...Object.keys(metrics).map((k) => `eval_${k}`)]);
      for (const [k, v] of Object.entries(metrics)) expect(entry[`eval_${k}`], k).toBeCloseTo(v, 5);
      trainer.dispose();
    }
  });
});
