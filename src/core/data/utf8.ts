/**
 * Finds invalid UTF-8 in a file as it streams past, by line and byte offset: decoders replace a bad
 * sequence with U+FFFD silently, which would train on text the file never held. A valid U+FFFD (EF BF
 * BD) is text like any other.
 */
import { deepEqual } from './extract-prompt';
import { mostCommon } from './read';
import type { DatasetFormat, ParsedDataset, PreferenceRow } from './types';

/** Where an invalid sequence starts: its 1-based line and 0-based byte offset in the file. */
export interface InvalidUtf8 {
  line: number;
  offset: number;
}

export class Utf8Checker {
  /** The first invalid sequence of each line that has one, in file order. */
  readonly invalid: InvalidUtf8[] = [];
  private line = 1;
  private offset = 0;
  /** Continuation bytes the sequence in progress still needs, and the allowed range of the next one. */
  private need = 0;
  private low = 0x80;
  private high = 0xbf;
  private sequenceStart = 0;

  push(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++, this.offset++) {
      const b = bytes[i];
      if (this.need > 0) {
        if (b >= this.low && b <= this.high) {
          this.need--;
          this.low = 0x80;
          this.high = 0xbf;
          continue;
        }
        this.report(this.sequenceStart);
        this.need = 0;
      }
      if (b === 0x0a) this.line++;
      if (b < 0x80) continue;
      this.sequenceStart = this.offset;
      this.low = 0x80;
      this.high = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) this.need = 1;
      else if (b >= 0xe0 && b <= 0xef) {
        this.need = 2;
        if (b === 0xe0) this.low = 0xa0; // no overlong forms
        if (b === 0xed) this.high = 0x9f; // no surrogates
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.need = 3;
        if (b === 0xf0) this.low = 0x90;
        if (b === 0xf4) this.high = 0x8f; // nothing past U+10FFFF
      } else this.report(this.offset);
    }
  }

  /** Call after the last bytes: a sequence cut short by the end of the file is invalid too. */
  end(): void {
    if (this.need > 0) this.report(this.sequenceStart);
    this.need = 0;
  }

  private report(offset: number): void {
    const last = this.invalid.at(-1);
    if (last?.line !== this.line) this.invalid.push({ line: this.line, offset });
  }
}

/** The invalid sequences of a whole byte array (see Utf8Checker). */
export function findInvalidUtf8(bytes: Uint8Array): InvalidUtf8[] {
  const checker = new Utf8Checker();
  checker.push(bytes);
  checker.end();
  return checker.invalid;
}

/**
 * Takes the rows that hold invalid UTF-8 out of a parsed file and reports each with its line and byte
 * offset: the row on that line, or (a line with no row and no other problem: inside a multi-line
 * JSON array element) the row that spans it. Nothing else is touched.
 */
export function dropInvalidUtf8Rows(parsed: ParsedDataset, invalid: InvalidUtf8[]): ParsedDataset {
  if (invalid.length === 0) return parsed;
  const dropped = new Set<PreferenceRow>();
  const issues = [...parsed.issues];
  const byLine = new Map(parsed.rows.map((r) => [r.line, r]));
  const issueLines = new Set(parsed.issues.map((i) => i.line));
  for (const { line, offset } of invalid) {
    let row = byLine.get(line);
    if (!row && !issueLines.has(line)) row = parsed.rows.filter((r) => r.line < line).at(-1);
    if (row) dropped.add(row);
    issues.push({
      file: parsed.file,
      line: row?.line ?? line,
      reason: `invalid UTF-8 at byte offset ${offset} (line ${line}): the row is skipped`,
    });
  }
  const rows = parsed.rows.filter((r) => !dropped.has(r));
  const counts = new Map<DatasetFormat, number>();
  for (const r of rows) counts.set(r.format, (counts.get(r.format) ?? 0) + 1);
  return {
    ...parsed,
    rows,
    issues: issues.sort((a, b) => a.line - b.line),
    formatCounts: Object.fromEntries(counts),
    format: mostCommon(counts),
    identicalPairs: parsed.identicalPairs - [...dropped].filter((r) => deepEqual(r.chosen, r.rejected)).length,
  };
}
