import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collatePreference } from '../../../src/core/data/collate';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { evaluateBatch } from '../../../src/core/dpo/batch';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';
import { pairTokenRatios } from '../../../src/core/dpo/token-ratios';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import { Rng } from '../../../src/core/random';
import { examplePairs, tokenize } from '../../helpers/tiny';
import { logSoftmax64, referenceLogits, relativeMaxError } from '../model/reference';

const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
const tokenizer = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
const pairs = tokenize(examplePairs().slice(0, 3), tokenizer);
const { configJson, tensors } = randomCheckpoint(
  'LlamaForCausalLM',
  {
    vocab_size: 259,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 128,
    tie_word_embeddings: true,
  },
  29,
);
const model = createCausalLM(
  parseModelConfig(configJson, 'LlamaForCausalLM'),
  new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }])),
  'LlamaForCausalLM',
);
const pad = tokenizer.padTokenId!;

describe('pairTokenRatios', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it("each completion token's log-prob matches a float64 forward pass of the same ids; with no adapter the ratios are 0", async () => {
    for (const pair of pairs) {
      const r = await pairTokenRatios({ model, policy: null, reference: null }, pair, DEFAULT_DPO_CONFIG, pad);
      for (const [side, completion] of [
        [r.chosen, pair.chosen_ids],
        [r.rejected, pair.rejected_ids],
      ] as const) {
        expect(side.ids).toEqual(completion);
        const ids = [...pair.prompt_ids, ...completion];
        const logits = referenceLogits(configJson, tensors, ids);
        const expected = completion.map((token, k) => logSoftmax64(logits[pair.prompt_ids.length + k - 1])[token]);
        expect(relativeMaxError(side.policy, expected)).toBeLessThan(1e-4);
        expect(side.reference).toEqual(side.policy);
      }
      expect(r.line).toBe(pair.line);
    }
  });

  it("under a trained adapter, a side's summed log-ratios are its reward ÷ β, and truncation keeps the tokens training sees", async () => {
    const policy = createLoraAdapter(
      model,
      { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
      3,
    );
    const rng = new Rng(11);
    for (const m of policy.modules.values())
      m.B.assign(
        tf.tensor(
          Array.from({ length: m.B.size }, () => 0.3 * rng.normal()),
          m.B.shape,
        ),
      );
    const models = { model, policy, reference: null };
    const config = { ...DEFAULT_DPO_CONFIG, beta: 0.25 };
    const pair = pairs[1];
    const r = await pairTokenRatios(models, pair, config, pad);
    const batch = collatePreference([pair], {
      max_length: null,
      max_prompt_length: null,
      truncation_mode: 'keep_start',
      pad_token_id: pad,
    });
    const scored = await evaluateBatch(models, batch, config);
    const sum = (s: { policy: number[]; reference: number[] }) => s.policy.reduce((a, p, k) => a + p - s.reference[k], 0);
    expect(r.chosen.policy.some((p, k) => Math.abs(p - r.chosen.reference[k]) > 1e-3)).toBe(true);
    expect(sum(r.chosen)).toBeCloseTo(scored.chosenRewards[0] / config.beta, 4);
    expect(sum(r.rejected)).toBeCloseTo(scored.rejectedRewards[0] / config.beta, 4);

    const short = await pairTokenRatios(models, pair, { ...config, max_length: pair.prompt_ids.length + 3 }, pad);
    expect(short.chosen.ids).toEqual(pair.chosen_ids.slice(0, 3));
    expect(short.chosen.policy).toEqual(r.chosen.policy.slice(0, 3).map((v) => expect.closeTo(v, 5)));
  });
});
