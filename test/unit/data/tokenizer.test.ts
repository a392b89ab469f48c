import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { byteLevelAlphabet, byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { Rng } from '../../../src/core/random';

const utf8 = (s: string) => [...new TextEncoder().encode(s)];
const byteTokenizer = (options?: Parameters<typeof byteLevelTokenizerFiles>[0]) => {
  const f = byteLevelTokenizerFiles(options);
  return ChatTokenizer.fromJSON(f.tokenizerJson, f.tokenizerConfig);
};

/** A random string mixing ASCII (controls included), Latin-1, combining marks, CJK and astral emoji. */
function randomText(rng: Rng, length: number): string {
  const ranges: [number, number][] = [
    [0x00, 0x7f],
    [0x80, 0xff],
    [0x300, 0x36f],
    [0x4e00, 0x9fff],
    [0x1f600, 0x1f64f],
  ];
  let s = '';
  for (let i = 0; i < length; i++) {
    const [lo, hi] = ranges[rng.int(ranges.length)];
    s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
  }
  return s;
}

describe('byte-level test tokenizer', () => {
  it("uses GPT-2's byte alphabet: printable bytes are themselves, space is Ġ, newline is Ċ, all 256 distinct", () => {
    const a = byteLevelAlphabet();
    expect(a).toHaveLength(256);
    expect(new Set(a).size).toBe(256);
    expect(a[0x41]).toBe('A');
    expect(a[0xe9]).toBe('é');
    expect(a[0x20]).toBe('\u0120');
    expect(a[0x0a]).toBe('\u010a');
    expect(a[0x00]).toBe('\u0100');
  });

  it('encodes any UTF-8 text to its bytes (id = byte value) and decodes it back exactly', () => {
    const tok = byteTokenizer();
    const rng = new Rng(7);
    for (let trial = 0; trial < 30; trial++) {
      const text = randomText(rng, 1 + rng.int(40));
      const ids = tok.encode(text);
      expect(ids).toEqual(utf8(text));
      expect(tok.decode(ids)).toBe(text);
    }
    expect(tok.encode('  two  spaces\r\n')).toEqual(utf8('  two  spaces\r\n'));
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
  });

  it('has 259 tokens: <|endoftext|> 256 (eos and pad), <|im_start|> 257, <|im_end|> 258, no BOS', () => {
    const tok = byteTokenizer();
    expect(tok.vocabSize).toBe(259);
    expect([tok.eosToken, tok.eosTokenId, tok.padTokenId, tok.bosTokenId]).toEqual(['<|endoftext|>', 256, 256, null]);
    expect(tok.encode('a<|im_start|>b<|im_end|>c<|endoftext|>')).toEqual([97, 257, 98, 258, 99, 256]);
    expect(tok.decode([97, 257, 98, 258, 99, 256])).toBe('a<|im_start|>b<|im_end|>c<|endoftext|>');
    expect(tok.decode([97, 257, 98, 258, 99, 256], true)).toBe('abc');
  });

  it('adds extra special tokens from id 259 on', () => {
    const tok = byteTokenizer({ extraSpecialTokens: ['<think>', '</think>'] });
    expect(tok.vocabSize).toBe(261);
    expect(tok.encode('<think>x</think>')).toEqual([259, 120, 260]);
  });

  it('matches the files kept in test/fixtures/tokenizer/byte-level', () => {
    const read = (name: string) =>
      JSON.parse(readFileSync(new URL(`../../fixtures/tokenizer/byte-level/${name}`, import.meta.url), 'utf8'));
    const f = byteLevelTokenizerFiles();
    expect(read('tokenizer.json')).toEqual(f.tokenizerJson);
    expect(read('tokenizer_config.json')).toEqual(f.tokenizerConfig);
  });

  it('renders ChatML', () => {
    const tok = byteTokenizer();
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ];
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
    );
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });
});

describe('ChatTokenizer', () => {
  const files = byteLevelTokenizerFiles();
  const withConfig = (extra: Record<string, unknown>, json: object = files.tokenizerJson) =>
    ChatTokenizer.fromJSON(json, { ...files.tokenizerConfig, ...extra });

  it('passes special tokens, tools, add_generation_prompt and kwargs to the template', () => {
    const tok = withConfig({
      bos_token: { content: '<|im_start|>', special: true },
      chat_template:
        '{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{% if tools is none %}no tools{% else %}{{ tools | length }} tools{% endif %}|{{ add_generation_prompt }}|{{ flavour }}|{{ messages[0].content }}',
    });
    const m = [{ role: 'user', content: 'x' }];
    expect(tok.applyChatTemplate(m, { addGenerationPrompt: true, kwargs: { flavour: 'mint' } })).toBe(
      '<|im_start|>|<|endoftext|>|<|endoftext|>|no tools|true|mint|x',
    );
    expect(tok.applyChatTemplate(m, { addGenerationPrompt: false, tools: [{ name: 'f' }, { name: 'g' }] })).toContain('|2 tools|false|');
    // TRL passes `tools or None`: an empty list means no tools.
    expect(tok.applyChatTemplate(m, { addGenerationPrompt: false, tools: [] })).toContain('|no tools|');
  });

  it('uses the template named "default" from a list, and a chat_template.jinja text over the config', () => {
    const tok = withConfig({
      chat_template: [
        { name: 'tool_use', template: 'T' },
        { name: 'default', template: 'D' },
      ],
    });
    expect(tok.applyChatTemplate([], { addGenerationPrompt: false })).toBe('D');
    const fromFile = ChatTokenizer.fromJSON(files.tokenizerJson, files.tokenizerConfig, 'F{{ messages | length }}');
    expect(fromFile.applyChatTemplate([], { addGenerationPrompt: false })).toBe('F0');
    expect(() => withConfig({ chat_template: [{ name: 'tool_use', template: 'T' }] })).toThrow(/none is named "default"/);
  });

  it('says clearly when there is no chat template, or when the template fails', () => {
    const none = withConfig({ chat_template: undefined });
    expect(none.hasChatTemplate).toBe(false);
    expect(() => none.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: true })).toThrow(/no chat template/);
    const raising = withConfig({ chat_template: "{{ raise_exception('roles must alternate') }}" });
    expect(() => raising.applyChatTemplate([], { addGenerationPrompt: true })).toThrow(/chat template failed: .*roles must alternate/);
  });

  it('falls back to EOS for padding when there is no pad token', () => {
    expect(withConfig({ pad_token: null }).padTokenId).toBe(256);
    expect(withConfig({ pad_token: '<|im_end|>' }).padTokenId).toBe(258);
  });

  it('adds special tokens from the post-processor only when asked', () => {
    const json = {
      ...files.tokenizerJson,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|im_start|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: '<|im_start|>', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { '<|im_start|>': { id: '<|im_start|>', ids: [257], tokens: ['<|im_start|>'] } },
      },
    };
    const tok = withConfig({}, json);
    expect(tok.encode('hi')).toEqual([257, 104, 105]);
    expect(tok.encode('hi', false)).toEqual([104, 105]);
  });

  it('rejects files that are not JSON objects, naming the file', () => {
    expect(() => ChatTokenizer.fromJSON([], {})).toThrow(/tokenizer\.json must hold a JSON object/);
    expect(() => ChatTokenizer.fromJSON(files.tokenizerJson, null)).toThrow(/tokenizer_config\.json must hold a JSON object/);
    expect(() => ChatTokenizer.fromJSON({ model: {} }, {})).toThrow(/could not load tokenizer\.json/);
  });
});
