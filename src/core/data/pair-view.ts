/**
 * One pair as the model sees it: its token ids, each token's text, and which tokens the collator keeps
 * under max_length / max_prompt_length and the truncation mode (the same rules as collatePreference),
 * for each of the two sequences prompt + chosen and prompt + rejected.
 *
 *   keptRanges(promptLength, completionLength, opts): which prompt and completion tokens are kept
 *   pairView(pair, tokenizer, opts): PairView
 */
import type { CollateOptions } from './collate';
import type { TokenizedPair } from './types';

/** Tokens [start, end) of a part that the collated row keeps. */
export interface KeptRange {
  start: number;
  end: number;
}

/**
 * Which tokens of prompt + completion one collated row keeps: max_prompt_length keeps the prompt's last
 * tokens, then max_length keeps the sequence's start (keep_start) or its end (keep_end).
 */
export function keptRanges(
  promptLength: number,
  completionLength: number,
  opts: Pick<CollateOptions, 'max_length' | 'max_prompt_length' | 'truncation_mode'>,
): { prompt: KeptRange; completion: KeptRange } {
  const promptStart = opts.max_prompt_length === null ? 0 : Math.max(0, promptLength - opts.max_prompt_length);
  const P = promptLength - promptStart;
  const total = P + completionLength;
  const L = opts.max_length;
  if (L === null || total <= L) {
    return { prompt: { start: promptStart, end: promptLength }, completion: { start: 0, end: completionLength } };
  }
  if (opts.truncation_mode === 'keep_start') {
    const promptKept = Math.min(P, L);
    return {
      prompt: { start: promptStart, end: promptStart + promptKept },
      completion: { start: 0, end: Math.max(0, Math.min(completionLength, L - P)) },
    };
  }
  const completionKept = Math.min(completionLength, L);
  const promptKept = L - completionKept;
  return {
    prompt: { start: promptLength - promptKept, end: promptLength },
    completion: { start: completionLength - completionKept, end: completionLength },
  };
}

/** What a pair view needs of a tokenizer: one token's text. */
export interface TokenText {
  decode(ids: number[], skipSpecial?: boolean): string;
}

export interface ViewToken {
  id: number;
  /** The token decoded alone (a byte of a longer character shows as U+FFFD). */
  text: string;
}

export interface PairViewSide {
  completion: ViewToken[];
  /** The tokens of the prompt and of this completion that the collated row keeps. */
  kept: { prompt: KeptRange; completion: KeptRange };
  /** True when tokenize(prompt + completion) did not start with tokenize(prompt): TRL splits the joint ids at the prompt's length all the same. */
  prefixMismatch: boolean;
}

export interface PairView {
  index: number;
  line: number;
  prompt: ViewToken[];
  chosen: PairViewSide;
  rejected: PairViewSide;
  /** TRL drops the pair: the prompt alone reaches max_length (keep_start). */
  dropped: boolean;
}

/** Each token id with its text decoded alone. */
export function viewTokens(ids: readonly number[], tokenizer: TokenText): ViewToken[] {
  return ids.map((id) => ({ id, text: tokenizer.decode([id]) }));
}

export function pairView(
  pair: TokenizedPair,
  tokenizer: TokenText,
  opts: Pick<CollateOptions, 'max_length' | 'max_prompt_length' | 'truncation_mode'>,
): PairView {
  const tokens = (ids: number[]) => viewTokens(ids, tokenizer);
  const side = (ids: number[], which: 'chosen' | 'rejected'): PairViewSide => ({
    completion: tokens(ids),
    kept: keptRanges(pair.prompt_ids.length, ids.length, opts),
    prefixMismatch: pair.prefix_mismatch[which],
  });
  return {
    index: pair.index,
    line: pair.line,
    prompt: tokens(pair.prompt_ids),
    chosen: side(pair.chosen_ids, 'chosen'),
    rejected: side(pair.rejected_ids, 'rejected'),
    dropped: opts.max_length !== null && opts.truncation_mode === 'keep_start' && pair.prompt_ids.length >= opts.max_length,
  };
}
