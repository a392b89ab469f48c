/**
 * Writes the dataset fixtures of test/fixtures/data/formats/ with DuckDB, a Parquet/CSV/JSON writer
 * independent of the readers under test. The rows are in this file; the committed outputs are what
 * the tests read (DuckDB is not a dependency of the project):
 *
 *   npm install --no-save @duckdb/node-api && node scripts/make-dataset-fixtures.mjs
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const REPEATS = 350;
const out = new URL('../test/fixtures/data/formats/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const db = await (await DuckDBInstance.create(':memory:')).connect();
const sql = (text) => db.run(text);
const quote = (s) => `'${s.replaceAll("'", "''")}'`;

// Standard rows: the demo pairs, and three whose text a CSV writer must quote (comma, quotes, newlines).
const demo = readFileSync(new URL('../examples/shout-whisper.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 11)
  .map((l) => JSON.parse(l));
const rows = [
  ...demo,
  { prompt: 'List, with commas:\n', chosen: 'one, two, "three"', rejected: 'one two three' },
  { prompt: 'Two lines, please:\n', chosen: 'first line\nsecond line', rejected: 'one line' },
  { prompt: 'Tab\tand ünïcödé 😀:\n', chosen: 'ÜNÏCÖDÉ 😀!', rejected: 'ünïcödé 😀.' },
];
const jsonl = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
writeFileSync(out + 'pairs.jsonl', jsonl);
writeFileSync(out + 'pairs.jsonl.gz', gzipSync(jsonl));
await sql(
  `CREATE TABLE pairs AS SELECT * FROM read_json(${quote(out + 'pairs.jsonl')}, format = 'newline_delimited', columns = {prompt: 'VARCHAR', chosen: 'VARCHAR', rejected: 'VARCHAR'})`,
);
// Parquet: the rows 350 times over (4,900), so that DuckDB's smallest row groups (2,048 rows) make three.
await sql(`CREATE TABLE numbered AS SELECT row_number() OVER () AS n, * FROM pairs`);
const many = `(SELECT p.prompt, p.chosen, p.rejected FROM range(${REPEATS}) r(i), numbered p ORDER BY r.i, p.n)`;
await sql(`COPY ${many} TO ${quote(out + 'pairs.snappy.parquet')} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2048)`);
await sql(`COPY ${many} TO ${quote(out + 'pairs.zstd.parquet')} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)`);
await sql(`COPY pairs TO ${quote(out + 'pairs.gzip.parquet')} (FORMAT parquet, COMPRESSION gzip)`);
await sql(`COPY pairs TO ${quote(out + 'pairs.csv')} (FORMAT csv, HEADER true)`);
await sql(`COPY pairs TO ${quote(out + 'pairs.tsv')} (FORMAT csv, HEADER true, DELIMITER '\t')`);
await sql(`COPY pairs TO ${quote(out + 'pairs.jsonl.zst')} (FORMAT json, COMPRESSION zstd)`);

// Conversational rows: message lists are list<struct<role, content>> columns in Parquet.
const chat = rows.slice(0, 6).map((r) => ({
  prompt: [{ role: 'user', content: r.prompt.trim() }],
  chosen: [{ role: 'assistant', content: r.chosen }],
  rejected: [{ role: 'assistant', content: r.rejected }],
}));
writeFileSync(out + 'chat.jsonl', chat.map((r) => JSON.stringify(r)).join('\n') + '\n');
const messages = 'STRUCT(role VARCHAR, content VARCHAR)[]';
await sql(
  `CREATE TABLE chat AS SELECT * FROM read_json(${quote(out + 'chat.jsonl')}, format = 'newline_delimited', columns = {prompt: '${messages}', chosen: '${messages}', rejected: '${messages}'})`,
);
await sql(`COPY chat TO ${quote(out + 'chat.parquet')} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 4)`);

// Known layouts in their published column shapes (a few rows each).
const layouts = {
  'hh-rlhf': {
    columns: 'chosen VARCHAR, rejected VARCHAR',
    rows: [
      ['\n\nHuman: What colour is a banana?\n\nAssistant: It is yellow.', '\n\nHuman: What colour is a banana?\n\nAssistant: It is blue.'],
      [
        '\n\nHuman: Hi\n\nAssistant: Hello! How can I help?\n\nHuman: Name a fruit.\n\nAssistant: An apple.',
        '\n\nHuman: Hi\n\nAssistant: Hello! How can I help?\n\nHuman: Name a fruit.\n\nAssistant: A chair.',
      ],
    ],
  },
  'ultrafeedback-binarized': {
    columns: `prompt VARCHAR, prompt_id VARCHAR, chosen ${messages}, rejected ${messages}, messages ${messages}, score_chosen DOUBLE, score_rejected DOUBLE`,
    rows: [
      [
        'Name a prime above 10.',
        'a1',
        [
          ['user', 'Name a prime above 10.'],
          ['assistant', '11.'],
        ],
        [
          ['user', 'Name a prime above 10.'],
          ['assistant', '12.'],
        ],
        [
          ['user', 'Name a prime above 10.'],
          ['assistant', '11.'],
        ],
        9.0,
        2.0,
      ],
      [
        'Capital of France?',
        'b2',
        [
          ['user', 'Capital of France?'],
          ['assistant', 'Paris.'],
        ],
        [
          ['user', 'Capital of France?'],
          ['assistant', 'Lyon.'],
        ],
        [
          ['user', 'Capital of France?'],
          ['assistant', 'Paris.'],
        ],
        10.0,
        3.5,
      ],
    ],
  },
  shp: {
    columns:
      'post_id VARCHAR, domain VARCHAR, upvote_ratio DOUBLE, history VARCHAR, c_root_id_A VARCHAR, c_root_id_B VARCHAR, created_at_utc_A BIGINT, created_at_utc_B BIGINT, score_A BIGINT, score_B BIGINT, human_ref_A VARCHAR, human_ref_B VARCHAR, labels BIGINT, seconds_difference DOUBLE, score_ratio DOUBLE',
    rows: [
      [
        'p1',
        'askscience_train',
        0.98,
        'Why is the sky blue?',
        'a1',
        'b1',
        1600000000,
        1600000100,
        52,
        3,
        'Rayleigh scattering of sunlight.',
        'Because it reflects the sea.',
        1,
        100.0,
        17.3,
      ],
      [
        'p2',
        'askculinary_train',
        0.9,
        'How long to boil an egg?',
        'a2',
        'b2',
        1600000000,
        1600000300,
        2,
        40,
        'An hour.',
        'About nine minutes.',
        0,
        300.0,
        20.0,
      ],
    ],
  },
  'stack-exchange-paired': {
    columns: 'qid BIGINT, question VARCHAR, date VARCHAR, metadata VARCHAR[], response_j VARCHAR, response_k VARCHAR',
    rows: [
      [
        1,
        'How do I reverse a list in Python?',
        '2020/01/01',
        ['https://stackoverflow.com/questions/1'],
        'Use reversed(xs) or xs[::-1].',
        'You cannot.',
      ],
      [
        2,
        'What does git stash do?',
        '2020/01/02',
        ['https://stackoverflow.com/questions/2'],
        'It shelves your uncommitted changes.',
        'It deletes the repository.',
      ],
    ],
  },
  'argilla-dpo-mix': {
    columns: `dataset VARCHAR, chosen ${messages}, rejected ${messages}, chosen_rating DOUBLE, rejected_rating DOUBLE, chosen_model VARCHAR, rejected_model VARCHAR`,
    rows: [
      [
        'capybara',
        [
          ['user', 'Add 2 and 3.'],
          ['assistant', '5.'],
        ],
        [
          ['user', 'Add 2 and 3.'],
          ['assistant', '6.'],
        ],
        5.0,
        2.0,
        'a',
        'b',
      ],
      [
        'orca',
        [
          ['user', 'Say hi.'],
          ['assistant', 'Hi!'],
        ],
        [
          ['user', 'Say hi.'],
          ['assistant', 'No.'],
        ],
        4.5,
        1.0,
        'a',
        'b',
      ],
    ],
  },
};
const literal = (v) => {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v) && Array.isArray(v[0]))
    return `[${v.map(([role, content]) => `{'role': ${quote(role)}, 'content': ${quote(content)}}`).join(', ')}]`;
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  throw new Error(`no literal for ${v}`);
};
for (const [name, { columns, rows: layoutRows }] of Object.entries(layouts)) {
  const table = name.replaceAll('-', '_');
  await sql(`CREATE TABLE ${table} (${columns})`);
  for (const row of layoutRows) await sql(`INSERT INTO ${table} VALUES (${row.map(literal).join(', ')})`);
  await sql(`COPY ${table} TO ${quote(out + name + '.parquet')} (FORMAT parquet, COMPRESSION snappy)`);
}
console.log(`wrote ${out}`);
