import * as tf from '@tensorflow/tfjs';
import type { GenerateOptions } from '../core/model/generate';
import type { CausalLM } from '../core/model/types';
import { Rng } from '../core/random';

/** Sequences are padded up to a multiple of this, so shapes (and compiled GPU programs) repeat. */
const LENGTH_BUCKET = 16;

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

/**
 * generateIds (core/model/generate.ts) with the sequence right-padded to a length bucket: attention is
 * causal, so the padding changes nothing at the last real position, and every new token reuses the
 * GPU programs compiled for its bucket instead of compiling a set per sequence length (seconds per
 * token on a software GPU, noticeable on a real one).
 */
export async function generateBucketed(model: CausalLM, promptIds: number[], options: GenerateOptions & { padId: number }): Promise<number[]> {
  if (promptIds.length === 0) throw new Error('generation needs at least one prompt token');
  const rng = new Rng(options.seed);
  const ids = [...promptIds];
  const out: number[] = [];
  const maxLength = model.config.max_position_embeddings;
  const limit = Math.min(options.maxNewTokens, maxLength - promptIds.length);
  for (let i = 0; i < limit; i++) {
    const length = ids.length;
    const padded = Math.min(maxLength, Math.ceil(length / LENGTH_BUCKET) * LENGTH_BUCKET);
    const row = [...ids, ...new Array<number>(padded - length).fill(options.padId)];
    const last = tf.tidy(() => {
      const hidden = model.hidden(tf.tensor2d([row], [1, padded], 'int32'), { adapter: options.adapter });
      const h = tf.slice(hidden, [0, length - 1, 0], [1, 1, -1]).reshape([1, -1]);
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
