/**
 * Python source literals for generated scripts. Every value is checked, so a script never carries
 * `NaN`, `undefined` or a JavaScript-only spelling into Python.
 */

/** A value with a Python literal: str, int/float, bool, None, or a list of these. */
export type PyValue = string | number | boolean | null | readonly PyValue[];

/**
 * A Python str literal. JSON's escapes (\" \\ \n \t \uXXXX) are all valid in Python string literals,
 * and Python 3 reads source files as UTF-8, so the JSON form of a string is a Python literal.
 */
export function pyStr(value: string): string {
  return JSON.stringify(value);
}

function checkFinite(value: number, field: string): void {
  if (!Number.isFinite(value)) throw new Error(`${field}: ${value} has no Python literal (expected a finite number)`);
}

/**
 * A Python float literal: always with a decimal point or exponent, so Python reads a float; small
 * magnitudes in exponent form ("5e-5", not "0.00005"), as people write learning rates.
 */
export function pyFloat(value: number, field: string): string {
  checkFinite(value, field);
  const text = value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential() : String(value);
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

/** A Python int literal; throws on a fractional value. */
export function pyInt(value: number, field: string): string {
  if (!Number.isInteger(value)) throw new Error(`${field}: expected a whole number, got ${value}`);
  return String(value);
}

/** A Python literal for any PyValue; numbers keep their JavaScript shortest round-trip form. */
export function pyLiteral(value: PyValue, field: string): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return pyStr(value);
  if (typeof value === 'number') {
    checkFinite(value, field);
    return String(value);
  }
  return `[${value.map((v, i) => pyLiteral(v, `${field}[${i}]`)).join(', ')}]`;
}
