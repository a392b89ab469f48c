import * as tf from '@tensorflow/tfjs';
import { Rng } from '../random';
import type { CausalLM, LoraAdapter } from './types';
import { matMulTransposed } from './weights';

export interface GenerateOptions {
  adapter: LoraAdapter | null;
  maxNewTokens: number;
  /** 0 picks the most likely token (greedy). */
  temperature: number;
  /** Sampling seed of the first sequence; sequence i of a batch samples with seed + i. */
  seed: number;
  /** Generation stops after any of these ids. */
  stopIds: number[];
  /**
   * Right-pads every forward pass to a multiple of this many tokens (0 or absent: no padding). Attention
   * is causal, so padding after a sequence changes nothing at its real positions; what it buys is
   * fewer distinct shapes, so a GPU backend reuses the programs it compiled for a bucket instead of
   * compiling a set per sequence length (seconds per token on a software GPU).
   */
  lengthBucket?: number;
  /** Called after each new token of the batch, with the rows still generating. */
  onStep?: (step: number, openRows: number) => void;
}

/**
 * Continuations of many prompts at once, greedy or sampled. Each new token reruns the whole
 * sequences: the demo models are tiny, and one code path keeps generation identical to the forward
 * pass that training scores. Rows are right-padded to the longest open row (then to the length
 * bucket); each row's next token is read at its own last position. A row ends after a stop id (kept
 * in its output), after maxNewTokens, or when it fills the model's positions.
 */
export async function generateBatch(model: CausalLM, prompts: number[][], options: GenerateOptions): Promise<number[][]> {
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`generation needs at least one prompt token (prompt ${i + 1} of ${prompts.length} is empty)`);
  });
  const maxLength = model.config.max_position_embeddings;
  const vocab = model.config.vocab_size;
  const bucket = options.lengthBucket ?? 0;
  const greedy = options.temperature <= 0;
  const rngs = greedy ? [] : prompts.map((_, i) => new Rng(options.seed + i));
  const seqs = prompts.map((p) => [...p]);
  const outputs = prompts.map(() => [] as number[]);
  const isOpen = (r: number) => outputs[r].length < options.maxNewTokens && seqs[r].length < maxLength;
  const open = new Set(prompts.map((_, i) => i).filter(isOpen));
  for (let step = 1; open.size > 0; step++) {
    const rows = [...open];
    const longest = Math.max(...rows.map((r) => seqs[r].length));
    const T = bucket > 0 ? Math.min(maxLength, Math.ceil(longest / bucket) * bucket) : longest;
    const ids = new Int32Array(rows.length * T);
    rows.forEach((r, i) => ids.set(seqs[r], i * T));
    const picked = tf.tidy(() => {
      const hidden = model.hidden(tf.tensor2d(ids, [rows.length, T], 'int32'), { adapter: options.adapter });
      const flat = tf.reshape(hidden, [-1, model.config.hidden_size]) as tf.Tensor2D;
      const at = tf.tensor1d(
        rows.map((r, i) => i * T + seqs[r].length - 1),
        'int32',
      );
      const logits = matMulTransposed(tf.gather(flat, at), model.headWeight());
      return greedy ? tf.argMax(logits, 1) : logits;
    });
    const values = await picked.data();
    picked.dispose();
    rows.forEach((r, i) => {
      const id = greedy ? values[i] : sample(values.subarray(i * vocab, (i + 1) * vocab) as Float32Array, options.temperature, rngs[r]);
      if (id < 0 || id >= vocab) throw new Error(`generation produced token ${id} outside the vocabulary (${vocab})`);
      outputs[r].push(id);
      seqs[r].push(id);
      if (options.stopIds.includes(id) || !isOpen(r)) open.delete(r);
    });
    options.onStep?.(step, open.size);
  }
  return outputs;
}

/** The continuation of one prompt: generateBatch with a batch of one. */
export async function generateIds(model: CausalLM, promptIds: number[], options: GenerateOptions): Promise<number[]> {
  return (await generateBatch(model, [promptIds], options))[0];
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
