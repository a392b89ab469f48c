import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { DatasetSession } from '../../../src/worker/dataset-session';

const ROWS = [
  { prompt: 'Name a fruit.', chosen: 'A fig.', rejected: 'A rock.' },
  { prompt: 'Name a tree.', chosen: 'An oak.', rejected: 'A FIG tree?' },
  { prompt: 'Say hi.', chosen: 'hi', rejected: 'no' },
  {
    prompt: [{ role: 'user', content: 'Pick a figure.' }],
    chosen: [{ role: 'assistant', content: '8' }],
    rejected: [{ role: 'assistant', content: 'x' }],
  },
];

const load = () => DatasetSession.load([new Blob([ROWS.map((r) => JSON.stringify(r)).join('\n')])], 'rows.jsonl', {}, () => undefined);

describe('the dataset view in the worker', () => {
  it('searches prompts and answers in any case (messages by their content) and pages through the matches', async () => {
    const d = await load();
    expect(d.preview(0, 10).total).toBe(4);
    const fig = d.preview(0, 10, 'FIG');
    expect(fig.total).toBe(3);
    expect(fig.rows.map((r) => [r.index, r.line])).toEqual([
      [0, 1],
      [1, 2],
      [3, 4],
    ]);
    expect(d.preview(1, 1, 'fig').rows.map((r) => r.line)).toEqual([2]);
    expect(d.preview(0, 10, 'nothing like this').total).toBe(0);
    expect(d.preview(0, 10, '   ').total).toBe(4);
  });

  it('shows one row as the model sees it, with what max_length keeps', async () => {
    const d = await load();
    const tokenizer = ChatTokenizer.fromJSON(
      JSON.parse(readFileSync('public/models/demo/tokenizer.json', 'utf8')),
      JSON.parse(readFileSync('public/models/demo/tokenizer_config.json', 'utf8')),
    );
    const view = await d.pairView(
      2,
      tokenizer,
      { max_length: null, max_prompt_length: null, truncation_mode: 'keep_start' },
      () => undefined,
    );
    expect(view.line).toBe(3);
    // The byte-level demo tokenizer: one token a character, and the end-of-text token TRL appends.
    expect(view.chosen.completion.map((t) => t.text)).toEqual(['h', 'i', '<|endoftext|>']);
    expect(view.rejected.completion.map((t) => t.text)).toEqual(['n', 'o', '<|endoftext|>']);
    expect(tokenizer.decode(view.prompt.map((t) => t.id))).toContain('Say hi.');
    const P = view.prompt.length;
    const cut = await d.pairView(
      2,
      tokenizer,
      { max_length: P + 1, max_prompt_length: null, truncation_mode: 'keep_start' },
      () => undefined,
    );
    expect(cut.chosen.kept).toEqual({ prompt: { start: 0, end: P }, completion: { start: 0, end: 1 } });
    await expect(
      d.pairView(9, tokenizer, { max_length: null, max_prompt_length: null, truncation_mode: 'keep_start' }, () => undefined),
    ).rejects.toThrow('there is no row 10: the dataset has 4');
  });
});
