import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readParquetTable } from '../../../src/core/data/formats';
import { parsePreferenceFile, type ReadOptions } from '../../../src/core/data/read';
import { plainNeedle, rowRange, scanJsonLines, scanParquet, type ScannedDataset } from '../../../src/core/data/row-store';
import { dropInvalidUtf8Rows, findInvalidUtf8 } from '../../../src/core/data/utf8';
import type { ParsedDataset } from '../../../src/core/data/types';
import { Rng } from '../../../src/core/random';

/**
 * The on-demand readers against the whole-file readers: the same rows (read back from the file, in any
 * order), the same problems with the same places, the same counts; whatever size the pieces are.
 */
const fixture = (path: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/data/${path}`, import.meta.url)));
const encode = (text: string) => new TextEncoder().encode(text);

/** A file of the awkward cases: bad JSON, blank lines, CRLF, invalid UTF-8, identical pairs, implicit prompts. */
function awkwardFile(): Uint8Array {
  const lines: Uint8Array[] = [encode('\uFEFF')];
  for (let i = 0; i < 40; i++) {
    const kind = i % 8;
    if (kind === 0) lines.push(encode(`{"prompt": "Q${i}: café?", "chosen": "yes ${i}", "rejected": "no ${i}"}\n`));
    if (kind === 1) lines.push(encode(`{"prompt": "broken ${i}", "chosen": \n`));
    if (kind === 2) lines.push(encode('\n   \r\n'));
    if (kind === 3) lines.push(encode(`{"prompt": "crlf ${i}", "chosen": "same", "rejected": "same"}\r\n`));
    if (kind === 4)
      lines.push(
        Buffer.concat([encode(`{"prompt": "bad byte ${i} `), new Uint8Array([0xc3, 0x28]), encode('", "chosen": "a", "rejected": "b"}\n')]),
      );
    if (kind === 5)
      lines.push(encode(`{"chosen": "Human: hi ${i}\\n\\nAssistant: Apple pie.", "rejected": "Human: hi ${i}\\n\\nAssistant: An egg."}\n`));
    if (kind === 6) lines.push(encode(`{"prompt": "${'long '.repeat(80)}${i}", "chosen": "c", "rejected": "r"}\n`));
    if (kind === 7)
      lines.push(
        encode(
          `{"prompt": [{"role": "user", "content": "hi ${i}"}], "chosen": [{"role": "assistant", "content": "hello"}], "rejected": [{"role": "assistant", "content": "go away"}]}\n`,
        ),
      );
  }
  // The last line without a newline.
  lines.push(encode('{"prompt": "last", "chosen": "x", "rejected": "y"}'));
  return Buffer.concat(lines);
}

function wholeFile(bytes: Uint8Array, name: string, options: ReadOptions): ParsedDataset {
  const text = new TextDecoder().decode(bytes);
  return dropInvalidUtf8Rows(parsePreferenceFile(text, name, options), findInvalidUtf8(bytes));
}

/** Every row read back (forwards, then in a shuffled order), and the report, against the whole-file read. */
async function expectSame(scanned: ScannedDataset, whole: ParsedDataset): Promise<void> {
  const { rows, ...report } = whole;
  // Columns are sampled from the first rows of each piece until about as many as the whole-file reader's.
  expect(scanned.report.columns).toEqual(expect.arrayContaining(report.columns));
  expect({ ...scanned.report, columns: [] }).toEqual({
    ...report,
    columns: [],
    issues: [...report.issues].sort((a, b) => a.line - b.line),
  });
  expect(scanned.source.count).toBe(rows.length);
  expect(await rowRange(scanned.source, 0, rows.length)).toEqual(rows);
  const shuffled = new Rng(7).permutation(rows.length);
  expect(await scanned.source.rows(shuffled)).toEqual(shuffled.map((i) => rows[i]));
}

