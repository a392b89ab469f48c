import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPreferenceBytes, UnsupportedFileError } from '../../../src/core/data/formats';
import { parseColumnMapping } from '../../../src/core/data/layouts';

// Fixtures written by DuckDB (scripts/make-dataset-fixtures.mjs), a writer independent of these readers.
const dir = new URL('../../fixtures/data/formats/', import.meta.url);
const bytes = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const read = (name: string, columns?: string) =>
  readPreferenceBytes(bytes(name), name, columns === undefined ? {} : { columns: parseColumnMapping(columns) });
const fields = (rows: { prompt: unknown; chosen: unknown; rejected: unknown }[]) =>
  rows.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }));

describe('readPreferenceBytes', () => {
  const expected = readFileSync(new URL('pairs.jsonl', dir), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

  /** The snappy and zstd Parquet fixtures hold the rows 350 times over, in three row groups. */
  const REPEATS = 350;
  for (const name of [
    'pairs.snappy.parquet',
    'pairs.zstd.parquet',
    'pairs.gzip.parquet',
    'pairs.csv',
    'pairs.tsv',
    'pairs.jsonl.gz',
    'pairs.jsonl.zst',
    'pairs.jsonl',
  ]) {
    it(`${name}: the same rows as the JSON Lines file, none lost`, async () => {
      const parsed = await read(name);
      expect(parsed.issues).toEqual([]);
      const repeats = name.endsWith('.parquet') && !name.includes('gzip') ? REPEATS : 1;
      expect(fields(parsed.rows)).toEqual(Array.from({ length: repeats }, () => expected).flat());
      expect(parsed.format).toBe('standard');
      expect(parsed.layout).toBe('prompt/chosen/rejected');
    });
  }

  it('numbers rows by their line in CSV (quoted newlines span lines) and by row in Parquet', async () => {
    const csv = await read('pairs.csv');
    // Header on line 1; each demo prompt ends with a newline inside quotes, so each row spans two lines.
    expect(csv.rows.slice(0, 3).map((r) => r.line)).toEqual([2, 4, 6]);
    const parquet = await read('pairs.snappy.parquet');
    expect(parquet.rows.map((r) => r.line)).toEqual(Array.from({ length: expected.length * REPEATS }, (_, i) => i + 1));
  });

  it('reads list<struct> message columns of Parquet as conversations', async () => {
    const parquet = await read('chat.parquet');
    const jsonl = await read('chat.jsonl');
    expect(parquet.issues).toEqual([]);
    expect(parquet.format).toBe('conversational');
    expect(fields(parquet.rows)).toEqual(fields(jsonl.rows));
  });

  it('maps each published layout to its pairs', async () => {
    const hh = await read('hh-rlhf.parquet');
    expect(hh.format).toBe('implicit_prompt');
    expect(fields(hh.rows)[0]).toEqual({
      // TRL's extract_prompt: the longest common prefix, the space before the first difference left out.
      prompt: '\n\nHuman: What colour is a banana?\n\nAssistant: It is',
      chosen: ' yellow.',
      rejected: ' blue.',
    });
    const uf = await read('ultrafeedback-binarized.parquet');
    expect(uf.format).toBe('ultrafeedback_binarized');
    expect(fields(uf.rows)[1]).toEqual({
      prompt: [{ role: 'user', content: 'Capital of France?' }],
      chosen: [{ role: 'assistant', content: 'Paris.' }],
      rejected: [{ role: 'assistant', content: 'Lyon.' }],
    });
    const shp = await read('shp.parquet');
    expect(shp.layout).toBe('SHP');
    // labels 1: A preferred; labels 0: B preferred.
    expect(fields(shp.rows)).toEqual([
      { prompt: 'Why is the sky blue?', chosen: 'Rayleigh scattering of sunlight.', rejected: 'Because it reflects the sea.' },
      { prompt: 'How long to boil an egg?', chosen: 'About nine minutes.', rejected: 'An hour.' },
    ]);
    const se = await read('stack-exchange-paired.parquet');
    expect(se.layout).toBe('stack-exchange-paired');
    expect(fields(se.rows)[0]).toEqual({
      prompt: 'How do I reverse a list in Python?',
      chosen: 'Use reversed(xs) or xs[::-1].',
      rejected: 'You cannot.',
    });
    const argilla = await read('argilla-dpo-mix.parquet');
    expect(argilla.format).toBe('implicit_prompt_conversational');
    expect(fields(argilla.rows)[0]).toEqual({
      prompt: [{ role: 'user', content: 'Add 2 and 3.' }],
      chosen: [{ role: 'assistant', content: '5.' }],
      rejected: [{ role: 'assistant', content: '6.' }],
    });
  });

  it('takes a column mapping for any other layout, and names columns a row lacks', async () => {
    const mapped = await read('stack-exchange-paired.parquet', 'prompt=question,chosen=response_k,rejected=response_j');
    expect(mapped.layout).toBe('column mapping');
    expect(fields(mapped.rows)[0]).toEqual({
      prompt: 'How do I reverse a list in Python?',
      chosen: 'You cannot.',
      rejected: 'Use reversed(xs) or xs[::-1].',
    });
    const wrong = await read('pairs.csv', 'prompt=question,chosen=chosen,rejected=rejected');
    expect(wrong.rows).toEqual([]);
    expect(wrong.issues[0]).toMatchObject({ file: 'pairs.csv', line: 2 });
    expect(wrong.issues[0].reason).toMatch(/lacks \(prompt=question\); it has "prompt", "chosen", "rejected"/);
    expect(() => parseColumnMapping('prompt=a,chosen=b')).toThrow(/chosen and rejected must both be mapped/);
    expect(() => parseColumnMapping('answer=a,chosen=b,rejected=c')).toThrow(/"answer" is not one of prompt, chosen, rejected/);
  });

  it('a damaged Parquet row group costs its rows only, named with its place', async () => {
    const good = bytes('pairs.snappy.parquet');
    const parsed = await readPreferenceBytes(good, 'x.parquet');
    expect(parsed.rows).toHaveLength(4900);
    // Corrupt the data of the second row group (rows 2,049–4,096): its first column chunk's pages.
    const { parquetMetadata } = await import('hyparquet');
    const meta = parquetMetadata(good.buffer.slice(good.byteOffset, good.byteOffset + good.byteLength) as ArrayBuffer);
    const chunk = meta.row_groups[1].columns[0].meta_data!;
    const start = Number(chunk.dictionary_page_offset ?? chunk.data_page_offset);
    const bad = good.slice();
    for (let i = start; i < start + Number(chunk.total_compressed_size); i++) bad[i] = 0xff;
    const damaged = await readPreferenceBytes(bad, 'damaged.parquet');
    const lines = damaged.rows.map((r) => r.line);
    expect(lines).toHaveLength(2048 + 804);
    expect(lines.slice(2046, 2050)).toEqual([2047, 2048, 4097, 4098]);
    expect(damaged.issues).toHaveLength(1);
    expect(damaged.issues[0]).toMatchObject({ file: 'damaged.parquet', line: 2049 });
    expect(damaged.issues[0].reason).toMatch(/^row group 2 of 3 \(rows 2049–4096\) could not be read: /);
  });

  it('a broken CSV record costs that record; other rows stay', async () => {
    const text = 'prompt,chosen,rejected\nQ1,A,B\nQ2,"unclosed,B\n';
    const parsed = await readPreferenceBytes(new TextEncoder().encode(text), 'broken.csv');
    expect(fields(parsed.rows)).toEqual([{ prompt: 'Q1', chosen: 'A', rejected: 'B' }]);
    expect(parsed.issues).toEqual([{ file: 'broken.csv', line: 3, reason: expect.stringMatching(/^CSV: .*quote/i) }]);
    const short = await readPreferenceBytes(new TextEncoder().encode('prompt,chosen,rejected\nQ1,A\nQ2,C,D\n'), 's.csv');
    expect(fields(short.rows)).toEqual([{ prompt: 'Q2', chosen: 'C', rejected: 'D' }]);
    expect(short.issues).toEqual([{ file: 's.csv', line: 2, reason: '2 fields where the header has 3 (prompt, chosen, rejected)' }]);
  });

  it('refuses a file of another kind, naming the formats it reads', async () => {
    const xlsx = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]);
    await expect(readPreferenceBytes(xlsx, 'pairs.xlsx')).rejects.toThrow(UnsupportedFileError);
    await expect(readPreferenceBytes(xlsx, 'pairs.xlsx')).rejects.toThrow(
      /pairs\.xlsx: \.xlsx files are not read\. DPO Studio reads JSON Lines .*Parquet.*CSV/,
    );
    await expect(readPreferenceBytes(new Uint8Array([1, 2, 3]), 'x.parquet')).rejects.toThrow(/not a whole Parquet file/);
    await expect(readPreferenceBytes(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2]), 'x.jsonl.gz')).rejects.toThrow(/compressed data is damaged/);
  });
});
