/**
 * A tiny byte-level tokenizer for the demo model and every test model: 259 tokens, no merges.
 *
 * - ids 0–255: one token per byte, id = byte value. Each token's string is that byte's symbol in GPT-2's
 *   byte-level alphabet, so the files are an ordinary byte-level BPE tokenizer (with zero merges) that
 *   transformers and tokenizers.js both load, and every UTF-8 text round-trips.
 * - 256 `<|endoftext|>`: eos_token and pad_token (pad = eos, which TRL would pick anyway).
 * - 257 `<|im_start|>`, 258 `<|im_end|>`: ChatML turn markers; further special tokens follow from 259.
 * - No BOS, no normalizer (an NFC normalizer would break byte-exact round trips), no regex pre-split
 *   (with no merges it cannot change the ids).
 *
 * Chat turns end with `<|im_end|>`, not the eos token, as in Qwen's base tokenizers: a generator that
 * samples chat replies should stop on `<|im_end|>` as well as on eos.
 */

export const BYTE_TOKENIZER_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** ChatML: `<|im_start|>role\ncontent<|im_end|>\n` per message, `<|im_start|>assistant\n` to prompt a reply. */
export const CHATML_TEMPLATE =
  "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** GPT-2's reversible byte → printable character map: printable Latin-1 bytes map to themselves, the rest to U+0100 onward. */
export function byteLevelAlphabet(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const symbols: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) symbols.push(String.fromCodePoint(printable(b) ? b : next++));
  return symbols;
}

export interface ByteTokenizerOptions {
  /** More special tokens, given ids 259, 260, … in order. */
  extraSpecialTokens?: string[];
  /** Replaces the ChatML template. */
  chatTemplate?: string;
}

export function byteLevelTokenizerFiles(options: ByteTokenizerOptions = {}): { tokenizerJson: object; tokenizerConfig: object } {
  const specials = [...BYTE_TOKENIZER_SPECIAL_TOKENS, ...(options.extraSpecialTokens ?? [])];
  if (new Set(specials).size !== specials.length) throw new Error(`special tokens must be distinct: ${specials.join(', ')}`);
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach((symbol, byte) => (vocab[symbol] = byte));
  const addedTokens = specials.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: false,
    add_prefix_space: false,
    bos_token: null,
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    additional_special_tokens: specials.slice(1),
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
    chat_template: options.chatTemplate ?? CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    split_special_tokens: false,
  };
  return { tokenizerJson, tokenizerConfig };
}
