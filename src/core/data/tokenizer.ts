import { Template } from '@huggingface/jinja';
import { renderBounded } from './chat-template';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Message } from './types';

export interface ChatTemplateOptions {
  addGenerationPrompt: boolean;
  /** Tool schemas; an empty list counts as none (TRL: `tools or None`). */
  tools?: unknown[];
  /** Extra template variables, e.g. { enable_thinking: false }. */
  kwargs?: Record<string, unknown>;
}

type Config = Record<string, unknown>;

/** tokenizer_config.json stores special tokens as strings or as serialised AddedToken objects. */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Config).content === 'string') {
    return (value as Config).content as string;
  }
  return null;
}

/** The template to use: a string, or the entry named "default" of a list of named templates. */
function pickChatTemplate(raw: unknown): string | null {
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    const named = raw.find((t) => t && typeof t === 'object' && (t as Config).name === 'default');
    if (named && typeof (named as Config).template === 'string') return (named as Config).template as string;
    const names = raw.map((t) => JSON.stringify((t as Config)?.name)).join(', ');
    throw new Error(`tokenizer_config.json lists chat templates (${names}) but none is named "default"`);
  }
  return null;
}

/** The first `length` UTF-16 units of text, one shorter where that would split a surrogate pair. */
function cutAt(text: string, length: number): string {
  if (length >= text.length) return text;
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}

/**
 * Refuses a tokenizer that can produce ids the model has no embedding row for (ids ≥ its vocab_size),
 * naming both numbers, before any weight is loaded: otherwise the first such token fails deep inside
 * an embedding lookup.
 */
export function assertTokenizerFitsModel(tokenizer: ChatTokenizer, modelVocabSize: number, where: string): void {
  // Added tokens past the embedding (Gemma 3's text models list an image token at 262,144 over a
  // vocab_size of 262,144) are allowed: text does not produce them unless it spells them out.
  const used = Math.max(tokenizer.baseVocabSize - 1, tokenizer.eosTokenId ?? -1, tokenizer.bosTokenId ?? -1, tokenizer.padTokenId ?? -1);
  if (used >= modelVocabSize) {
    throw new Error(
      `${where}: the tokenizer has token ids up to ${used}, but the model's vocab_size is ${modelVocabSize} ` +
        `(ids 0–${modelVocabSize - 1}): the tokenizer and config.json are not of the same model`,
    );
  }
}

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) with its chat template, behaving as
 * transformers' PreTrainedTokenizerFast does for what DPO needs: encode/decode, chat-template rendering
 * and the special token ids.
 */
export class ChatTokenizer {
  readonly eosToken: string | null;
  readonly eosTokenId: number | null;
  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  /** The pad token id; falls back to EOS when the tokenizer has no pad token, as TRL does. */
  readonly padTokenId: number | null;
  /** Highest token id + 1, added tokens included (transformers' `len(tokenizer)`). */
  readonly vocabSize: number;
  /** Highest id of the model's own vocabulary (added tokens left out) + 1. */
  readonly baseVocabSize: number;
  private template: Template | null = null;

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly config: Config,
    private readonly chatTemplate: string | null,
  ) {
    const idOf = (token: string | null) => (token === null ? null : (tokenizer.token_to_id(token) ?? null));
    this.eosToken = tokenContent(config.eos_token);
    this.eosTokenId = idOf(this.eosToken);
    this.bosToken = tokenContent(config.bos_token);
    this.bosTokenId = idOf(this.bosToken);
    this.padTokenId = idOf(tokenContent(config.pad_token)) ?? this.eosTokenId;
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    let maxBaseId = -1;
    for (const id of tokenizer.get_vocab(false).values()) maxBaseId = Math.max(maxBaseId, id);
    this.baseVocabSize = maxBaseId + 1;
  }

  /**
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json
   * @param chatTemplate the text of chat_template.jinja, for models that keep the template in its own
   *   file (newer transformers save it there); it takes precedence over tokenizer_config.json's.
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfig: unknown, chatTemplate?: string): ChatTokenizer {
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || Array.isArray(tokenizerJson)) {
      throw new Error('tokenizer.json must hold a JSON object');
    }
    if (typeof tokenizerConfig !== 'object' || tokenizerConfig === null || Array.isArray(tokenizerConfig)) {
      throw new Error('tokenizer_config.json must hold a JSON object');
    }
    // transformers defaults clean_up_tokenization_spaces to false; tokenizers.js defaults it to true.
    const config: Config = { clean_up_tokenization_spaces: false, ...(tokenizerConfig as Config) };
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new Error(`could not load tokenizer.json: ${e instanceof Error ? e.message : String(e)}`);
    }
    const template = chatTemplate ?? pickChatTemplate(config.chat_template);
    return new ChatTokenizer(tokenizer, config, template);
  }

  /** Token ids of `text`; with addSpecialTokens the post-processor may add BOS/EOS (e.g. Llama's BOS). */
  encode(text: string, addSpecialTokens = true): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /**
   * The first `limit` ids of encode(text) (all of them when there are fewer), without tokenizing text that
   * cannot reach them: a prefix of the text is encoded at two cut points, and its first `limit` ids are
   * taken once both cuts agree on them and reach past them by a margin. Pre-tokenizers split text into
   * local pieces, so ids well before a cut do not depend on what follows it; where a piece runs long
   * (a long word, a byte run), the cuts disagree and the window doubles, up to the whole text.
   */
  encodePrefix(text: string, limit: number, addSpecialTokens = true): number[] {
    const MARGIN = 16;
    // About 4 characters a token in prose; 8 a token leaves room for long tokens before the first retry.
    for (let window = 8 * (limit + MARGIN) + 1024; window < text.length; window *= 2) {
      const near = this.encode(cutAt(text, window), addSpecialTokens);
      if (near.length < limit + MARGIN) continue;
      const far = this.encode(cutAt(text, window + (window >> 2)), addSpecialTokens);
      let same = true;
      for (let i = 0; i < limit && same; i++) same = near[i] === far[i];
      if (same) return near.slice(0, limit);
    }
    return this.encode(text, addSpecialTokens).slice(0, limit);
  }

  decode(ids: number[], skipSpecial = false): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: skipSpecial });
  }

  /** The id of a token string, or null when the vocabulary lacks it. */
  tokenId(token: string): number | null {
    return this.tokenizer.token_to_id(token) ?? null;
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null;
  }

  /**
   * Renders messages with the tokenizer's chat template as transformers' apply_chat_template(tokenize=False)
   * does: the special tokens are template variables, then tools, add_generation_prompt and the kwargs.
   * To tokenize the result like transformers, encode it with addSpecialTokens = false.
   */
  applyChatTemplate(messages: Message[], opts: ChatTemplateOptions): string {
    if (this.chatTemplate === null) {
      throw new Error(
        'this tokenizer has no chat template (tokenizer_config.json has no "chat_template"), so conversational data cannot be rendered',
      );
    }
    const specialTokens: Config = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
      const content = tokenContent(this.config[key]);
      if (content !== null) specialTokens[key] = content;
    }
    if (Array.isArray(this.config.additional_special_tokens)) {
      specialTokens.additional_special_tokens = this.config.additional_special_tokens.map(tokenContent);
    }
    try {
      this.template ??= new Template(this.chatTemplate);
      return renderBounded(this.template, {
        ...specialTokens,
        ...opts.kwargs,
        messages,
        tools: opts.tools && opts.tools.length > 0 ? opts.tools : null,
        add_generation_prompt: opts.addGenerationPrompt,
      });
    } catch (e) {
      throw new Error(`chat template failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
