import { promptIds } from '../data/prompt-ids';
import type { ChatTokenizer } from '../data/tokenizer';
import { generateBatch } from '../model/generate';
import type { CausalLM, LoraAdapter } from '../model/types';
import { gradeColorAnswer, type ColorAnswerKind, type ColorPrompt } from './colors';

export interface GreedyOptions {
  adapter: LoraAdapter | null;
  maxNewTokens: number;
  stopIds: number[];
}

/**
 * Greedy continuations of many prompts at once (generateBatch at temperature 0). Returns the new ids
 * per prompt, the stop id included when one was produced.
 */
export function greedyBatch(model: CausalLM, prompts: number[][], options: GreedyOptions): Promise<number[][]> {
  return generateBatch(model, prompts, { ...options, temperature: 0, seed: 0 });
}

export interface ColorScore {
  /** Share of prompts answered the preferred way (the checker's rate). */
  preferredRate: number;
  counts: Record<ColorAnswerKind, number>;
  answers: { prompt: string; answer: string; kind: ColorAnswerKind }[];
}

/** Greedy answers to colour prompts, graded by the checker. */
export async function scoreColorPrompts(
  model: CausalLM,
  tokenizer: ChatTokenizer,
  prompts: ColorPrompt[],
  options: GreedyOptions & { batchSize?: number },
): Promise<ColorScore> {
  const counts: Record<ColorAnswerKind, number> = { preferred: 0, 'other-case': 0, wrong: 0 };
  const answers: ColorScore['answers'] = [];
  const batchSize = options.batchSize ?? 32;
  for (let i = 0; i < prompts.length; i += batchSize) {
    const chunk = prompts.slice(i, i + batchSize);
    // Always as a chat: the demo model has a template, and a tokenizer without one should fail here.
    const ids = chunk.map((p) => promptIds(tokenizer, [{ role: 'user', content: p.text }], { addGenerationPrompt: true }));
    const outs = await greedyBatch(model, ids, options);
    chunk.forEach((p, j) => {
      const answer = tokenizer.decode(outs[j], true);
      const kind = gradeColorAnswer(p.text, answer);
      counts[kind]++;
      answers.push({ prompt: p.text, answer, kind });
    });
  }
  return { preferredRate: counts.preferred / prompts.length, counts, answers };
}
