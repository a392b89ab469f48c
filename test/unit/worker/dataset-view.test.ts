import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import { DatasetSession, splitForRun } from '../../../src/worker/dataset-session';

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

const tokenizer = () =>
  ChatTokenizer.fromJSON(
    JSON.parse(readFileSync('public/models/demo/tokenizer.json', 'utf8')),
    JSON.parse(readFileSync('public/models/demo/tokenizer_config.json', 'utf8')),
  );

for (const [mode, onDemandAbove] of [
  ['held in memory', undefined],
  ['read on demand', 0],
] as const) {
  const load = () =>
    DatasetSession.load([new Blob([ROWS.map((r) => JSON.stringify(r)).join('\n')])], 'rows.jsonl', {}, () => undefined, onDemandAbove);

  describe(`the dataset view in the worker, rows ${mode}`, () => {
    it('searches prompts and answers in any case (messages by their content) and pages through the matches', async () => {
      const d = await load();
      expect(d.onDemand).toBe(onDemandAbove === 0);
      expect((await d.preview(0, 10)).total).toBe(4);
      const fig = await d.preview(0, 10, 'FIG');
      expect(fig.total).toBe(3);
      expect(fig.rows.map((r) => [r.index, r.line])).toEqual([
        [0, 1],
        [1, 2],
        [3, 4],
      ]);
      expect((await d.preview(1, 1, 'fig')).rows.map((r) => r.line)).toEqual([2]);
      expect((await d.preview(0, 10, 'nothing like this')).total).toBe(0);
      expect((await d.preview(0, 10, '   ')).total).toBe(4);
    });

    it('shows one row as the model sees it, with what max_length keeps', async () => {
      const d = await load();
      const tok = tokenizer();
      const view = await d.pairView(2, tok, { max_length: null, max_prompt_length: null, truncation_mode: 'keep_start' });
      expect(view.line).toBe(3);
      // The byte-level demo tokenizer: one token a character, and the end-of-text token TRL appends.
      expect(view.chosen.completion.map((t) => t.text)).toEqual(['h', 'i', '<|endoftext|>']);
      expect(view.rejected.completion.map((t) => t.text)).toEqual(['n', 'o', '<|endoftext|>']);
      expect(tok.decode(view.prompt.map((t) => t.id))).toContain('Say hi.');
      const P = view.prompt.length;
      const cut = await d.pairView(2, tok, { max_length: P + 1, max_prompt_length: null, truncation_mode: 'keep_start' });
      expect(cut.chosen.kept).toEqual({ prompt: { start: 0, end: P }, completion: { start: 0, end: 1 } });
      await expect(d.pairView(9, tok, { max_length: null, max_prompt_length: null, truncation_mode: 'keep_start' })).rejects.toThrow(
        'there is no row 10: the dataset has 4',
      );
    });
  });
}

describe('a dataset read on demand is the dataset held in memory', () => {
  const files: [string, string][] = [
    ['mixed-bad.jsonl', 'test/fixtures/data/mixed-bad.jsonl'],
    ['hh-rlhf.parquet', 'test/fixtures/data/formats/hh-rlhf.parquet'],
    ['pairs.snappy.parquet', 'test/fixtures/data/formats/pairs.snappy.parquet'],
  ];
  for (const [name, path] of files) {
    it(`${name}: summary, token statistics, pages, searches and training pairs`, async () => {
      const blob = new Blob([readFileSync(path)]);
      const whole = await DatasetSession.load([blob], name, {}, () => undefined);
      const onDemand = await DatasetSession.load([blob], name, {}, () => undefined, 0);
      expect([whole.onDemand, onDemand.onDemand]).toEqual([false, true]);
      const { fingerprint: _a, onDemand: _b, ...summary } = whole.summary();
      expect(onDemand.summary()).toEqual({ ...summary, fingerprint: onDemand.fingerprint, onDemand: true });
      const tok = tokenizer();
      const [t1, t2] = [await whole.tokenize(tok, () => undefined), await onDemand.tokenize(tok, () => undefined)];
      for (const [maxLength, mode] of [
        [null, 'keep_start'],
        [40, 'keep_start'],
        [40, 'keep_end'],
      ] as const) {
        expect(onDemand.stats(t2, maxLength, mode)).toEqual(whole.stats(t1, maxLength, mode));
        const [p1, p2] = [whole.trainingPairs(t1, maxLength, mode), onDemand.trainingPairs(t2, maxLength, mode)];
        expect(p2.length).toBe(p1.length);
        expect(p2.longest).toBe(p1.longest);
        expect(p2.rows).toEqual(p1.rows);
        const positions = Array.from({ length: p1.length }, (_, i) => (i * 5 + 1) % p1.length);
        expect(await p2.get(positions)).toEqual(await p1.get(positions));
      }
      expect(await onDemand.preview(3, 7)).toEqual(await whole.preview(3, 7));
      // Plain queries go through the raw lines first (JSON Lines); the others read every row.
      for (const query of ['the', 'ASSISTANT: ', 'a', '"', '\\n', 'é', 'nothing like this']) {
        expect(await onDemand.preview(0, 5, query)).toEqual(await whole.preview(0, 5, query));
        expect((await onDemand.preview(0, 5, query)).total).toBe((await whole.preview(0, 5, query)).total);
      }
    });
  }
});

