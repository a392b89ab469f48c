import { readFileSync, statSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../../src/cli/fs-source';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { allColorPrompts, gradeColorAnswer } from '../../../src/core/demo/colors';
import { demoDatasetContents } from '../../../src/core/demo/datasets';
import { greedyBatch } from '../../../src/core/demo/evaluate';
import { allTonePrompts, gradeToneAnswer } from '../../../src/core/demo/tone';
import { loadTokenizerFiles } from '../../../src/core/model/config';
import { generateIds, stopTokenIds } from '../../../src/core/model/generate';
import { loadCausalLM } from '../../../src/core/model/load';
import type { CausalLM } from '../../../src/core/model/types';

/** The committed demo model and datasets, as the studio loads them from /models/demo/ and /datasets/. */
const MODEL_DIR = 'public/models/demo';
const DATASETS_DIR = 'public/datasets';

let model: CausalLM;
let tokenizer: ChatTokenizer;
let stopIds: number[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  const src = fsSource(MODEL_DIR);
  model = (await loadCausalLM(src)).model;
  const files = await loadTokenizerFiles(src);
  tokenizer = ChatTokenizer.fromJSON(files.tokenizerJson, files.tokenizerConfig);
  stopIds = stopTokenIds(tokenizer, files.generationConfig);
});

const promptIds = (text: string) =>
  tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: text }], { addGenerationPrompt: true }), false);

describe('the committed demo model', () => {
  it('is a small byte-level Llama with a chat template that stops on <|im_end|>', () => {
    expect(statSync(`${MODEL_DIR}/model.safetensors`).size).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(model.config).toMatchObject({ architecture: 'LlamaForCausalLM', vocab_size: 259 });
    expect(tokenizer.hasChatTemplate).toBe(true);
    expect(stopIds).toContain(tokenizer.tokenId('<|im_end|>'));
  });

  it('answers held-out colour prompts with the colour, in one case or the other, and stops', async () => {
    const held = allColorPrompts().filter((p) => p.heldOut);
    const sample = [held[0], held[3], held[45], held[70]];
    for (const p of sample) {
      const ids = await generateIds(model, promptIds(p.text), { adapter: null, maxNewTokens: 12, temperature: 0, seed: 0, stopIds });
      expect(stopIds).toContain(ids[ids.length - 1]);
      expect(gradeColorAnswer(p.text, tokenizer.decode(ids, true)), `${p.text} → ${tokenizer.decode(ids)}`).not.toBe('wrong');
    }
  });

  it('answers a request politely or curtly', async () => {
    const ids = await generateIds(model, promptIds(allTonePrompts()[5].text), {
      adapter: null,
      maxNewTokens: 32,
      temperature: 0,
      seed: 0,
      stopIds,
    });
    expect(gradeToneAnswer(tokenizer.decode(ids, true))).not.toBe('other');
  });

  it('greedyBatch decodes as generateIds does, one prompt at a time', async () => {
    const texts = [allColorPrompts()[5].text, allTonePrompts()[0].text, allColorPrompts()[200].text];
    const batched = await greedyBatch(model, texts.map(promptIds), { adapter: null, maxNewTokens: 32, stopIds });
    for (const [i, text] of texts.entries()) {
      expect(batched[i]).toEqual(
        await generateIds(model, promptIds(text), { adapter: null, maxNewTokens: 32, temperature: 0, seed: 0, stopIds }),
      );
    }
  });
});

describe('the committed demo datasets', () => {
  it('are what the generator writes (rerun `npm run make-demo-model -- --datasets-only` after changing it)', () => {
    for (const [file, text] of Object.entries(demoDatasetContents()))
      expect(readFileSync(`${DATASETS_DIR}/${file}`, 'utf8'), file).toBe(text);
  });
});
