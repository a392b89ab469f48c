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

/**
 * How a row without a prompt field is split into prompt and completions:
 * - common_prefix: TRL's extract_prompt, the longest common prefix (by character, or by message);
 * - last_turn: the chapter's format_preference, at the last assistant turn: the prompt is everything
 *   up to and including the last "Assistant:" (and the space after it), or every message before the
 *   last assistant message; chosen and rejected must agree up to there.
 */
export type PromptSplit = 'common_prefix' | 'last_turn';
export const PROMPT_SPLITS: readonly PromptSplit[] = ['common_prefix', 'last_turn'];

/** The marker of an assistant turn in Human:/Assistant: transcripts (Anthropic HH). */
export const ASSISTANT_MARKER = 'Assistant:';

/** A split, or why the row cannot be split that way. */
export type SplitResult<T> = { ok: true; split: SplitPair<T> } | { ok: false; reason: string };

/** Two transcripts split at their last "Assistant:" turn; their text up to it must be the same. */
export function splitStringsAtLastTurn(chosen: string, rejected: string): SplitResult<string> {
  const atC = chosen.lastIndexOf(ASSISTANT_MARKER);
  const atR = rejected.lastIndexOf(ASSISTANT_MARKER);
  if (atC < 0 || atR < 0) {
    const which = atC < 0 && atR < 0 ? 'chosen and rejected have' : atC < 0 ? 'chosen has' : 'rejected has';
    return {
      ok: false,
      reason: `${which} no "${ASSISTANT_MARKER}" turn to split at (the last-turn split reads Human:/Assistant: transcripts)`,
    };
  }
  let end = atC + ASSISTANT_MARKER.length;
  if (atR !== atC || rejected.slice(0, end) !== chosen.slice(0, end)) {
    return { ok: false, reason: `chosen and rejected differ before their last "${ASSISTANT_MARKER}" turn, so they share no prompt` };
  }
  // The space after the marker ends the prompt, as in the chapter's split at "Assistant: ", where both have it.
  if (chosen[end] === ' ' && rejected[end] === ' ') end++;
  return { ok: true, split: { prompt: chosen.slice(0, end), chosen: chosen.slice(end), rejected: rejected.slice(end) } };
}

/** Two conversations split before their last assistant message; the messages before it must be the same. */
export function splitMessagesAtLastTurn(chosen: Message[], rejected: Message[]): SplitResult<Message[]> {
  const last = (list: Message[]) => list.findLastIndex((m) => m.role === 'assistant');
  const endC = last(chosen);
  const endR = last(rejected);
  if (endC < 0 || endR < 0) {
    const which = endC < 0 && endR < 0 ? 'chosen and rejected have' : endC < 0 ? 'chosen has' : 'rejected has';
    return { ok: false, reason: `${which} no assistant message to split at` };
  }
  if (endC === 0) return { ok: false, reason: 'the last assistant message is the first message, so there is no prompt before it' };
  if (endC !== endR || !deepEqual(chosen.slice(0, endC), rejected.slice(0, endR))) {
    return { ok: false, reason: 'chosen and rejected differ before their last assistant message, so they share no prompt' };
  }
  return { ok: true, split: { prompt: chosen.slice(0, endC), chosen: chosen.slice(endC), rejected: rejected.slice(endR) } };
}

const WORD_CHARACTER = /[\p{L}\p{N}]/u;

/**
 * True when a string prompt ends inside a word: its last character and the first character of a
 * completion are both letters or digits ("…Assistant: I" | "t is yellow."), as the common-prefix split
 * does when two answers start with the same letters.
 */
export function endsMidWord(prompt: string, chosen: string, rejected: string): boolean {
  const tail = Array.from(prompt.slice(-2)).at(-1);
  if (tail === undefined || !WORD_CHARACTER.test(tail)) return false;
  const starts = (s: string) => {
    const head = s.codePointAt(0);
    return head !== undefined && WORD_CHARACTER.test(String.fromCodePoint(head));
  };
  return starts(chosen) || starts(rejected);
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
