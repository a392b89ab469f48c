import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collatePreference } from '../../../src/core/data/collate';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { readFileSync } from 'node:fs';
import { fsSource } from '../../../src/cli/fs-source';
import { parsePreferenceFile } from '../../../src/core/data/read';
import { batchMetrics, evaluateBatch } from '../../../src/core/dpo/batch';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM, loadCausalLM } from '../../../src/core/model/load';
import { loadTokenizerFiles } from '../../../src/core/model/config';
import { parseSafetensors } from '../../../src/core/model/safetensors';
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

/**
 * TRL's token metrics of a batch in float64 from the reference logits of each unpadded sequence:
 * entropy, the mean over chosen and rejected completion tokens of −Σ p log p; mean_token_accuracy, the
 * fraction of chosen completion tokens whose largest logit is the label; num_tokens, the non-padding
 * tokens of both sequences, prompt included.
 */
function referenceTokenMetrics(
  configJson: Record<string, unknown>,
  tensors: Map<string, { shape: number[]; data: ArrayLike<number> }>,
  pairs: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[],
): { entropy: number; mean_token_accuracy: number; num_tokens: number; correct: number } {
  let entropySum = 0;
  let completionTokens = 0;
  let correct = 0;
  let chosenTokens = 0;
  let numTokens = 0;
  for (const p of pairs) {
    for (const [completion, isChosen] of [
      [p.chosen_ids, true],
      [p.rejected_ids, false],
    ] as const) {
      const ids = [...p.prompt_ids, ...completion];
      numTokens += ids.length;
      const logits = referenceLogits(configJson, tensors, ids);
      for (let t = p.prompt_ids.length; t < ids.length; t++) {
        const logp = logSoftmax64(logits[t - 1]);
        entropySum -= logp.reduce((s, l) => s + Math.exp(l) * l, 0);
        completionTokens++;
        if (isChosen) {
          const row = logits[t - 1];
          let best = 0;
          for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
          if (best === ids[t]) correct++;
          chosenTokens++;
        }
      }
    }
  }
  return { entropy: entropySum / completionTokens, mean_token_accuracy: correct / chosenTokens, num_tokens: numTokens, correct };
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

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
      const metrics = batchMetrics(r);
      const reference = referenceTokenMetrics(configJson, tensors, pairs);
      expect(relative(metrics.entropy, reference.entropy)).toBeLessThan(1e-4);
      expect(metrics.mean_token_accuracy).toBe(reference.mean_token_accuracy);
      expect(r.numTokens).toBe(reference.num_tokens);
      model.dispose();
    });
  }

  it('the demo model: entropy and mean_token_accuracy of held-out pairs match float64 from the same token ids', async () => {
    const dir = 'public/models/demo';
    const src = fsSource(dir);
    const { model } = await loadCausalLM(src);
    const files = await loadTokenizerFiles(src);
    const demoTokenizer = ChatTokenizer.fromJSON(files.tokenizerJson, files.tokenizerConfig);
    const configJson = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')) as Record<string, unknown>;
    const { tensors } = parseSafetensors(new Uint8Array(readFileSync(`${dir}/model.safetensors`)), `${dir}/model.safetensors`);
    const rows = parsePreferenceFile(readFileSync('public/datasets/colors-heldout.jsonl', 'utf8'), 'colors-heldout.jsonl').rows.slice(0, 6);
    const demoPairs = tokenize(rows, demoTokenizer);
    const batch = collatePreference(demoPairs, {
      max_length: null,
      max_prompt_length: null,
      truncation_mode: 'keep_start',
      pad_token_id: demoTokenizer.padTokenId!,
    });
    const metrics = batchMetrics(await evaluateBatch({ model, policy: null, reference: null }, batch, DEFAULT_DPO_CONFIG));
    const reference = referenceTokenMetrics(configJson, tensors as never, demoPairs);
    // A trained model predicts most of its answers' tokens: the accuracy is a real fraction, not 0.
    expect(reference.mean_token_accuracy).toBeGreaterThan(0.3);
    expect(reference.mean_token_accuracy).toBeLessThan(1);
    expect(metrics.mean_token_accuracy).toBe(reference.mean_token_accuracy);
    expect(relative(metrics.entropy, reference.entropy)).toBeLessThan(1e-4);
    model.dispose();
  });
});
