import { promptIds } from './prompt-ids';
import type { ChatTokenizer } from './tokenizer';
import type { Message, PreferenceRow, TokenizeReport, TruncationMode } from './types';

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
 * Conversations: the prompt rendered with the generation prompt, prompt+completion rendered without it,
 * all encoded without special tokens (transformers' apply_chat_template(tokenize=True) does the same).
 */
function conversationIds(row: PreferenceRow, tok: ChatTokenizer): JointIds {
  const prompt = asMessages(row.prompt, row, 'prompt');
  const render = (messages: Message[], addGenerationPrompt: boolean) =>
    promptIds(tok, messages, { addGenerationPrompt, tools: row.tools, chatTemplateKwargs: row.chat_template_kwargs });
  return {
    prompt: render(prompt, true),
    promptChosen: render([...prompt, ...asMessages(row.chosen, row, 'chosen')], false),
    promptRejected: render([...prompt, ...asMessages(row.rejected, row, 'rejected')], false),
  };
}

/** Plain text: EOS appended to completions that lack it (TRL's add_eos), encoded with special tokens. */
function textIds(row: PreferenceRow, tok: ChatTokenizer, eos: string): JointIds {
  const prompt = asString(row.prompt, row, 'prompt');
  const withEos = (s: string) => (s.endsWith(eos) ? s : s + eos);
  const encode = (text: string) => promptIds(tok, text, { addGenerationPrompt: false });
  return {
    prompt: encode(prompt),
    promptChosen: encode(prompt + withEos(asString(row.chosen, row, 'chosen'))),
    promptRejected: encode(prompt + withEos(asString(row.rejected, row, 'rejected'))),
  };
}

/**
 * Tokenizes preference rows as TRL's DPOTrainer._prepare_dataset does: prompt+completion is tokenized
 * jointly and sliced at the prompt's length, so the completion ids are what the model really sees after
 * the prompt. When the joint tokenization does not start with the prompt's ids (a merge across the
 * boundary, or a chat template that renders the prompt differently once a reply follows), TRL only warns;
 * here the row is kept, flagged on the pair, and reported in `mismatches`. Rows whose prompt alone reaches
 * max_length are dropped (keep_start only, as in TRL). Rows the chat template cannot render are reported
 * in `failed`.
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

  const report: TokenizeReport = { pairs: [], dropped: [], mismatches: [], failed: [] };
  rows.forEach((row, index) => {
    let ids: JointIds;
    try {
      ids = row.conversational ? conversationIds(row, tok) : textIds(row, tok, eos!);
    } catch (e) {
      report.failed.push({ file, line: row.line, reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (dropsLongPrompts && ids.prompt.length >= maxLength!) {
      report.dropped.push({
        file,
        line: row.line,
        field: 'prompt',
        reason: `prompt is ${ids.prompt.length} tokens, not shorter than max_length ${maxLength} (prompt+chosen ${ids.promptChosen.length}, prompt+rejected ${ids.promptRejected.length} tokens); no completion token would survive truncation`,
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
