import type { Message } from './types';

export interface SplitPair<T> {
  prompt: T;
  chosen: T;
  rejected: T;
}

/**
 * TRL's `extract_prompt` over any sequence (code points of a string, or messages): the prompt is the
 * longest common prefix of chosen and rejected.
 *
 * Two rules are TRL's and easy to miss:
 * - when the sequences first differ right after a space, the split moves back one, so the space starts
 *   the completion (" blue" rather than "blue"): tokenizers glue a leading space to the next word;
 * - when no difference is found (identical pairs, or one is a prefix of the other), Python's loop
 *   variable is left at the last compared index, so the prompt is everything but the last item of the
 *   shorter sequence.
 *
 * One TRL quirk is not copied: when the very first items differ, Python's `chosen[-1]` looks at the last
 * character, which can move the split to -1 and produce a nonsense pair. Here the prompt is then empty.
 * Both sequences must be non-empty.
 */
function splitAtCommonPrefix<T>(chosen: T[], rejected: T[], same: (a: T, b: T) => boolean, isSpace: (x: T) => boolean): SplitPair<T[]> {
  const n = Math.min(chosen.length, rejected.length);
  let split = n - 1;
  for (let i = 0; i < n; i++) {
    if (!same(chosen[i], rejected[i])) {
      split = i > 0 && isSpace(chosen[i - 1]) ? i - 1 : i;
      break;
    }
  }
  return { prompt: chosen.slice(0, split), chosen: chosen.slice(split), rejected: rejected.slice(split) };
}

/** Implicit prompt of two strings, compared by Unicode code point as Python compares str. */
export function extractStringPrompt(chosen: string, rejected: string): SplitPair<string> {
  const parts = splitAtCommonPrefix(
    Array.from(chosen),
    Array.from(rejected),
    (a, b) => a === b,
    (c) => c === ' ',
  );
  return { prompt: parts.prompt.join(''), chosen: parts.chosen.join(''), rejected: parts.rejected.join('') };
}

/** Implicit prompt of two conversations, compared message by message (every field, as Python dict equality). */
export function extractMessagesPrompt(chosen: Message[], rejected: Message[]): SplitPair<Message[]> {
  return splitAtCommonPrefix(chosen, rejected, deepEqual, () => false);
}

/** Structural equality of JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(ob, k) && deepEqual((a as Record<string, unknown>)[k], ob[k]));
}
