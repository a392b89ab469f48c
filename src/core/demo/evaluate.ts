import * as tf from '@tensorflow/tfjs';
import type { ChatTokenizer } from '../data/tokenizer';
import type { CausalLM, LoraAdapter } from '../model/types';
import { gradeColorAnswer, type ColorAnswerKind, type ColorPrompt } from './colors';

export interface GreedyOptions {
  adapter: LoraAdapter | null;
  maxNewTokens: number;
  stopIds: number[];
}

/**
 * Greedy continuations of many prompts at once. Rows are right-padded; with causal attention a row's
 * real tokens never see the padding after them, so reading each row's logits at its own last token
 * gives what generating it alone would (up to float summation order). Returns the new ids per prompt,
 * the stop id included when one was produced.
 */
export async function greedyBatch(model: CausalLM, prompts: number[][], options: GreedyOptions): Promise<number[][]> {
  const seqs = prompts.map((p) => [...p]);
  const outputs = prompts.map(() => [] as number[]);
  const open = new Set(prompts.map((_, i) => i));
  const vocab = model.config.vocab_size;
  for (let step = 0; step < options.maxNewTokens && open.size > 0; step++) {
    const rows = [...open];
    const T = Math.max(...rows.map((r) => seqs[r].length));
    if (T > model.config.max_position_embeddings) break;
    const ids = new Int32Array(rows.length * T);
    rows.forEach((r, i) => ids.set(seqs[r], i * T));
    const last = tf.tidy(() => {
      const hidden = model.hidden(tf.tensor2d(ids, [rows.length, T], 'int32'), { adapter: options.adapter });
      const flat = tf.reshape(hidden, [-1, model.config.hidden_size]) as tf.Tensor2D;
      const at = tf.tensor1d(rows.map((r, i) => i * T + seqs[r].length - 1), 'int32');
      return tf.argMax(tf.matMul(tf.gather(flat, at), model.headWeight(), false, true), 1);
    });
    const next = (await last.data()) as Int32Array;
    last.dispose();
    rows.forEach((r, i) => {
      const id = next[i];
      if (id < 0 || id >= vocab) throw new Error(`greedy decoding produced token ${id} outside the vocabulary (${vocab})`);
      outputs[r].push(id);
      seqs[r].push(id);
      if (options.stopIds.includes(id)) open.delete(r);
    });
  }
  return outputs;
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
    const ids = chunk.map((p) => tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: p.text }], { addGenerationPrompt: true }), false));
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
