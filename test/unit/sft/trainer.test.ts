import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM, exportWeights } from '../../../src/core/model/load';
import { createLoraAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import type { Architecture } from '../../../src/core/model/types';
import { DEFAULT_SFT_CONFIG, type SFTConfig } from '../../../src/core/sft/config';
import { withScatterGatherGradient } from '../../../src/core/sft/gather-gradient';
import { localGradients, type GradientSource } from '../../../src/core/sft/gradients';
import { SFTTrainer } from '../../../src/core/sft/trainer';
import type { TokenizedSftExample } from '../../../src/core/sft/tokenize';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** std 0.02 (transformers' init) by default; LoRA needs larger embeddings to move a frozen head's logits. */
function tinyCheckpoint(arch: Architecture = 'LlamaForCausalLM', std = 0.02) {
  const { configJson, tensors } = randomCheckpoint(
    arch,
    {
      vocab_size: 40,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: arch === 'GPT2LMHeadModel' ? 2 : 1,
      max_position_embeddings: 16,
      tie_word_embeddings: true,
    },
    5,
    { std },
  );
  return { config: parseModelConfig(configJson, 'tiny'), tensors };
}

const ex = (index: number, prompt_ids: number[], completion_ids: number[]): TokenizedSftExample => ({
  index,
  prompt_ids,
  completion_ids,
  prefix_mismatch: false,
});

/** Four prompts that share their first token, each with its own completion to memorise. */
const MEMORISE = [ex(0, [1, 2], [10, 11, 12]), ex(1, [1, 3], [13, 14, 15]), ex(2, [1, 4], [16, 17, 18]), ex(3, [1, 5], [19, 20, 21])];

const config = (o: Partial<SFTConfig>): SFTConfig => ({
  ...DEFAULT_SFT_CONFIG,
  per_device_train_batch_size: 4,
  logging_steps: 1,
  lr_scheduler_type: 'constant',
  ...o,
});

describe('createCausalLM with trainable weights', () => {
  it('builds the same forward pass as the frozen loader, over variables that export back to the input', async () => {
    for (const arch of ['LlamaForCausalLM', 'GPT2LMHeadModel'] as const) {
      const { config: c, tensors } = tinyCheckpoint(arch);
      const frozen = createCausalLM(c, new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }])), 'tiny');
      const { model, params } = createCausalLM(c, tensors, 'tiny', { trainable: true });
      const ids = tf.tensor2d([[1, 7, 3, 9]], [1, 4], 'int32');
      expect(await model.logits(ids, { adapter: null }).data()).toEqual(await frozen.logits(ids, { adapter: null }).data());
      expect([...params.values()].every((p) => p.trainable)).toBe(true);
      const exported = await exportWeights(params);
      expect([...exported.keys()].sort()).toEqual([...tensors.keys()].sort());
      for (const [name, t] of tensors) expect(exported.get(name)!.data).toEqual(t.data);
      model.dispose();
      frozen.dispose();
    }
  });

  it('names a misshapen tensor and the expected shape', () => {
    const { config: c, tensors } = tinyCheckpoint();
    tensors.set('model.norm.weight', { shape: [3], data: new Float32Array(3) });
    expect(() => createCausalLM(c, tensors, 'demo', { trainable: true })).toThrow(
      /demo: [\s\S]*"model\.norm\.weight" has shape \[3\], expected \[16\]/,
    );
  });
});

describe('withScatterGatherGradient', () => {
  it("gives the embedding gradient tfjs's own gather gradient gives (repeated ids included) and restores the registry", () => {
    const table = tf.variable(tf.randomNormal([6, 3], 0, 1, 'float32', 1));
    const ids = tf.tensor1d([2, 0, 2, 5, 2], 'int32');
    const weights = tf.randomNormal([5, 3], 0, 1, 'float32', 2);
    const f = () => tf.sum(tf.mul(tf.gather(table, ids), weights)) as tf.Scalar;
    const before = tf.getGradient('GatherV2');
    const ours = withScatterGatherGradient(() => tf.variableGrads(f, [table])).grads[table.name];
    expect(tf.getGradient('GatherV2')).toBe(before);
    const theirs = tf.variableGrads(f, [table]).grads[table.name];
    const diff = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0];
    expect(diff).toBeLessThan(1e-6);
    // Row 2 collects three gradient rows; rows 1, 3 and 4 none.
    expect(Array.from(ours.slice([1, 0], [1, 3]).dataSync())).toEqual([0, 0, 0]);
  });
});

