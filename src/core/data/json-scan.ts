/**
 * A small JSON syntax scanner. JSON.parse does the real parsing; this scanner exists for the two things
 * JSON.parse cannot tell us portably: where a syntax error is (engines word and place it differently,
 * some give no position at all), and where each element of a top-level array starts (for line numbers).
 */

export interface JsonSyntaxError {
  /** Offset of the offending character in the scanned text. */
  offset: number;
  reason: string;
}

export type ArrayScan = { ok: true; elementStarts: number[] } | { ok: false; error: JsonSyntaxError };

class SyntaxFault extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const ESCAPABLE = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

class Scanner {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(reason: string): never {
    throw new SyntaxFault(this.pos, reason);
  }

  skipWhitespace(): void {
    while (this.pos < this.text.length && WHITESPACE.has(this.text[this.pos])) this.pos++;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  /**
   * Scans one value; when `onElement` is given and the value is an array, reports each element's start.
   * Iterative, with its own stack of open containers: nesting depth costs memory, never the call stack
   * (a line of 5,000 '[' is one bad line, not a stack overflow).
   */
  value(onElement?: (start: number) => void): void {
    const open: { close: ']' | '}'; report: boolean }[] = [];
    for (;;) {
      // A value, or the opening of a container whose first value comes next.
      this.skipWhitespace();
      const c = this.peek();
      if (c === undefined) this.fail('unexpected end of input, expected a value');
      if (c === '{' || c === '[') {
        this.pos++;
        this.skipWhitespace();
        const close = c === '{' ? '}' : ']';
        if (this.peek() === close) this.pos++;
        else {
          const report = c === '[' && open.length === 0 && onElement !== undefined;
          open.push({ close, report });
          if (close === '}') this.propertyName();
          else if (report) onElement(this.pos);
          continue;
        }
      } else this.scalar(c);
      // After a whole value: close what ends here, up to the next separator.
      for (;;) {
        const top = open.at(-1);
        if (top === undefined) return;
        this.skipWhitespace();
        const d = this.peek();
        if (d === ',') {
          this.pos++;
          this.skipWhitespace();
          if (top.close === '}') this.propertyName();
          else if (top.report) onElement!(this.pos);
          break;
        }
        if (d === top.close) {
          this.pos++;
          open.pop();
          continue;
        }
        if (top.close === '}') {
          this.fail(d === undefined ? "unexpected end of input, expected ',' or '}'" : "expected ',' or '}' after a property value");
        }
        this.fail(d === undefined ? "unexpected end of input, expected ',' or ']'" : "expected ',' or ']' after an array element");
      }
    }
  }

  /** A property name and its colon; the value follows. */
  private propertyName(): void {
    this.skipWhitespace();
    if (this.peek() !== '"') this.fail('expected a double-quoted property name');
    this.string();
    this.skipWhitespace();
    if (this.peek() !== ':') this.fail("expected ':' after the property name");
    this.pos++;
  }

  /** A string, number or literal starting with `c`. */
  private scalar(c: string): void {
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return;
      }
    }
    this.fail(`unexpected character ${JSON.stringify(c)}, expected a value`);
  }

  private string(): void {
    this.pos++; // opening quote
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c < ' ') this.fail('control character inside a string (escape it, e.g. \\n)');
      if (c === '\\') {
        const e = this.text[this.pos + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.fail('bad \\u escape');
          this.pos += 6;
          continue;
        }
        if (e === undefined || !ESCAPABLE.has(e)) this.fail('bad escape sequence');
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('malformed number');
    this.pos += m[0].length;
  }
}

function scan(text: string, onElement?: (start: number) => void): JsonSyntaxError | null {
  const s = new Scanner(text);
  try {
    s.value(onElement);
    s.skipWhitespace();
    if (s.pos < text.length) s.fail('unexpected text after the end of the JSON value');
    return null;
  } catch (e) {
    if (e instanceof SyntaxFault) return { offset: e.offset, reason: e.reason };
    throw e;
  }
}

/** The first syntax error in `text`, or null when it is one valid JSON value. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  return scan(text);
}

/** Validates a JSON array text and returns the offset where each of its top-level elements starts. */
export function scanJsonArray(text: string): ArrayScan {
  const starts: number[] = [];
  // Only the outermost value gets the callback, so nested arrays report nothing.
  const error = scan(text, (start) => starts.push(start));
  return error ? { ok: false, error } : { ok: true, elementStarts: starts };
}

/** Maps 0-based offsets in `text` to 1-based lines and columns (binary search over line starts). */
export function lineLocator(text: string): (offset: number) => { line: number; column: number } {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo] + 1 };
  };
}
