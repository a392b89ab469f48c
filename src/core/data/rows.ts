import {
  deepEqual,
  endsMidWord,
  extractMessagesPrompt,
  extractStringPrompt,
  splitMessagesAtLastTurn,
  splitStringsAtLastTurn,
  type PromptSplit,
} from './extract-prompt';
import type { DataIssue, DatasetFormat, Message, PreferenceRow, Text } from './types';

/** The outcome of reading one JSON value as a preference row. */
export type RowResult =
  | {
      ok: true;
      row: PreferenceRow;
      identical: boolean;
      /** An implicit string prompt that ends inside a word (see endsMidWord). */
      midWord: boolean;
    }
  | { ok: false; issues: DataIssue[] };

type Fail = (reason: string, field?: string) => void;

const TEXT_FIELDS = ['prompt', 'chosen', 'rejected'] as const;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A message list, checked element by element; extra message fields (tool_calls, …) are kept for the template. */
function readMessages(list: unknown[], field: string, fail: Fail): Message[] | undefined {
  let ok = true;
  list.forEach((m, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(m)) {
      fail(`a message must be an object with string "role" and "content", got ${describe(m)}`, at);
      ok = false;
      return;
    }
    for (const key of ['role', 'content'] as const) {
      if (!(key in m)) {
        fail(`message has no "${key}"`, `${at}.${key}`);
        ok = false;
      } else if (typeof m[key] !== 'string') {
        fail(`message ${key} must be a string, got ${describe(m[key])}`, `${at}.${key}`);
        ok = false;
      }
    }
  });
  return ok ? (list.map((m) => ({ ...(m as object) })) as Message[]) : undefined;
}

function readText(value: unknown, field: string, fail: Fail): Text | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return readMessages(value, field, fail);
  fail(`must be a string or a list of {role, content} messages, got ${describe(value)}`, field);
  return undefined;
}

/** A completion must hold something to learn from: text, or messages whose assistant turns say something. */
function checkCompletion(value: Text, field: string, firstIndex: number, fail: Fail): void {
  if (typeof value === 'string') {
    if (value.length === 0) fail('empty completion', field);
    return;
  }
  if (value.length === 0) fail('empty completion: no messages', field);
  value.forEach((m, i) => {
    if (m.role === 'assistant' && m.content.length === 0) {
      fail('assistant message has empty content', `${field}[${firstIndex + i}].content`);
    }
  });
}

function readTools(value: unknown, fail: Fail): unknown[] | undefined {
  let tools = value;
  if (typeof tools === 'string') {
    // TRL accepts tools stored as a JSON string (datasets with a string column).
    try {
      tools = JSON.parse(tools);
    } catch {
      fail('tools is a string that is not valid JSON', 'tools');
      return undefined;
    }
  }
  if (!Array.isArray(tools)) {
    fail(`tools must be a list of tool schemas, got ${describe(tools)}`, 'tools');
    return undefined;
  }
  return tools;
}

/**
 * Reads one parsed JSON value as a preference row and normalises it so that the prompt is explicit.
 * Every problem is reported with its field; a row with any problem is rejected as a whole.
 */
/**
 * The most characters one field (prompt, chosen or rejected; a message list's contents summed) may
 * hold: about a quarter of a million tokens, more than any max_length here keeps, while a row of tens
 * of megabytes would be tokenized whole before truncation.
 */
export const MAX_FIELD_CHARACTERS = 1_000_000;

function textLength(text: Text | undefined): number {
  if (text === undefined) return 0;
  if (typeof text === 'string') return text.length;
  return text.reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length), 0);
}

