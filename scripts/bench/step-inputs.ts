/**
 * The bench step's inputs, seeded from its case: a random Llama-family checkpoint and a synthetic
 * batch, the same wherever the step runs (the bench page, a Node runner, the exported files).
 */
import type { PreferenceBatch } from '../../src/core/data/types';
import { randomCheckpoint } from '../../src/core/model/random-checkpoint';
import { Rng } from '../../src/core/random';
import type { StepCase } from './protocol';

/**
 * B pairs of seqLen tokens each: a shared random prompt of half the length, then different random
 * chosen and rejected completions. No padding, so every position counts as a token.
 */
export function syntheticBatch(pairs: number, seqLen: number, vocab: number, rng: Rng): PreferenceBatch {
  const promptLen = Math.floor(seqLen / 2);
  const rows = 2 * pairs;
  const input_ids = new Int32Array(rows * seqLen);
  const completion_mask = new Uint8Array(rows * seqLen);
  for (let p = 0; p < pairs; p++) {
    const prompt = Array.from({ length: promptLen }, () => rng.int(vocab));
    for (const r of [p, p + pairs]) {
      for (let t = 0; t < seqLen; t++) {
        input_ids[r * seqLen + t] = t < promptLen ? prompt[t] : rng.int(vocab);
        completion_mask[r * seqLen + t] = t < promptLen ? 0 : 1;
      }
    }
  }
  return {
    B: pairs,
    T: seqLen,
    input_ids,
    attention_mask: new Uint8Array(rows * seqLen).fill(1),
    completion_mask,
    indices: Array.from({ length: pairs }, (_, i) => i),
    completion_lengths: new Array<number>(rows).fill(seqLen - promptLen),
    truncated: 0,
  };
}

/** The case's batch: the same for every implementation of the step (seeded from the case). */
export function stepBatch(c: StepCase): PreferenceBatch {
  return syntheticBatch(c.pairs, c.seqLen, c.dims.vocab_size, new Rng(c.seed + 2));
}

/** The case's random checkpoint, as the step builds it (seeded from the case). */
export function stepCheckpoint(c: StepCase): ReturnType<typeof randomCheckpoint> {
  return randomCheckpoint('LlamaForCausalLM', { ...c.dims, max_position_embeddings: Math.max(2048, c.seqLen) }, c.seed);
}