describe('SFTTrainer', () => {
  it('full fine-tuning memorises a tiny set: the loss falls by over 90%', async () => {
    const { config: c, tensors } = tinyCheckpoint();
    const { model, params } = createCausalLM(c, tensors, 'tiny', { trainable: true });
    const trainer = new SFTTrainer({
      model,
      params: [...params.values()],
      adapter: null,
      train: MEMORISE,
      config: config({ learning_rate: 2e-2, max_steps: 40 }),
      padTokenId: 0,
    });
    const first = await trainer.evaluate(MEMORISE);
    const logs = [];
    while (!trainer.done) logs.push((await trainer.step())!);
    const last = await trainer.evaluate(MEMORISE);
    expect(first).toBeGreaterThan(3); // ≈ ln 40 at random initialisation
    expect(last).toBeLessThan(0.1 * first);
    expect(logs.map((l) => l.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(logs[0].num_tokens).toBe(12);
    expect(logs.every((l) => Number.isFinite(l.grad_norm) && l.grad_norm > 0)).toBe(true);
    trainer.dispose();
    model.dispose();
  });

  it('LoRA training lowers the loss and leaves the base weights untouched', async () => {
    const { config: c, tensors } = tinyCheckpoint('LlamaForCausalLM', 0.5);
    const base = createCausalLM(c, new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }])), 'tiny');
    const adapter = createLoraAdapter(base, { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: 'all-linear', use_rslora: false }, 1);
    const params = [...adapter.modules.values()].flatMap((m) => [m.A, m.B]);
    const head = await (base.headWeight() as tf.Tensor2D).data();
    const trainer = new SFTTrainer({
      model: base,
      params,
      adapter,
      train: MEMORISE,
      config: config({ learning_rate: 2e-2, max_steps: 20 }),
      padTokenId: 0,
    });
    const first = await trainer.evaluate(MEMORISE);
    while (!trainer.done) await trainer.step();
    expect(await trainer.evaluate(MEMORISE)).toBeLessThan(0.8 * first);
    expect(await (base.headWeight() as tf.Tensor2D).data()).toEqual(head);
    trainer.dispose();
    base.dispose();
  });

  it('takes the same steps when a gradient source sums the gradients of two halves of each batch', async () => {
    const { config: c, tensors } = tinyCheckpoint();
    const run = async (split: boolean) => {
      const { model, params } = createCausalLM(c, tensors, 'tiny', { trainable: true });
      const list = [...params.values()];
      const local = localGradients(model, list, null, { max_length: null, pad_token_id: 0 });
      const halves: GradientSource = async (examples) => {
        const [a, b] = [await local(examples.slice(0, 1)), await local(examples.slice(1))];
        return { lossSum: a.lossSum + b.lossSum, tokens: a.tokens + b.tokens, grads: a.grads.map((g, i) => tf.add(g, b.grads[i])) };
      };
      const trainer = new SFTTrainer({
        model,
        params: list,
        adapter: null,
        train: MEMORISE,
        config: config({ learning_rate: 1e-2, max_steps: 3 }),
        padTokenId: 0,
        gradients: split ? halves : undefined,
      });
      const losses = [];
      while (!trainer.done) losses.push((await trainer.step())!.loss);
      const weights = await exportWeights(params);
      model.dispose();
      return { losses, embed: weights.get('model.embed_tokens.weight')!.data };
    };
    const [whole, split] = [await run(false), await run(true)];
    split.losses.forEach((l, i) => expect(l).toBeCloseTo(whole.losses[i], 5));
    split.embed.forEach((w, i) => expect(w).toBeCloseTo(whole.embed[i], 5));
    expect(whole.losses[2]).toBeLessThan(whole.losses[0]);
  });

  it('refuses frozen variables and a config that cannot run', () => {
    const { config: c, tensors } = tinyCheckpoint();
    const { model, params } = createCausalLM(c, tensors, 'tiny', { trainable: true });
    const frozen = tf.variable(tf.zeros([2]), false);
    expect(() => new SFTTrainer({ model, params: [frozen], adapter: null, train: MEMORISE, config: config({}), padTokenId: 0 })).toThrow(
      /must be trainable/,
    );
    expect(
      () =>
        new SFTTrainer({
          model,
          params: [...params.values()],
          adapter: null,
          train: MEMORISE,
          config: config({ learning_rate: 0 }),
          padTokenId: 0,
        }),
    ).toThrow(/learning_rate/);
    model.dispose();
  });
});
