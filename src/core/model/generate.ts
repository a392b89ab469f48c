import * as tf from '@tensorflow/tfjs';
import { Rng } from '../random';
import type { CausalLM, LoraAdapter } from './types';

export interface GenerateOptions {
  adapter: LoraAdapter | null;
  maxNewTokens: number;
  /** 0 picks the most likely token (greedy). */
  temperature: number;
  seed: number;
  /** Generation stops after any of these ids. */
  stopIds: number[];
}

/**
 * Samples a continuation of promptIds. Each new token reruns the whole sequence: the demo models are
 * tiny, and one code path keeps generation identical to the forward pass that training scores.
 */
export async function generateIds(model: CausalLM, promptIds: number[], options: GenerateOptions): Promise<number[]> {
  if (promptIds.length === 0) throw new Error('generation needs at least one prompt token');
  const rng = new Rng(options.seed);
  const ids = [...promptIds];
  const out: number[] = [];
  const limit = Math.min(options.maxNewTokens, model.config.max_position_embeddings - promptIds.length);
  for (let i = 0; i < limit; i++) {
    const last = tf.tidy(() => {
      const hidden = model.hidden(tf.tensor2d([ids], [1, ids.length], 'int32'), { adapter: options.adapter });
      const h = tf.slice(hidden, [0, ids.length - 1, 0], [1, 1, -1]).reshape([1, -1]);
      return tf.matMul(h, model.headWeight(), false, true).reshape([-1]);
    });
    const logits = (await last.data()) as Float32Array;
    last.dispose();
    const next = options.temperature <= 0 ? argmax(logits) : sample(logits, options.temperature, rng);
    out.push(next);
    ids.push(next);
    if (options.stopIds.includes(next)) break;
  }
  return out;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function sample(logits: Float32Array, temperature: number, rng: Rng): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const p = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    p[i] = Math.exp((logits[i] - max) / temperature);
    total += p[i];
  }
  let u = rng.next() * total;
  for (let i = 0; i < p.length; i++) {
    u -= p[i];
    if (u <= 0) return i;
  }
  return p.length - 1;
}

/** Tokens that end an assistant turn in common chat templates. */
const END_OF_TURN_TOKENS = ['<|im_end|>', '<|eot_id|>', '<|end|>', '<end_of_turn>', '<|endoftext|>'];

/**
 * Ids that end generation: generation_config.json's eos_token_id (one or a list, as transformers
 * reads it), the tokenizer's EOS, and the end-of-turn token of the chat template's family.
 */
export function stopTokenIds(
  tokenizer: { eosTokenId: number | null; tokenId(token: string): number | null },
  generationConfig: unknown,
): number[] {
  const ids = new Set<number>();
  const fromConfig = (generationConfig as { eos_token_id?: unknown } | null)?.eos_token_id;
  for (const id of Array.isArray(fromConfig) ? fromConfig : [fromConfig]) {
    if (typeof id === 'number') ids.add(id);
  }
  if (tokenizer.eosTokenId !== null) ids.add(tokenizer.eosTokenId);
  for (const token of END_OF_TURN_TOKENS) {
    const id = tokenizer.tokenId(token);
    if (id !== null) ids.add(id);
  }
  return [...ids];
}