describe('scanJsonLines', () => {
  const files: [string, Uint8Array, ReadOptions][] = [
    ['mixed-bad.jsonl', fixture('mixed-bad.jsonl'), {}],
    ['hh-style.jsonl', fixture('hh-style.jsonl'), {}],
    ['pairs.jsonl', fixture('formats/pairs.jsonl'), {}],
    ['chat.jsonl', fixture('formats/chat.jsonl'), {}],
    ['awkward.jsonl', awkwardFile(), {}],
    ['awkward.jsonl (last-turn split)', awkwardFile(), { promptSplit: 'last_turn' }],
  ];
  for (const [name, bytes, options] of files) {
    for (const piece of [16, 100, 1000, 8 * 2 ** 20]) {
      it(`${name} in pieces of ${piece} bytes reads as the whole file`, async () => {
        const whole = wholeFile(bytes, name, options);
        expect(whole.rows.length).toBeGreaterThan(0);
        const progress: number[] = [];
        const scanned = await scanJsonLines(new Blob([bytes as BlobPart]), name, options, (f) => void progress.push(f), piece);
        await expectSame(scanned, whole);
        expect(progress.at(-1)).toBe(1);
        expect(progress).toEqual([...progress].sort((a, b) => a - b));
      });
    }
  }

  it('the awkward file has every case it names', () => {
    const whole = wholeFile(awkwardFile(), 'awkward.jsonl', {});
    expect(whole.issues.some((i) => i.reason.startsWith('invalid UTF-8'))).toBe(true);
    expect(whole.issues.some((i) => i.reason.startsWith('invalid JSON'))).toBe(true);
    expect(whole.identicalPairs).toBe(5);
    expect(whole.midWordPrompts.length).toBe(5);
    expect(whole.formatCounts).toEqual({ standard: 16, implicit_prompt: 5, conversational: 5 });
  });

  it('a row that no longer reads as it did (the file changed) is refused with its line, and so is a row past the end', async () => {
    const bytes = fixture('formats/pairs.jsonl').slice();
    // A file whose bytes can change under the source, as a file on disk can.
    const file = { size: bytes.length, slice: (s: number, e: number) => new Blob([bytes.slice(s, e) as BlobPart]) } as unknown as Blob;
    const scanned = await scanJsonLines(file, 'pairs.jsonl');
    expect((await scanned.source.rows([2]))[0].line).toBe(3);
    const third = bytes.indexOf(0x0a, bytes.indexOf(0x0a) + 1) + 1;
    bytes.fill(0x20, third, third + 10);
    await expect(scanned.source.rows([1, 2])).rejects.toThrow('pairs.jsonl, line 3: the row no longer reads as it did');
    await expect(scanned.source.rows([scanned.source.count])).rejects.toThrow(`there is no row ${scanned.source.count + 1}`);
  });
});

describe('scanParquet', () => {
  /** The snappy and zstd fixtures hold 14 rows 350 times over in three row groups (DuckDB wrote them). */
  for (const name of ['pairs.snappy.parquet', 'pairs.zstd.parquet', 'hh-rlhf.parquet', 'shp.parquet', 'ultrafeedback-binarized.parquet']) {
    it(`${name} reads as the whole-file reader reads it`, async () => {
      const bytes = fixture(`formats/${name}`);
      const whole = await readParquetTable([{ name, bytes }], name);
      const scanned = await scanParquet([{ name, blob: new Blob([bytes as BlobPart]) }], name);
      await expectSame(scanned, whole);
    });
  }

  it('a split in several files, one of them damaged, reads as the whole-file reader reads it', async () => {
    const a = fixture('formats/pairs.snappy.parquet');
    const b = fixture('formats/shp.parquet');
    const damaged = a.slice(0, 200);
    const shards = [
      { name: 'file 1 of 3', bytes: a },
      { name: 'file 2 of 3', bytes: damaged },
      { name: 'file 3 of 3', bytes: b },
    ];
    const whole = await readParquetTable(shards, 'split');
    const scanned = await scanParquet(
      shards.map((s) => ({ name: s.name, blob: new Blob([s.bytes as BlobPart]) })),
      'split',
    );
    expect(whole.issues.some((i) => i.reason.startsWith('file 2 of 3: not a readable Parquet file'))).toBe(true);
    await expectSame(scanned, whole);
  });

  it('a rating filter applies to the scan and to rows read again', async () => {
    const name = 'argilla-dpo-mix.parquet';
    const bytes = fixture(`formats/${name}`);
    const options: ReadOptions = { minRatingMargin: 3.25 };
    const whole = await readParquetTable([{ name, bytes }], name, options);
    expect(whole.issues.length).toBeGreaterThan(0);
    await expectSame(await scanParquet([{ name, blob: new Blob([bytes as BlobPart]) }], name, options), whole);
  });
});

describe('raw-line candidates for a search', () => {
  it('only text JSON writes unchanged is looked for in the raw lines', () => {
    expect(['fig', 'assistant: ', 'a-b (c)', '?'].map(plainNeedle)).toEqual([true, true, true, true]);
    expect(['café', 'say "hi"', 'a\\b', 'a/b', 'tab\there', ''].map(plainNeedle)).toEqual([false, false, false, false, false, false]);
  });

  it('every row holding the text is a candidate, in pieces of any size', async () => {
    const bytes = awkwardFile();
    for (const piece of [16, 1000, 8 * 2 ** 20]) {
      const scanned = await scanJsonLines(new Blob([bytes as BlobPart]), 'awkward.jsonl', {}, undefined, piece);
      const all = await rowRange(scanned.source, 0, scanned.source.count);
      for (const needle of ['crlf', 'q8', 'pie', 'long long']) {
        const holding = all.flatMap((r, i) => (JSON.stringify([r.prompt, r.chosen, r.rejected]).toLowerCase().includes(needle) ? [i] : []));
        expect(holding.length, needle).toBeGreaterThan(0);
        const candidates = await scanned.source.candidates!(needle, () => true);
        expect(candidates).toEqual(expect.arrayContaining(holding));
      }
      expect(await scanned.source.candidates!('crlf', () => false)).toBeNull();
    }
  });
});
