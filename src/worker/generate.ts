import { GENERATION_PROMPT, promptIds as textIds } from '../core/data/prompt-ids';
import type { Text } from '../core/data/types';
import type { ModelSession } from './model-session';

/**
 * Generation in the worker pads sequences to multiples of this length (GenerateOptions.lengthBucket),
 * so every new token reuses the GPU programs compiled for its bucket.
 */
export const LENGTH_BUCKET = 16;

/** The prompt as the model sees it: through the chat template when the tokenizer has one. */
export function promptIds(session: ModelSession, prompt: Text): number[] {
  return textIds(session.tokenizer, prompt, GENERATION_PROMPT);
}
