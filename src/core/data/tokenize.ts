import { promptIds } from './prompt-ids';
import type { ChatTokenizer } from './tokenizer';
import type { Message, PreferenceRow, Text, TokenizeReport, TruncationMode } from './types';

export interface TokenizeOptions {
  max_length: number | null;
  /** TRL drops over-long prompts only under keep_start (keep_end still keeps the completion's end). */
  truncation_mode?: TruncationMode;
  /** Names the file in the issues. */
  file?: string;
}

/** The three token sequences TRL computes for one row, before slicing. */
interface JointIds {
  prompt: number[];
  promptChosen: number[];
  promptRejected: number[];
}

/**
 * How many ids of each sequence can matter under keep_start: a prompt of max_length ids is dropped
 * whatever follows, and a prompt+completion keeps its first max_length ids plus one that marks it as cut
 * (legacy max_prompt_length shortens only the prompt, so n + max_length + 1 ids cover any prompt it keeps).
 * Null: every id matters (no max_length, or keep_end, which keeps the end).
 */
interface Limits {
  prompt: number;
  joint: (promptLength: number) => number;
}

function startsWith(ids: number[], prefix: number[]): boolean {
  if (prefix.length > ids.length) return false;
  for (let i = 0; i < prefix.length; i++) if (ids[i] !== prefix[i]) return false;
  return true;
}

function asString(value: PreferenceRow['prompt'], row: PreferenceRow, field: string): string {
  if (typeof value !== 'string') throw new Error(`line ${row.line}: ${field} is a message list in a non-conversational row`);
  return value;
}

function asMessages(value: PreferenceRow['prompt'], row: PreferenceRow, field: string): Message[] {
  if (typeof value === 'string') throw new Error(`line ${row.line}: ${field} is a string in a conversational row`);
  return value;
}

/**
 * The row's ids, or only its prompt's when the prompt alone fills its limit (the row is dropped then).
 * Conversations: the prompt rendered with the generation prompt, prompt+completion rendered without it,
 * all encoded without special tokens (transformers' apply_chat_template(tokenize=True) does the same).
 * Plain text: EOS appended to completions that lack it (TRL's add_eos), encoded with special tokens.
 */
function jointIds(row: PreferenceRow, tok: ChatTokenizer, eos: string | null, limits: Limits | null): JointIds | { prompt: number[] } {
  const ids = (text: Text, addGenerationPrompt: boolean, limit: number | undefined) =>
    promptIds(tok, text, { addGenerationPrompt, tools: row.tools, chatTemplateKwargs: row.chat_template_kwargs, limit });
  let completed: (side: 'chosen' | 'rejected') => Text;
  let prompt: Text;
  if (row.conversational) {
    const messages = asMessages(row.prompt, row, 'prompt');
    prompt = messages;
    completed = (side) => [...messages, ...asMessages(row[side], row, side)];
  } else {
    const text = asString(row.prompt, row, 'prompt');
    const withEos = (s: string) => (s.endsWith(eos!) ? s : s + eos);
    prompt = text;
    completed = (side) => text + withEos(asString(row[side], row, side));
  }
  const promptOnly = ids(prompt, row.conversational, limits?.prompt);
  if (limits && promptOnly.length >= limits.prompt) return { prompt: promptOnly };
  const jointLimit = limits?.joint(promptOnly.length);
  return {
    prompt: promptOnly,
    promptChosen: ids(completed('chosen'), false, jointLimit),
    promptRejected: ids(completed('rejected'), false, jointLimit),
  };
}

/**
 * Tokenizes preference rows as TRL's DPOTrainer._prepare_dataset does: prompt+completion is tokenized
 * jointly and sliced at the prompt's length, so the completion ids are what the model really sees after
 * the prompt. When the joint tokenization does not start with the prompt's ids (a merge across the
 * boundary, or a chat template that renders the prompt differently once a reply follows), TRL only warns;
 * here the row is kept, flagged on the pair, and reported in `mismatches`. Rows whose prompt alone reaches
 * max_length are dropped (keep_start only, as in TRL). Rows the chat template cannot render are reported
 * in `failed`. Under keep_start, text past what max_length keeps is not tokenized: a completion's ids stop
 * one past the longest cut any collation can make, and the batches are those of the whole row's ids.
 */
export function tokenizePairs(rows: PreferenceRow[], tok: ChatTokenizer, opts: TokenizeOptions): TokenizeReport {
  const file = opts.file ?? '';
  const maxLength = opts.max_length;
  if (maxLength !== null && !(Number.isInteger(maxLength) && maxLength >= 1)) {
    throw new Error(`max_length must be a positive integer or null, got ${maxLength}`);
  }
  const dropsLongPrompts = maxLength !== null && (opts.truncation_mode ?? 'keep_start') === 'keep_start';
  const eos = tok.eosToken;
  if (eos === null && rows.some((r) => !r.conversational)) {
    throw new Error('the tokenizer has no eos_token, which plain-text rows need (TRL appends it to every completion)');
  }

  const limits: Limits | null = dropsLongPrompts ? { prompt: maxLength!, joint: (n) => n + maxLength! + 1 } : null;
  const report: TokenizeReport = { pairs: [], dropped: [], mismatches: [], failed: [] };
  rows.forEach((row, index) => {
    let ids: JointIds | { prompt: number[] };
    try {
      ids = jointIds(row, tok, eos, limits);
    } catch (e) {
      report.failed.push({ file, line: row.line, reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (!('promptChosen' in ids)) {
      report.dropped.push({
        file,
        line: row.line,
        field: 'prompt',
        reason: `the prompt alone reaches max_length (${maxLength} tokens or more); no completion token would survive truncation`,
      });
      return;
    }
    const mismatch = { chosen: !startsWith(ids.promptChosen, ids.prompt), rejected: !startsWith(ids.promptRejected, ids.prompt) };
    for (const field of ['chosen', 'rejected'] as const) {
      if (!mismatch[field]) continue;
      report.mismatches.push({
        file,
        line: row.line,
        field,
        reason: `the tokenized prompt (${ids.prompt.length} tokens) is not a prefix of the tokenized prompt+${field}; the ${field} ids are still cut at the prompt's length, as TRL does, so they may start mid-token or hold part of the prompt`,
      });
    }
    const n = ids.prompt.length;
    report.pairs.push({
      index,
      line: row.line,
      prompt_ids: ids.prompt,
      chosen_ids: ids.promptChosen.slice(n),
      rejected_ids: ids.promptRejected.slice(n),
      prefix_mismatch: mismatch,
    });
  });
  return report;
}