describe('searching a file read on demand', () => {
  it('a search that a newer one replaces ends early, and the newer one answers', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ prompt: `p${i}`, chosen: i % 2 ? 'odd' : 'even', rejected: 'x' }));
    const d = await DatasetSession.load([new Blob([rows.join('\n')])], 'many.jsonl', {}, () => undefined, 0);
    const [first, second] = await Promise.all([d.preview(0, 5, 'odd'), d.preview(0, 5, 'even')]);
    expect(first).toEqual({ total: 0, rows: [], superseded: true });
    expect(second.total).toBe(1500);
    expect(second.rows.map((r) => r.line)).toEqual([1, 3, 5, 7, 9]);
    expect((await d.preview(0, 5, 'odd')).total).toBe(1500);
  });
});

describe('a run on a file read on demand', () => {
  it('holds out its eval pairs in memory, as many as it may, and refuses more with what to do', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => JSON.stringify({ prompt: `p${i}`, chosen: 'yes', rejected: 'no' }));
    const blob = new Blob([rows.join('\n')]);
    const tok = tokenizer();
    for (const onDemandAbove of [undefined, 0]) {
      const d = await DatasetSession.load([blob], 'rows.jsonl', {}, () => undefined, onDemandAbove);
      const pairs = d.trainingPairs(await d.tokenize(tok, () => undefined), null, 'keep_start');
      const { train, eval: held } = await splitForRun(pairs, 30, 7, 30);
      expect([train.length, held.length]).toEqual([270, 30]);
      expect(held.every((p) => p.prompt_ids.length > 0)).toBe(true);
      if (onDemandAbove === 0) {
        await expect(splitForRun(pairs, 0.2, 7, 30)).rejects.toThrow(
          'eval_split 0.2 holds out 60 pairs of a file read on demand, and held-out pairs are kept in memory: hold out at most 30',
        );
      } else {
        expect((await splitForRun(pairs, 0.2, 7, 30)).eval.length).toBe(60);
      }
    }
  });
});

describe('a JSON Lines file parsed in pieces (over 4 MiB) in memory', () => {
  it('reads as the same file read on demand: rows, problems with their lines, counts', async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) =>
      i % 997 === 5
        ? `{"prompt": "cut ${i}`
        : i % 1013 === 7
          ? ''
          : JSON.stringify({
              prompt: `Question ${i}: ${'word '.repeat(i % 40)}?`,
              chosen: i % 3 ? `yes ${i}` : 'same',
              rejected: i % 3 ? `no ${i}` : 'same',
            }),
    );
    const blob = new Blob([lines.join('\n')]);
    expect(blob.size).toBeGreaterThan(4 * 2 ** 20);
    const whole = await DatasetSession.load([blob], 'big.jsonl', {}, () => undefined, Infinity);
    const onDemand = await DatasetSession.load([blob], 'big.jsonl', {}, () => undefined, 0);
    expect([whole.onDemand, onDemand.onDemand]).toEqual([false, true]);
    const { fingerprint: _f, onDemand: _o, ...summary } = whole.summary();
    expect(onDemand.summary()).toEqual({ ...summary, fingerprint: onDemand.fingerprint, onDemand: true });
    expect(summary.issues.length).toBe(lines.filter((l) => l.startsWith('{"prompt": "cut')).length);
    expect(summary.rows).toBe(lines.filter((l) => l.startsWith('{"prompt":"Q')).length);
    for (const offset of [0, 4_000, 29_000]) expect(await onDemand.preview(offset, 8)).toEqual(await whole.preview(offset, 8));
  });
});