export function readRow(value: unknown, line: number, file: string, promptSplit: PromptSplit = 'common_prefix'): RowResult {
  const issues: DataIssue[] = [];
  const fail: Fail = (reason, field) => issues.push(field === undefined ? { file, line, reason } : { file, line, field, reason });
  const failed = (): RowResult => ({ ok: false, issues });

  if (!isPlainObject(value)) {
    fail(`row is not a JSON object (got ${describe(value)})`);
    return failed();
  }
  const present = TEXT_FIELDS.filter((k) => value[k] !== undefined);
  if (present.length === 0) {
    const keys = Object.keys(value);
    fail(
      `unrecognised row: expected fields prompt/chosen/rejected or chosen/rejected, found ${keys.length ? keys.map((k) => JSON.stringify(k)).join(', ') : 'no fields'}`,
    );
    return failed();
  }
  for (const k of ['chosen', 'rejected'] as const) if (value[k] === undefined) fail('missing field', k);
  if (issues.length) return failed();

  const prompt = value.prompt === undefined ? undefined : readText(value.prompt, 'prompt', fail);
  const chosen = readText(value.chosen, 'chosen', fail);
  const rejected = readText(value.rejected, 'rejected', fail);
  if (issues.length || chosen === undefined || rejected === undefined) return failed();
  for (const [field, text] of [
    ['prompt', prompt],
    ['chosen', chosen],
    ['rejected', rejected],
  ] as const) {
    const size = textLength(text);
    if (size > MAX_FIELD_CHARACTERS) {
      fail(
        `${size.toLocaleString('en')} characters, over the limit of ${MAX_FIELD_CHARACTERS.toLocaleString('en')} per field ` +
          '(far more than any max_length keeps; tokenizing it could exhaust memory)',
        field,
      );
    }
  }
  if (issues.length) return failed();

  if (typeof chosen !== typeof rejected) {
    fail(
      `chosen is ${typeof chosen === 'string' ? 'a string' : 'a message list'} but rejected is not; both must be the same kind`,
      'rejected',
    );
    return failed();
  }
  const identical = deepEqual(chosen, rejected);

  let format: DatasetFormat;
  let parts: { prompt: Text; chosen: Text; rejected: Text };
  // Index in the file's list of the first completion message, so issues name the file's positions.
  let completionOffset = 0;

  if (prompt === undefined) {
    for (const [field, v] of [
      ['chosen', chosen],
      ['rejected', rejected],
    ] as const) {
      if (v.length === 0) fail(typeof v === 'string' ? 'empty completion' : 'empty completion: no messages', field);
    }
    if (issues.length) return failed();
    if (typeof chosen === 'string') {
      format = 'implicit_prompt';
      if (promptSplit === 'last_turn') {
        const split = splitStringsAtLastTurn(chosen, rejected as string);
        if (!split.ok) {
          fail(split.reason, 'chosen');
          return failed();
        }
        parts = split.split;
      } else {
        parts = extractStringPrompt(chosen, rejected as string);
      }
    } else {
      format = 'implicit_prompt_conversational';
      let split: { prompt: Message[]; chosen: Message[]; rejected: Message[] };
      if (promptSplit === 'last_turn') {
        const result = splitMessagesAtLastTurn(chosen, rejected as Message[]);
        if (!result.ok) {
          fail(result.reason, 'chosen');
          return failed();
        }
        split = result.split;
      } else {
        split = extractMessagesPrompt(chosen, rejected as Message[]);
        if (split.prompt.length === 0) {
          fail('chosen and rejected differ from their first message, so there is no shared prompt to extract', 'chosen');
          return failed();
        }
      }
      parts = split;
      completionOffset = split.prompt.length;
    }
  } else if (typeof prompt === 'string' && typeof chosen === 'string') {
    format = 'standard';
    parts = { prompt, chosen, rejected };
  } else if (typeof prompt !== 'string' && typeof chosen !== 'string') {
    format = 'conversational';
    if (prompt.length === 0) {
      fail('prompt is an empty message list', 'prompt');
      return failed();
    }
    parts = { prompt, chosen, rejected };
  } else if (typeof prompt === 'string' && typeof chosen !== 'string') {
    // UltraFeedback-binarized: the message lists repeat the prompt as their first (user) turn.
    for (const [field, list] of [
      ['chosen', chosen],
      ['rejected', rejected as Message[]],
    ] as const) {
      const first = list[0];
      if (!first || first.role !== 'user' || first.content !== prompt) {
        fail(
          'prompt is a string but this message list does not start with a user turn equal to the prompt (the UltraFeedback-binarized shape); give the prompt as a message list instead',
          field,
        );
      }
    }
    if (issues.length) return failed();
    format = 'ultrafeedback_binarized';
    parts = { prompt: [{ role: 'user', content: prompt }], chosen: chosen.slice(1), rejected: (rejected as Message[]).slice(1) };
    completionOffset = 1;
  } else {
    fail('prompt is a message list but chosen and rejected are strings; all three must be the same kind', 'prompt');
    return failed();
  }

  checkCompletion(parts.chosen, 'chosen', completionOffset, fail);
  checkCompletion(parts.rejected, 'rejected', completionOffset, fail);
  const conversational = typeof parts.chosen !== 'string';
  const row: PreferenceRow = { line, format, conversational, ...parts };
  if (conversational) {
    if (value.tools !== undefined && value.tools !== null) row.tools = readTools(value.tools, fail);
    const kwargs = value.chat_template_kwargs;
    if (kwargs !== undefined && kwargs !== null) {
      if (isPlainObject(kwargs)) row.chat_template_kwargs = { ...kwargs };
      else fail(`chat_template_kwargs must be an object, got ${describe(kwargs)}`, 'chat_template_kwargs');
    }
  }
  if (issues.length) return failed();
  const midWord = format === 'implicit_prompt' && endsMidWord(parts.prompt as string, parts.chosen as string, parts.rejected as string);
  return { ok: true, row, identical, midWord };
}
