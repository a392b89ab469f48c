import { describe, expect, it } from 'vitest';
import { datasetJsonl } from '../../../src/core/export/dataset-jsonl';
import { parsePreferenceFile } from '../../../src/core/data/read';

function parseLines(text: string): unknown[] {
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('datasetJsonl', () => {
  it('writes one TRL pair per line with an explicit prompt', () => {
    const rows = [
      { line: 1, prompt: 'Q: 2+2?', chosen: ' 4', rejected: ' 5' },
      { line: 2, prompt: 'Line\nbreak "quoted" <img src=x>', chosen: ' ok', rejected: ' no' },
    ];
    expect(parseLines(datasetJsonl(rows))).toEqual(rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })));
  });

  it('keeps conversations as message lists, tools as a JSON string and template kwargs as an object', () => {
    const tools = [{ type: 'function', function: { name: 'add', parameters: { type: 'object' } } }];
    const row = {
      prompt: [{ role: 'user', content: 'Add 2 and 3' }],
      chosen: [{ role: 'assistant', content: '5' }],
      rejected: [{ role: 'assistant', content: '6' }],
      tools,
      chat_template_kwargs: { enable_thinking: false },
    };
    expect(parseLines(datasetJsonl([row]))).toEqual([{ ...row, tools: JSON.stringify(tools) }]);
  });

  it('refuses a file mixing plain text and conversations, naming the row', () => {
    const text = { line: 3, prompt: 'a', chosen: 'b', rejected: 'c' };
    const chat = {
      line: 7,
      prompt: [{ role: 'user', content: 'a' }],
      chosen: [{ role: 'assistant', content: 'b' }],
      rejected: [{ role: 'assistant', content: 'c' }],
    };
    expect(() => datasetJsonl([text, chat])).toThrow('row 2 (line 7) is conversational but the first row is plain text');
  });

  it('writes what the studio read back as the same rows', () => {
    const source = [
      '{"chosen": "Human: hi Assistant: hello there", "rejected": "Human: hi Assistant: go away"}',
      '{"prompt": "Why?", "chosen": [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Because."}], "rejected": [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "No."}]}',
    ];
    for (const line of source) {
      const first = parsePreferenceFile(line, 'in.jsonl');
      const again = parsePreferenceFile(datasetJsonl(first.rows), 'out.jsonl');
      expect(again.issues).toEqual([]);
      expect(again.rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }))).toEqual(
        first.rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })),
      );
    }
  });
});
