import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePreferenceFile } from '../../../src/core/data/read';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/data/${name}`, import.meta.url), 'utf8');
const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

describe('parsePreferenceFile: formats', () => {
  it('reads standard rows as they are', () => {
    const d = parsePreferenceFile(jsonl({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }), 'a.jsonl');
    expect(d.issues).toEqual([]);
    expect(d.format).toBe('standard');
    expect(d.rows).toEqual([
      { line: 1, format: 'standard', conversational: false, prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' },
    ]);
  });

  it('reads conversational rows and keeps per-row tools and chat_template_kwargs', () => {
    const tools = [{ type: 'function', function: { name: 'add', parameters: {} } }];
    const d = parsePreferenceFile(
      jsonl({
        prompt: [{ role: 'system', content: 'Be brief.' }, user('Hi')],
        chosen: [assistant('Hello.')],
        rejected: [assistant('Go away.')],
        tools,
        chat_template_kwargs: { enable_thinking: false },
      }),
      'c.jsonl',
    );
    expect(d.issues).toEqual([]);
    expect(d.format).toBe('conversational');
    expect(d.rows[0]).toEqual({
      line: 1,
      format: 'conversational',
      conversational: true,
      prompt: [{ role: 'system', content: 'Be brief.' }, user('Hi')],
      chosen: [assistant('Hello.')],
      rejected: [assistant('Go away.')],
      tools,
      chat_template_kwargs: { enable_thinking: false },
    });
  });

  it('parses tools given as a JSON string, as TRL does', () => {
    const d = parsePreferenceFile(
      jsonl({ prompt: [user('q')], chosen: [assistant('a')], rejected: [assistant('b')], tools: '[{"name":"f"}]' }),
      't.jsonl',
    );
    expect(d.rows[0].tools).toEqual([{ name: 'f' }]);
  });

  it('extracts an implicit string prompt; a space before the split moves into the completion', () => {
    const d = parsePreferenceFile(jsonl({ chosen: 'The sky is blue.', rejected: 'The sky is green.' }), 'i.jsonl');
    expect(d.format).toBe('implicit_prompt');
    expect(d.rows[0]).toMatchObject({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.', conversational: false });
  });

  it('splits where the characters first differ when no space precedes the split', () => {
    const d = parsePreferenceFile(jsonl({ chosen: 'colour', rejected: 'color' }), 'i.jsonl');
    expect(d.rows[0]).toMatchObject({ prompt: 'colo', chosen: 'ur', rejected: 'r' });
  });

  it('compares by code point, so an emoji is never split in half', () => {
    // 🙂 (U+1F642) and 🙃 (U+1F643) share their first UTF-16 unit.
    const d = parsePreferenceFile(jsonl({ chosen: 'ok 🙂', rejected: 'ok 🙃' }), 'i.jsonl');
    expect(d.rows[0]).toMatchObject({ prompt: 'ok', chosen: ' 🙂', rejected: ' 🙃' });
  });

  it('takes all but the last character as prompt for identical pairs and for a pair where one is a prefix', () => {
    const d = parsePreferenceFile(jsonl({ chosen: 'same text', rejected: 'same text' }, { chosen: 'abc', rejected: 'abcdef' }), 'i.jsonl');
    expect(d.rows[0]).toMatchObject({ prompt: 'same tex', chosen: 't', rejected: 't' });
    expect(d.rows[1]).toMatchObject({ prompt: 'ab', chosen: 'c', rejected: 'cdef' });
    expect(d.identicalPairs).toBe(1);
  });

  it('reads Anthropic HH rows as implicit-prompt strings, the prompt ending at the last shared "Assistant:"', () => {
    const d = parsePreferenceFile(fixture('hh-style.jsonl'), 'hh.jsonl');
    expect(d.issues).toEqual([]);
    expect(d.format).toBe('implicit_prompt');
    expect(d.rows[0]).toMatchObject({
      line: 1,
      prompt: '\n\nHuman: What is a good name for a grey cat?\n\nAssistant:',
      chosen: ' Ash, Pebble or Smokey are all popular choices.',
      rejected: ' Cats do not need names.',
    });
    expect(d.rows[1]).toMatchObject({
      line: 2,
      prompt:
        '\n\nHuman: How do I boil an egg?\n\nAssistant: Put it in boiling water for about nine minutes.\n\nHuman: And for a soft yolk?\n\nAssistant:',
      chosen: ' Six minutes is usually enough.',
      rejected: ' Eggs cannot be soft.',
    });
  });

  it('extracts an implicit conversational prompt message by message', () => {
    const d = parsePreferenceFile(
      jsonl({
        chosen: [user('Q1'), assistant('A1'), user('Q2'), assistant('good')],
        rejected: [user('Q1'), assistant('A1'), user('Q2'), assistant('bad')],
      }),
      'ic.jsonl',
    );
    expect(d.format).toBe('implicit_prompt_conversational');
    expect(d.rows[0]).toMatchObject({
      conversational: true,
      prompt: [user('Q1'), assistant('A1'), user('Q2')],
      chosen: [assistant('good')],
      rejected: [assistant('bad')],
    });
  });

  it('normalises UltraFeedback-binarized rows and ignores their extra fields', () => {
    const d = parsePreferenceFile(fixture('ultrafeedback-style.jsonl'), 'uf.jsonl');
    expect(d.issues).toEqual([]);
    expect(d.format).toBe('ultrafeedback_binarized');
    expect(d.rows[0]).toEqual({
      line: 1,
      format: 'ultrafeedback_binarized',
      conversational: true,
      prompt: [user('Name a prime number above 10.')],
      chosen: [assistant('11 is prime.')],
      rejected: [assistant('12 is prime.')],
    });
    expect(d.rows[1].prompt).toEqual([user('Say hello in French.')]);
  });

  it('keeps each row of a mixed file with its own format and reports the most common', () => {
    const d = parsePreferenceFile(
      jsonl(
        { chosen: 'a b', rejected: 'a c' },
        { prompt: 'p', chosen: 'x', rejected: 'y' },
        { prompt: 'q', chosen: 'x', rejected: 'y' },
        { prompt: [user('u')], chosen: [assistant('x')], rejected: [assistant('y')] },
      ),
      'm.jsonl',
    );
    expect(d.rows.map((r) => r.format)).toEqual(['implicit_prompt', 'standard', 'standard', 'conversational']);
    expect(d.formatCounts).toEqual({ implicit_prompt: 1, standard: 2, conversational: 1 });
    expect(d.format).toBe('standard');
  });
});

describe('parsePreferenceFile: bad input', () => {
  it('reports every bad line with its line, field and reason, and keeps every valid row', () => {
    const d = parsePreferenceFile(fixture('mixed-bad.jsonl'), 'bad.jsonl');
    expect(d.rows.map((r) => r.line)).toEqual([1, 12]);
    expect(d.identicalPairs).toBe(1);
    const issues = d.issues.map(({ line, field, reason }) => ({ line, field, reason }));
    expect(issues).toEqual([
      { line: 2, field: undefined, reason: "invalid JSON at column 50: unexpected end of input, expected ',' or '}'" },
      { line: 3, field: undefined, reason: 'row is not a JSON object (got an array)' },
      { line: 4, field: 'rejected', reason: 'missing field' },
      { line: 6, field: 'chosen', reason: expect.stringContaining('must be a string or a list of {role, content} messages, got a number') },
      { line: 7, field: 'chosen', reason: 'empty completion' },
      { line: 8, field: 'chosen', reason: 'empty completion: no messages' },
      { line: 9, field: 'chosen[0].content', reason: 'assistant message has empty content' },
      { line: 10, field: 'prompt[0].content', reason: 'message has no "content"' },
      { line: 10, field: 'rejected[0].content', reason: 'message content must be a string, got an array' },
      { line: 11, field: undefined, reason: expect.stringContaining('unrecognised row') },
    ]);
    expect(d.issues.every((i) => i.file === 'bad.jsonl')).toBe(true);
    expect(d.issues.find((i) => i.line === 11)!.reason).toContain('"text"');
  });

  it('rejects a string prompt with message lists that do not repeat it, and a message prompt with string completions', () => {
    const d = parsePreferenceFile(
      jsonl(
        { prompt: 'Q', chosen: [user('other'), assistant('a')], rejected: [user('Q'), assistant('b')] },
        { prompt: [user('Q')], chosen: 'a', rejected: 'b' },
        { prompt: 'Q', chosen: 'a', rejected: [assistant('b')] },
      ),
      'k.jsonl',
    );
    expect(d.rows).toEqual([]);
    expect(d.format).toBeNull();
    expect(d.issues.map((i) => [i.line, i.field])).toEqual([
      [1, 'chosen'],
      [2, 'prompt'],
      [3, 'rejected'],
    ]);
  });

  it('rejects an UltraFeedback row with nothing after the prompt turn, and an implicit conversation without a shared first message', () => {
    const d = parsePreferenceFile(
      jsonl(
        { prompt: 'Q', chosen: [user('Q')], rejected: [user('Q'), assistant('b')] },
        { chosen: [user('A'), assistant('x')], rejected: [user('B'), assistant('y')] },
      ),
      'k.jsonl',
    );
    expect(d.rows).toEqual([]);
    expect(d.issues.map((i) => [i.line, i.field, i.reason])).toEqual([
      [1, 'chosen', 'empty completion: no messages'],
      [2, 'chosen', expect.stringContaining('no shared prompt')],
    ]);
  });

  it('accepts a UTF-8 byte-order mark and CRLF line endings in JSON Lines', () => {
    const text = '\uFEFF' + '{"prompt":"a","chosen":"b","rejected":"c"}\r\n\r\n{"prompt":"d","chosen":"e","rejected":"f"}\r\n';
    const d = parsePreferenceFile(text, 'crlf.jsonl');
    expect(d.issues).toEqual([]);
    expect(d.rows.map((r) => [r.line, r.prompt, r.chosen])).toEqual([
      [1, 'a', 'b'],
      [3, 'd', 'e'],
    ]);
  });

  it('reads a JSON array with BOM and CRLF, numbering each element by the line where it starts', () => {
    const text =
      '\uFEFF  [\r\n  {"prompt": "a", "chosen": "b", "rejected": "c"},\r\n  "not a row",\r\n  {\r\n    "prompt": "d",\r\n    "chosen": "e",\r\n    "rejected": "f"\r\n  }, {"prompt": "g"}\r\n]\r\n';
    const d = parsePreferenceFile(text, 'rows.json');
    expect(d.rows.map((r) => [r.line, r.prompt])).toEqual([
      [2, 'a'],
      [4, 'd'],
    ]);
    expect(d.issues.map(({ line, field, reason }) => ({ line, field, reason }))).toEqual([
      { line: 3, field: undefined, reason: 'row is not a JSON object (got a string)' },
      { line: 8, field: 'chosen', reason: 'missing field' },
      { line: 8, field: 'rejected', reason: 'missing field' },
    ]);
  });

  it('reports one issue at the syntax error of an invalid JSON array, and no rows', () => {
    const text = '[\n  {"prompt": "a", "chosen": "b", "rejected": "c"},\n  {"prompt": "d" "chosen": "e"}\n]';
    const d = parsePreferenceFile(text, 'broken.json');
    expect(d.rows).toEqual([]);
    expect(d.format).toBeNull();
    expect(d.issues).toEqual([
      { file: 'broken.json', line: 3, reason: "invalid JSON at line 3, column 18: expected ',' or '}' after a property value" },
    ]);
  });

  it('says when an array is cut short', () => {
    const d = parsePreferenceFile('[{"prompt": "a", "chosen": "b", "rejected": "c"},\n', 'cut.json');
    expect(d.issues).toEqual([
      { file: 'cut.json', line: 2, reason: 'invalid JSON at line 2, column 1: unexpected end of input, expected a value' },
    ]);
  });

  it('one line of 5,000 unclosed "[" costs that line only, with its column', () => {
    const row = { prompt: 'a', chosen: 'b', rejected: 'c' };
    const text = [JSON.stringify(row), '['.repeat(5000), JSON.stringify(row)].join('\n') + '\n';
    const d = parsePreferenceFile(text, 'deep.jsonl');
    expect(d.rows.map((r) => r.line)).toEqual([1, 3]);
    expect(d.issues).toEqual([
      { file: 'deep.jsonl', line: 2, reason: 'invalid JSON at column 5001: unexpected end of input, expected a value' },
    ]);
  });

  it('scans nesting far deeper than the call stack allows without failing', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const row = { prompt: 'a', chosen: 'b', rejected: 'c', extra: 0 };
    const text = JSON.stringify(row).replace('0}', `${deep}}`) + '\n' + JSON.stringify(row).replace('0}', `${deep.slice(0, -1)}}`) + '\n';
    const d = parsePreferenceFile(text, 'nested.jsonl');
    // The first row is valid JSON (its extra field ignored); the second is cut one "]" short.
    expect(d.rows.map((r) => r.line)).toEqual([1]);
    expect(d.issues).toHaveLength(1);
    expect(d.issues[0]).toMatchObject({
      line: 2,
      reason: expect.stringMatching(/^invalid JSON at column \d+: expected ',' or '\]' after an array element$/),
    });
  });

  it('reads JSON Lines whose first line is a JSON array (a header row): that line is reported, every row kept', () => {
    const row = { prompt: 'a', chosen: 'b', rejected: 'c' };
    const text = '["prompt", "chosen", "rejected"]\n' + jsonl(row, row);
    const d = parsePreferenceFile(text, 'header.jsonl');
    expect(d.rows.map((r) => r.line)).toEqual([2, 3]);
    expect(d.issues).toHaveLength(1);
    expect(d.issues[0].line).toBe(1);
    // Written on one line, the same rows in an array are one JSON array of rows.
    expect(parsePreferenceFile(`[${JSON.stringify(row)}, ${JSON.stringify(row)}]`, 'one-line.json').rows).toHaveLength(2);
  });

  it('a field over 1,000,000 characters is reported with its line and field; the row beside it is kept', () => {
    const big = 'x'.repeat(1_000_001);
    const text = jsonl({ prompt: 'a', chosen: big, rejected: 'c' }, { prompt: 'a', chosen: 'b'.repeat(1_000_000), rejected: 'c' });
    const d = parsePreferenceFile(text, 'big.jsonl');
    expect(d.rows.map((r) => r.line)).toEqual([2]);
    expect(d.issues).toEqual([
      {
        file: 'big.jsonl',
        line: 1,
        field: 'chosen',
        reason: expect.stringMatching(/^1,000,001 characters, over the limit of 1,000,000 per field/),
      },
    ]);
  });

  it('explains a pretty-printed single object instead of reporting every line', () => {
    const d = parsePreferenceFile('{\n  "prompt": "a",\n  "chosen": "b",\n  "rejected": "c"\n}\n', 'one.json');
    expect(d.issues).toEqual([
      { file: 'one.json', line: 1, reason: 'the file is one JSON object, not JSON Lines or a JSON array of rows' },
    ]);
  });

  it('reports an empty file and an empty array', () => {
    expect(parsePreferenceFile('\n\n', 'e.jsonl').issues).toEqual([{ file: 'e.jsonl', line: 1, reason: 'the file holds no rows' }]);
    expect(parsePreferenceFile(' [ ] ', 'e.json').issues).toEqual([{ file: 'e.json', line: 1, reason: 'the JSON array is empty' }]);
  });

  it('counts chosen == rejected pairs as valid, for every format', () => {
    const d = parsePreferenceFile(
      jsonl(
        { prompt: 'p', chosen: 'same', rejected: 'same' },
        { prompt: [user('u')], chosen: [assistant('same')], rejected: [assistant('same')] },
        { chosen: [user('u'), assistant('same')], rejected: [user('u'), assistant('same')] },
        { prompt: 'p', chosen: 'one', rejected: 'two' },
      ),
      'id.jsonl',
    );
    expect(d.issues).toEqual([]);
    expect(d.rows).toHaveLength(4);
    expect(d.identicalPairs).toBe(3);
    // Identical conversations: the prompt is everything but the last message.
    expect(d.rows[2]).toMatchObject({ prompt: [user('u')], chosen: [assistant('same')] });
  });

  it('never throws, whatever it is given', () => {
    for (const text of [
      '',
      '\uFEFF',
      '[',
      ']',
      '{',
      'null',
      '[null]',
      '"x"',
      '[1e999]',
      '\u0000',
      '[{"chosen": {}}]',
      '{"__proto__": {"chosen": "a"}}',
    ]) {
      const d = parsePreferenceFile(text, 'x');
      expect(d.rows).toEqual([]);
      expect(d.issues.length).toBeGreaterThan(0);
    }
  });
});
