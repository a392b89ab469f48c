import type { ChatTokenizer } from './tokenizer';
import type { Message, Text } from './types';

export interface PromptIdsOptions {
  /** End with the template's opening of the assistant's turn: true for a prompt, false for prompt + completion. */
  addGenerationPrompt: boolean;
  /**
   * A plain string becomes one user message when the tokenizer has a chat template, as a person's prompt
   * to a chat model should (generation). Off, a string stays plain text, as TRL tokenizes
   * non-conversational datasets (training).
   */
  asUserMessage?: boolean;
  /** Tool schemas for the template (a row's `tools`). */
  tools?: unknown[];
  /** Extra template variables (a row's `chat_template_kwargs`). */
  chatTemplateKwargs?: Record<string, unknown>;
  /** Only the first `limit` ids are wanted: text past them is not tokenized (ChatTokenizer.encodePrefix). */
  limit?: number;
}

/** A person's prompt to generate from: their text as a user message when the model has a chat template. */
export const GENERATION_PROMPT: PromptIdsOptions = { addGenerationPrompt: true, asUserMessage: true };

/**
 * Token ids of a prompt (or of prompt + completion), the one place text becomes ids:
 * - messages: rendered with the chat template, then encoded without special tokens, since the template
 *   writes them itself (transformers' apply_chat_template(tokenize=True));
 * - a string with asUserMessage, when the tokenizer has a template: the same, as one user message;
 * - otherwise a string: encoded with special tokens (the post-processor may add BOS, as Llama's does).
 */
export function promptIds(tok: ChatTokenizer, prompt: Text, opts: PromptIdsOptions): number[] {
  const messages: Message[] | null =
    typeof prompt !== 'string' ? prompt : opts.asUserMessage && tok.hasChatTemplate ? [{ role: 'user', content: prompt }] : null;
  const encode = (text: string, addSpecialTokens: boolean) =>
    opts.limit === undefined ? tok.encode(text, addSpecialTokens) : tok.encodePrefix(text, opts.limit, addSpecialTokens);
  if (messages === null) return encode(prompt as string, true);
  const text = tok.applyChatTemplate(messages, {
    addGenerationPrompt: opts.addGenerationPrompt,
    tools: opts.tools,
    kwargs: opts.chatTemplateKwargs,
  });
  return encode(text, false);
}
