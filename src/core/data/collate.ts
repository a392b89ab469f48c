import { Rng } from '../random';
import type { PreferenceBatch, TokenizedPair, TruncationMode } from './types';

export interface CollateOptions {
  max_length: number | null;
  /** Legacy TRL (≤ 0.28): the prompt keeps only its last max_prompt_length tokens. Null: off (TRL HEAD). */
  max_prompt_length: number | null;
  truncation_mode: TruncationMode;
  pad_token_id: number;
}

function checkLimit(name: string, value: number | null, min: number): void {
  if (value !== null && !(Number.isInteger(value) && value >= min)) {
    throw new Error(`${name} must be an integer ≥ ${min} or null, got ${value}`);
  }
}

/** The last `k` items (k may be 0, unlike slice(-k)). */
function lastItems(ids: number[], k: number): number[] {
  return ids.slice(Math.max(0, ids.length - k));
}

/**
 * TRL's DataCollatorForPreference: rows [prompt+chosen × B ; prompt+rejected × B], each truncated on its
 * own to max_length (keep_start cuts the end, keep_end cuts the start; the completion mask is cut the
 * same way), then right-padded to the longest row with pad_token_id, attention and completion mask 0.
 * `truncated` counts the rows that either limit shortened.
 */
export function collatePreference(pairs: TokenizedPair[], opts: CollateOptions): PreferenceBatch {
  if (pairs.length === 0) throw new Error('cannot collate an empty batch');
  checkLimit('max_length', opts.max_length, 1);
  checkLimit('max_prompt_length', opts.max_prompt_length, 0);
  if (opts.truncation_mode !== 'keep_start' && opts.truncation_mode !== 'keep_end') {
    throw new Error(`truncation_mode must be 'keep_start' or 'keep_end', got '${opts.truncation_mode}'`);
  }

  const B = pairs.length;
  const sequences: { ids: number[]; mask: number[] }[] = [];
  let truncated = 0;
  for (const side of ['chosen_ids', 'rejected_ids'] as const) {
    for (const pair of pairs) {
      const prompt = opts.max_prompt_length === null ? pair.prompt_ids : lastItems(pair.prompt_ids, opts.max_prompt_length);
      const completion = pair[side];
      let ids = [...prompt, ...completion];
      let mask = [...new Array<number>(prompt.length).fill(0), ...new Array<number>(completion.length).fill(1)];
      const L = opts.max_length;
      if (L !== null && ids.length > L) {
        if (opts.truncation_mode === 'keep_start') {
          ids = ids.slice(0, L);
          mask = mask.slice(0, L);
        } else {
          ids = lastItems(ids, L);
          mask = lastItems(mask, L);
        }
      }
      if (ids.length < pair.prompt_ids.length + completion.length) truncated++;
      sequences.push({ ids, mask });
    }
  }

  const T = Math.max(...sequences.map((s) => s.ids.length));
  const input_ids = new Int32Array(2 * B * T).fill(opts.pad_token_id);
  const attention_mask = new Uint8Array(2 * B * T);
  const completion_mask = new Uint8Array(2 * B * T);
  const completion_lengths: number[] = [];
  sequences.forEach(({ ids, mask }, row) => {
    input_ids.set(ids, row * T);
    attention_mask.fill(1, row * T, row * T + ids.length);
    completion_mask.set(mask, row * T);
    completion_lengths.push(mask.reduce((a, b) => a + b, 0));
  });
  return { B, T, input_ids, attention_mask, completion_mask, indices: pairs.map((p) => p.index), completion_lengths, truncated };
}

/** Mixes seed and epoch into one well-spread 32-bit state, so neighbouring seeds/epochs give unrelated orders. */
function epochSeed(seed: number, epoch: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((epoch >>> 0) + 0x7f4a7c15, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Batches of row indices for one epoch, like a DataLoader with drop_last=False: the last batch may be
 * short. With shuffle the order is a seeded permutation that changes with the epoch and is the same in
 * every runtime for the same (seed, epoch).
 */
export function batchIndices(n: number, batchSize: number, seed: number, epoch: number, shuffle: boolean): number[][] {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`row count must be a non-negative integer, got ${n}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const order = shuffle ? new Rng(epochSeed(seed, epoch)).permutation(n) : Array.from({ length: n }, (_, i) => i);
  const batches: number[][] = [];
  for (let i = 0; i < n; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}
