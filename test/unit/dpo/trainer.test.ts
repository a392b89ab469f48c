import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DPO_CONFIG, type DPOConfig } from '../../../src/core/dpo/config';
import { DPOTrainer, type LogEntry } from '../../../src/core/dpo/trainer';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { examplePairs, tinyModel, tokenize } from '../../helpers/tiny';

const LN2 = Math.log(2);

function config(overrides: Partial<DPOConfig>): DPOConfig {
  return {
    ...DEFAULT_DPO_CONFIG,
    per_device_train_batch_size: 8,
    max_steps: 40,
    learning_rate: 5e-3,
    logging_steps: 1,
    seed: 3,
    // The same numbers either way (test/unit/model/checkpoint.test.ts); recomputing only costs time here.
    gradient_checkpointing: false,
    ...overrides,
  };
}

async function run(corrupt: 'none' | 'all' | 'half', overrides: Partial<DPOConfig> = {}): Promise<LogEntry[]> {
  const { model, tokenizer } = tinyModel('LlamaForCausalLM', 11);
  const rows = examplePairs().map((r, i) => (corrupt === 'all' || (corrupt === 'half' && i % 2 === 0) ? { ...r, rejected: r.chosen } : r));
  const pairs = tokenize(rows, tokenizer);
  const cfg = config(overrides);
  const policy = createLoraAdapter(
    model,
    { r: 8, lora_alpha: 16, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false },
    cfg.seed,
  );
  const trainer = new DPOTrainer({
    models: { model, policy, reference: null },
    train: pairs,
    config: cfg,
    padTokenId: tokenizer.padTokenId!,
  });
  const logs: LogEntry[] = [];
  while (!trainer.done) {
    const entry = await trainer.step();
    if (entry) logs.push(entry);
  }
  trainer.dispose();
  disposeAdapter(policy);
  model.dispose();
  return logs;
}

describe('DPOTrainer on a tiny Llama', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('learns a learnable preference set: rewards/accuracies above 0.8 within 40 steps', async () => {
    const logs = await run('none');
    expect(logs).toHaveLength(40);
    // Step 1: policy == reference (LoRA B = 0), so the loss is ln 2 exactly and accuracy 0 (ties).
    expect(logs[0].loss).toBeCloseTo(LN2, 6);
    expect(logs[0]['rewards/accuracies']).toBe(0);
    const last = logs.slice(-5);
    const acc = last.reduce((s, l) => s + l['rewards/accuracies'], 0) / last.length;
    expect(acc).toBeGreaterThan(0.8);
    expect(last.at(-1)!.loss).toBeLessThan(0.6);
    expect(last.at(-1)!['rewards/margins']).toBeGreaterThan(0);
    for (const l of logs) {
      for (const k of [
        'loss',
        'rewards/chosen',
        'rewards/rejected',
        'rewards/margins',
        'logps/chosen',
        'logps/rejected',
        'logits/chosen',
        'logits/rejected',
        'entropy',
        'mean_token_accuracy',
        'num_tokens',
        'grad_norm',
        'learning_rate',
        'tokens_per_second',
      ]) {
        expect(Number.isFinite(l[k]), `${k} at step ${l.step}`).toBe(true);
      }
    }
  });

  it('with rejected := chosen the loss stays at ln 2 and grad_norm is ~0 at every step', async () => {
    const logs = await run('all');
    expect(logs).toHaveLength(40);
    for (const l of logs) {
      expect(Math.abs(l.loss - LN2), `loss at step ${l.step}`).toBeLessThanOrEqual(1e-5);
      expect(l.grad_norm, `grad_norm at step ${l.step}`).toBeLessThanOrEqual(1e-6);
      expect(l['rewards/margins']).toBe(0);
      expect(l['rewards/accuracies']).toBe(0);
    }
  });

  it('with half the pairs corrupted the clean half still learns', async () => {
    const logs = await run('half');
    const last = logs.at(-1)!;
    expect(last.loss).toBeLessThan(LN2 - 0.02);
    expect(last['rewards/margins']).toBeGreaterThan(0);
    expect(logs.some((l) => l.grad_norm > 1e-3)).toBe(true);
  });
});
