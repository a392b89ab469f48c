import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { splitTrainEval } from '../../../src/core/data/split';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';
import { parseModelConfig } from '../../../src/core/model/config';
import { generateIds, stopTokenIds } from '../../../src/core/model/generate';
import { createCausalLM } from '../../../src/core/model/load';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import { answerPrompts } from '../../../src/worker/answer-prompts';
import { DatasetSession } from '../../../src/worker/dataset-session';
import type { ModelSession } from '../../../src/worker/model-session';
import type { AnswerRequest } from '../../../src/worker/protocol';

/** The demo tokenizer (bytes and three specials, with a chat template) over a tiny random model of its vocabulary. */
let session: ModelSession;
let dataset: DatasetSession;
const noAdapters = { label: 'base model (no adapter)', policy: null, reference: null };
const progress: { label: string; fraction: number | null }[] = [];
const report = (_task: string, label: string, fraction: number | null) => progress.push({ label, fraction });

const ROWS = [
  { prompt: 'Say hi.', chosen: 'hi', rejected: 'no' },
  { prompt: 'Say hi.', chosen: 'hello', rejected: 'go' },
  { prompt: 'Count to two.', chosen: '1 2', rejected: '2 1' },
  { prompt: 'Name a fruit.', chosen: 'fig', rejected: 'rock' },
  { prompt: 'Name a tree.', chosen: 'oak', rejected: 'fig' },
];

beforeAll(async () => {
  await tf.setBackend('cpu');
  const tokenizer = ChatTokenizer.fromJSON(
    JSON.parse(readFileSync('public/models/demo/tokenizer.json', 'utf8')),
    JSON.parse(readFileSync('public/models/demo/tokenizer_config.json', 'utf8')),
  );
  const dims = {
    vocab_size: 259,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 64,
  };
  const { configJson, tensors } = randomCheckpoint('LlamaForCausalLM', dims, 3, { std: 0.5 });
  const host = new Map([...tensors].map(([name, t]) => [name, { dtype: 'F32' as const, ...t }]));
  const model = createCausalLM(parseModelConfig(configJson, 'config.json'), host, 'tiny');
  session = { model, tokenizer, generationConfig: null } as unknown as ModelSession;
  const text = ROWS.map((r) => JSON.stringify(r)).join('\n');
  dataset = await DatasetSession.load([new Blob([text])], 'rows.jsonl', {}, () => undefined);
});

function request(overrides: Partial<AnswerRequest>): AnswerRequest {
  return {
    prompts: { kind: 'texts', texts: [] },
    models: ['reference'],
    answersPerPrompt: 1,
    maxNewTokens: 5,
    temperature: 0,
    seed: 9,
    ...overrides,
  };
}

function ids(text: string): number[] {
  const tok = session.tokenizer;
  return tok.encode(tok.applyChatTemplate([{ role: 'user', content: text }], { addGenerationPrompt: true }), false);
}

describe('answerPrompts', () => {
  it('answers typed prompts k times each, answer j of prompt i sampled with seed + i·k + j', async () => {
    progress.length = 0;
    const texts = ['Say hi.', '  ', 'Name a tree.'];
    const set = await answerPrompts(
      session,
      null,
      request({ prompts: { kind: 'texts', texts }, answersPerPrompt: 3, temperature: 1 }),
      noAdapters,
      report,
    );
    expect(set.prompts.map((p) => [p.prompt, p.line])).toEqual([
      ['Say hi.', null],
      ['Name a tree.', null],
    ]);
    const stopIds = stopTokenIds(session.tokenizer, null);
    for (const [i, p] of set.prompts.entries()) {
      expect(p.policy).toBeNull();
      for (let j = 0; j < 3; j++) {
        const alone = await generateIds(session.model, ids(p.prompt as string), {
          adapter: null,
          maxNewTokens: 5,
          temperature: 1,
          seed: 9 + i * 3 + j,
          stopIds,
        });
        expect(p.reference![j]).toBe(session.tokenizer.decode(alone, true));
      }
    }
    expect(new Set(set.prompts[0].reference).size).toBeGreaterThan(1);
    const fractions = progress.map((p) => p.fraction!);
    expect(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]))).toBe(true);
    expect(progress[progress.length - 1]).toEqual({ label: 'done', fraction: 1 });
  });

  it('gives the policy the reference answers when it has no adapter of its own', async () => {
    const set = await answerPrompts(
      session,
      null,
      request({ prompts: { kind: 'texts', texts: ['Say hi.'] }, models: ['reference', 'policy'] }),
      noAdapters,
      report,
    );
    expect(set.policy).toBe('base model (no adapter)');
    expect(set.prompts[0].policy).toEqual(set.prompts[0].reference);
  });

  it("takes the dataset's first distinct prompts, with their lines", async () => {
    const set = await answerPrompts(session, dataset, request({ prompts: { kind: 'first', count: 3 } }), noAdapters, report);
    expect(set.prompts.map((p) => [p.prompt, p.line])).toEqual([
      ['Say hi.', 1],
      ['Count to two.', 3],
      ['Name a fruit.', 4],
    ]);
  });

  it("takes the eval split's prompts as a run holds them out, or the first ones without a split", async () => {
    const config = { ...DEFAULT_DPO_CONFIG, eval_split: 3, seed: 4 };
    const withSplit = await answerPrompts(session, dataset, request({ prompts: { kind: 'eval', count: 2, config } }), noAdapters, report);
    // The rows a run with this config holds out (every row here is short enough to be kept), each prompt once.
    const held = splitTrainEval(
      ROWS.map((r, i) => ({ ...r, line: i + 1 })),
      3,
      4,
    ).eval.filter((r, i, all) => all.findIndex((x) => x.prompt === r.prompt) === i);
    expect(withSplit.prompts.map((p) => [p.prompt, p.line])).toEqual(held.map((r) => [r.prompt, r.line]));
    const noSplit = await answerPrompts(
      session,
      dataset,
      request({ prompts: { kind: 'eval', count: 2, config: { ...DEFAULT_DPO_CONFIG, eval_split: 0 } } }),
      noAdapters,
      report,
    );
    expect(noSplit.prompts.map((p) => p.line)).toEqual([1, 3]);
  });

  it('refuses requests it cannot answer', async () => {
    await expect(answerPrompts(session, null, request({ prompts: { kind: 'texts', texts: [' '] } }), noAdapters, report)).rejects.toThrow(
      /no prompts/,
    );
    await expect(answerPrompts(session, null, request({ prompts: { kind: 'first', count: 2 } }), noAdapters, report)).rejects.toThrow(
      /load a preference dataset/,
    );
    await expect(
      answerPrompts(session, null, request({ prompts: { kind: 'texts', texts: ['a'] }, answersPerPrompt: 0 }), noAdapters, report),
    ).rejects.toThrow(/answers per prompt/);
  });
});
