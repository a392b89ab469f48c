export type * from './types';
export { parsePreferenceFile } from './read';
export { extractStringPrompt, extractMessagesPrompt } from './extract-prompt';
export { ChatTokenizer, type ChatTemplateOptions } from './tokenizer';
export { tokenizePairs, type TokenizeOptions } from './tokenize';
export { promptIds, GENERATION_PROMPT, type PromptIdsOptions } from './prompt-ids';
export { collatePreference, batchIndices, type CollateOptions } from './collate';
export {
  byteLevelTokenizerFiles,
  byteLevelAlphabet,
  CHATML_TEMPLATE,
  BYTE_TOKENIZER_SPECIAL_TOKENS,
  type ByteTokenizerOptions,
} from './byte-tokenizer';
