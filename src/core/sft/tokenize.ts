import { promptIds } from '../data/prompt-ids';
import type { ChatTokenizer } from '../data/tokenizer';
import type { Message, Text } from '../data/types';

/** One SFT example in TRL's prompt-completion form: strings, or message lists for the chat template. */
export interface SftExample {
  prompt: Text;
  completion: Text;
}

/** Token ids of one example; the loss is taken on completion_ids only. */
export interface TokenizedSftExample {
  index: number;
  prompt_ids: number[];
  completion_ids: number[];
  /** True when tokenize(prompt + completion) did not start with tokenize(prompt). */
  prefix_mismatch: boolean;
}

function startsWith(ids: number[], prefix: number[]): boolean {
  return prefix.length <= ids.length && prefix.every((id, i) => ids[i] === id);
}

function jointIds(example: SftExample, index: number, tok: ChatTokenizer): { prompt: number[]; full: number[] } {
  const { prompt, completion } = example;
  if (typeof prompt !== 'string' && typeof completion !== 'string') {
    const render = (messages: Message[], addGenerationPrompt: boolean) => promptIds(tok, messages, { addGenerationPrompt });
    return { prompt: render(prompt, true), full: render([...prompt, ...completion], false) };
  }
  if (typeof prompt === 'string' && typeof completion === 'string') {
    const eos = tok.eosToken;
    if (eos === null) throw new Error(`SFT example ${index}: plain-text examples need an eos_token, and the tokenizer has none`);
    const encode = (text: string) => promptIds(tok, text, { addGenerationPrompt: false });
    return { prompt: encode(prompt), full: encode(prompt + (completion.endsWith(eos) ? completion : completion + eos)) };
  }
  throw new Error(`SFT example ${index}: prompt and completion must both be strings or both be message lists`);
}

/**
 * TRL SFTTrainer's tokenization of prompt-completion data: the prompt alone (with the generation prompt
 * for conversations), then prompt + completion jointly (EOS appended to plain text), and the completion
 * is what follows the prompt's length. Only those tokens carry the loss (completion_only_loss).
 */
export function tokenizeSftExamples(examples: SftExample[], tok: ChatTokenizer): TokenizedSftExample[] {
  return examples.map((example, index) => {
    const { prompt, full } = jointIds(example, index, tok);
    if (full.length <= prompt.length) throw new Error(`SFT example ${index}: the completion adds no tokens after the prompt`);
    return { index, prompt_ids: prompt, completion_ids: full.slice(prompt.length), prefix_mismatch: !startsWith(full, prompt) };
  });
}
