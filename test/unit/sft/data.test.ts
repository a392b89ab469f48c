import { describe, expect, it } from 'vitest';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { collateSft, sftTokenIndex } from '../../../src/core/sft/batch';
import { tokenizeSftExamples, type TokenizedSftExample } from '../../../src/core/sft/tokenize';

const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
const tok = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
const bytes = (s: string) => [...new TextEncoder().encode(s)];
const IM_START = 257;
const IM_END = 258;
const EOS = 256;

describe('tokenizeSftExamples', () => {
  it('splits a chat example after the generation prompt: the reply, <|im_end|> and the newline are the completion', () => {
    const [t] = tokenizeSftExamples(
      [{ prompt: [{ role: 'user', content: 'Hi?' }], completion: [{ role: 'assistant', content: 'Yo' }] }],
      tok,
    );
    expect(t.prompt_ids).toEqual([IM_START, ...bytes('user\nHi?'), IM_END, ...bytes('\n'), IM_START, ...bytes('assistant\n')]);
    expect(t.completion_ids).toEqual([...bytes('Yo'), IM_END, ...bytes('\n')]);
    expect(t.prefix_mismatch).toBe(false);
  });

  it('appends EOS to a plain-text completion, once', () => {
    const [a, b] = tokenizeSftExamples(
      [
        { prompt: 'Q: ', completion: 'ab' },
        { prompt: 'Q: ', completion: 'ab<|endoftext|>' },
      ],
      tok,
    );
    expect(a.prompt_ids).toEqual(bytes('Q: '));
    expect(a.completion_ids).toEqual([...bytes('ab'), EOS]);
    expect(b.completion_ids).toEqual([...bytes('ab'), EOS]);
  });

  it('refuses a string prompt with a message completion, naming the example', () => {
    expect(() => tokenizeSftExamples([{ prompt: 'x', completion: [{ role: 'assistant', content: 'y' }] }], tok)).toThrow(/SFT example 0/);
  });
});

const ex = (index: number, prompt_ids: number[], completion_ids: number[]): TokenizedSftExample => ({
  index,
  prompt_ids,
  completion_ids,
  prefix_mismatch: false,
});

describe('collateSft and sftTokenIndex', () => {
  it('right-pads, masks the prompt and padding, and scores each completion token from the position before it', () => {
    const batch = collateSft([ex(0, [1, 2, 3], [4, 5]), ex(1, [6], [7])], { max_length: null, pad_token_id: 0 });
    expect([batch.rows, batch.T]).toEqual([2, 5]);
    expect([...batch.input_ids]).toEqual([1, 2, 3, 4, 5, 6, 7, 0, 0, 0]);
    expect([...batch.completion_mask]).toEqual([0, 0, 0, 1, 1, 0, 1, 0, 0, 0]);
    const index = sftTokenIndex(batch);
    // Row 0: position 2 predicts 4, position 3 predicts 5; row 1 (offset 5): position 5 predicts 7.
    expect([...index.positions]).toEqual([2, 3, 5]);
    expect([...index.labels]).toEqual([4, 5, 7]);
  });

  it('truncates keep_start: the completion tail goes first', () => {
    const batch = collateSft([ex(0, [1, 2], [3, 4, 5])], { max_length: 3, pad_token_id: 0 });
    expect([...batch.input_ids]).toEqual([1, 2, 3]);
    expect([...sftTokenIndex(batch).labels]).toEqual([3]);
  });
});
