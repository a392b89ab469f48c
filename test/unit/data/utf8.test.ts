import { describe, expect, it } from 'vitest';
import { parsePreferenceFile } from '../../../src/core/data/read';
import { dropInvalidUtf8Rows, findInvalidUtf8, Utf8Checker } from '../../../src/core/data/utf8';
import { Rng } from '../../../src/core/random';

const encode = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** The reference: the lines a strict decoder refuses, each decoded on its own. */
function badLinesByDecoder(bytes: Uint8Array): number[] {
  const bad: number[] = [];
  let start = 0;
  let line = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, i));
    } catch {
      bad.push(line);
    }
    start = i + 1;
    line++;
  }
  return bad;
}

describe('Utf8Checker', () => {
  it('names the line and byte offset of the first bad sequence of each line; valid text, U+FFFD included, passes', () => {
    const bytes = concat(
      encode('héllo 😀 \uFFFD\n'),
      encode('ok '),
      new Uint8Array([0xc3, 0x28]),
      encode('\nfine\n'),
      new Uint8Array([0xe2, 0x82]),
    );
    expect(findInvalidUtf8(bytes)).toEqual([
      { line: 2, offset: encode('héllo 😀 \uFFFD\nok ').length },
      { line: 4, offset: bytes.length - 2 },
    ]);
  });

  it('refuses overlong forms, surrogates and code points past U+10FFFF, as a strict decoder does', () => {
    for (const seq of [
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0x80],
    ]) {
      expect(findInvalidUtf8(new Uint8Array(seq)), seq.join(' ')).toEqual([{ line: 1, offset: 0 }]);
    }
  });

  it('agrees with a strict decoder on 500 random files, however the bytes are split into chunks', () => {
    const rng = new Rng(8);
    for (let n = 0; n < 500; n++) {
      const parts: number[] = [];
      for (let k = 0; k < 40; k++) {
        const r = rng.next();
        if (r < 0.1) parts.push(0x0a);
        else if (r < 0.2) parts.push(Math.floor(rng.next() * 256));
        else parts.push(...encode(String.fromCodePoint(Math.floor(rng.next() * 0x2ffff) % 0xd800)));
      }
      const bytes = new Uint8Array(parts);
      const want = badLinesByDecoder(bytes);
      expect(findInvalidUtf8(bytes).map((x) => x.line)).toEqual(want);
      const chunked = new Utf8Checker();
      for (let at = 0; at < bytes.length;) {
        const size = 1 + Math.floor(rng.next() * 7);
        chunked.push(bytes.subarray(at, at + size));
        at += size;
      }
      chunked.end();
      expect(chunked.invalid).toEqual(findInvalidUtf8(bytes));
    }
  });
});

describe('rows with invalid UTF-8', () => {
  it('are skipped and reported with line and byte offset; every other row is kept', () => {
    const row = (p: string) => encode(JSON.stringify({ prompt: p, chosen: 'b', rejected: 'c' }) + '\n');
    const bad = concat(encode('{"prompt": "x'), new Uint8Array([0xff]), encode('", "chosen": "b", "rejected": "c"}\n'));
    const bytes = concat(row('one'), bad, row('three'));
    const parsed = dropInvalidUtf8Rows(parsePreferenceFile(new TextDecoder().decode(bytes), 'f.jsonl'), findInvalidUtf8(bytes));
    expect(parsed.rows.map((r) => r.line)).toEqual([1, 3]);
    expect(parsed.formatCounts).toEqual({ standard: 2 });
    expect(parsed.issues).toEqual([
      {
        file: 'f.jsonl',
        line: 2,
        reason: `invalid UTF-8 at byte offset ${row('one').length + '{"prompt": "x'.length} (line 2): the row is skipped`,
      },
    ]);
  });

  it('inside a multi-line JSON array element, the element is skipped', () => {
    const bytes = concat(
      encode('[\n{"prompt": "a", "chosen": "b", "rejected": "c"},\n{"prompt": "a",\n "chosen": "'),
      new Uint8Array([0xc3]),
      encode('", "rejected": "c"}\n]\n'),
    );
    const parsed = dropInvalidUtf8Rows(parsePreferenceFile(new TextDecoder().decode(bytes), 'a.json'), findInvalidUtf8(bytes));
    expect(parsed.rows.map((r) => r.line)).toEqual([2]);
    expect(parsed.issues).toEqual([
      { file: 'a.json', line: 3, reason: expect.stringMatching(/^invalid UTF-8 at byte offset \d+ \(line 4\): the row is skipped$/) },
    ]);
  });
});
