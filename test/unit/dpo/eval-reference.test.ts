import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collatePreference } from '../../../src/core/data/collate';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { evaluateBatch } from '../../../src/core/dpo/batch';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import type { Architecture } from '../../../src/core/model/types';
import { examplePairs, tokenize } from '../../helpers/tiny';
import { logSoftmax64, referenceLogits, relativeMaxError } from '../model/reference';

/** Σ log p(token) over the completion, from the float64 reference run on the unpadded sequence. */
function referenceCompletionLogp(
  configJson: Record<string, unknown>,
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  prompt: number[],
  completion: number[],
): number {
  const ids = [...prompt, ...completion];
  const logits = referenceLogits(configJson, tensors, ids);
  let sum = 0;
  for (let t = prompt.length; t < ids.length; t++) sum += logSoftmax64(logits[t - 1])[ids[t]];
  return sum;
}

const ARCHITECTURES: [Architecture, Record<string, unknown>][] = [
  ['LlamaForCausalLM', { num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true }],
  ['MistralForCausalLM', { num_attention_heads: 4, num_key_value_heads: 1, tie_word_embeddings: false }],
  ['Qwen2ForCausalLM', { num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true }],
  ['GPT2LMHeadModel', { num_attention_heads: 4, num_key_value_heads: 4, tie_word_embeddings: true }],
];

describe('eval log-probs against an independent float64 implementation', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  const tokenizer = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
  // Pairs of different lengths, so the batch is right-padded.
  const pairs = tokenize(examplePairs().slice(0, 4), tokenizer);

  for (const [arch, dims] of ARCHITECTURES) {
    it(`${arch}: summed completion log-probs match to 1e-4 relative, in a padded batch`, async () => {
      const { configJson, tensors } = randomCheckpoint(
        arch,
        {
          vocab_size: 259,
          hidden_size: 32,
          intermediate_size: 64,
          num_hidden_layers: 2,
          max_position_embeddings: 128,
          ...dims,
        } as Parameters<typeof randomCheckpoint>[1],
        17,
      );
      const host = new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }]));
      const model = createCausalLM(parseModelConfig(configJson, arch), host, arch);
      const batch = collatePreference(pairs, {
        max_length: null,
        max_prompt_length: null,
        truncation_mode: 'keep_start',
        pad_token_id: tokenizer.padTokenId!,
      });
      expect(new Set(pairs.map((p) => p.prompt_ids.length + p.chosen_ids.length)).size).toBeGreaterThan(1);
      const r = await evaluateBatch({ model, policy: null, reference: null }, batch, DEFAULT_DPO_CONFIG);
      const ours = [...r.chosenLogps, ...r.rejectedLogps];
      const expected = [
        ...pairs.map((p) => referenceCompletionLogp(configJson, tensors, p.prompt_ids, p.chosen_ids)),
        ...pairs.map((p) => referenceCompletionLogp(configJson, tensors, p.prompt_ids, p.rejected_ids)),
      ];
      expect(relativeMaxError(ours, expected)).toBeLessThan(1e-4);
      model.dispose();
    });
  }
});
