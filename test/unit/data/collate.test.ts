import { describe, expect, it } from 'vitest';
import { batchIndices, collatePreference, type CollateOptions } from '../../../src/core/data/collate';
import type { PreferenceBatch, TokenizedPair } from '../../../src/core/data/types';

const pair = (index: number, prompt_ids: number[], chosen_ids: number[], rejected_ids: number[]): TokenizedPair => ({
  index,
  line: index + 1,
  prompt_ids,
  chosen_ids,
  rejected_ids,
  prefix_mismatch: { chosen: false, rejected: false },
});

// The example in the docstring of TRL's DataCollatorForPreference.
const PAIRS = [pair(0, [1, 2, 3], [4, 5], [6]), pair(1, [7, 8], [9], [10, 11])];
const options = (o: Partial<CollateOptions>): CollateOptions => ({
  max_length: null,
  max_prompt_length: null,
  truncation_mode: 'keep_start',
  pad_token_id: 0,
  ...o,
});

/** The batch as nested rows, to compare with hand-written matrices. */
function rows(b: PreferenceBatch) {
  const split = (a: ArrayLike<number>) => Array.from({ length: 2 * b.B }, (_, r) => Array.from(a).slice(r * b.T, (r + 1) * b.T));
  return { input_ids: split(b.input_ids), attention_mask: split(b.attention_mask), completion_mask: split(b.completion_mask) };
}

describe('collatePreference', () => {
  it("reproduces TRL's docstring example: chosen rows then rejected rows, right-padded", () => {
    const b = collatePreference(PAIRS, options({}));
    expect([b.B, b.T]).toEqual([2, 5]);
    expect(rows(b)).toEqual({
      input_ids: [
        [1, 2, 3, 4, 5],
        [7, 8, 9, 0, 0],
        [1, 2, 3, 6, 0],
        [7, 8, 10, 11, 0],
      ],
      attention_mask: [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0],
        [1, 1, 1, 1, 0],
      ],
      completion_mask: [
        [0, 0, 0, 1, 1],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 1, 1, 0],
      ],
    });
    expect(b.completion_lengths).toEqual([2, 1, 1, 2]);
    expect(b.truncated).toBe(0);
    expect(b.indices).toEqual([0, 1]);
    expect(b.input_ids).toBeInstanceOf(Int32Array);
  });

  it('keep_start cuts each sequence at max_length from the end, pads with pad_token_id', () => {
    const b = collatePreference(PAIRS, options({ max_length: 4, pad_token_id: 99 }));
    expect(rows(b)).toEqual({
      input_ids: [
        [1, 2, 3, 4],
        [7, 8, 9, 99],
        [1, 2, 3, 6],
        [7, 8, 10, 11],
      ],
      attention_mask: [
        [1, 1, 1, 1],
        [1, 1, 1, 0],
        [1, 1, 1, 1],
        [1, 1, 1, 1],
      ],
      completion_mask: [
        [0, 0, 0, 1],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
        [0, 0, 1, 1],
      ],
    });
    expect(b.completion_lengths).toEqual([1, 1, 1, 2]);
    expect(b.truncated).toBe(1);
  });

  it('keep_end keeps the last max_length tokens of each sequence, masks cut the same way', () => {
    const b = collatePreference(PAIRS, options({ max_length: 3, truncation_mode: 'keep_end', pad_token_id: 99 }));
    expect(rows(b)).toEqual({
      input_ids: [
        [3, 4, 5],
        [7, 8, 9],
        [2, 3, 6],
        [8, 10, 11],
      ],
      attention_mask: [
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
      ],
      completion_mask: [
        [0, 1, 1],
        [0, 0, 1],
        [0, 0, 1],
        [0, 1, 1],
      ],
    });
    expect(b.completion_lengths).toEqual([2, 1, 1, 2]);
    expect(b.truncated).toBe(3);
  });

  it('max_prompt_length keeps the last prompt tokens before max_length applies', () => {
    const b = collatePreference(PAIRS, options({ max_prompt_length: 1, pad_token_id: 99 }));
    expect(rows(b).input_ids).toEqual([
      [3, 4, 5],
      [8, 9, 99],
      [3, 6, 99],
      [8, 10, 11],
    ]);
    expect(rows(b).completion_mask).toEqual([
      [0, 1, 1],
      [0, 1, 0],
      [0, 1, 0],
      [0, 1, 1],
    ]);
    expect(b.truncated).toBe(4);

    const both = collatePreference(PAIRS, options({ max_prompt_length: 2, max_length: 3, pad_token_id: 99 }));
    expect(rows(both).input_ids).toEqual([
      [2, 3, 4],
      [7, 8, 9],
      [2, 3, 6],
      [7, 8, 10],
    ]);
    expect(both.completion_lengths).toEqual([1, 1, 1, 1]);
    expect(both.truncated).toBe(3);

    const none = collatePreference(PAIRS, options({ max_prompt_length: 0, pad_token_id: 99 }));
    expect(rows(none).input_ids).toEqual([
      [4, 5],
      [9, 99],
      [6, 99],
      [10, 11],
    ]);
  });

  it('refuses an empty batch and bad limits', () => {
    expect(() => collatePreference([], options({}))).toThrow(/empty batch/);
    expect(() => collatePreference(PAIRS, options({ max_length: 0 }))).toThrow(/max_length/);
    expect(() => collatePreference(PAIRS, options({ max_prompt_length: -1 }))).toThrow(/max_prompt_length/);
    expect(() => collatePreference(PAIRS, options({ truncation_mode: 'keep_middle' as never }))).toThrow(/truncation_mode/);
  });
});

describe('batchIndices', () => {
  const flat = (b: number[][]) => b.flat();
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('without shuffle: in order, last partial batch kept', () => {
    expect(batchIndices(7, 3, 42, 0, false)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(batchIndices(0, 3, 42, 0, false)).toEqual([]);
  });

  it('with shuffle: every index exactly once, batch sizes as a DataLoader with drop_last=False', () => {
    const b = batchIndices(10, 4, 42, 0, true);
    expect(b.map((x) => x.length)).toEqual([4, 4, 2]);
    expect(sorted(flat(b))).toEqual(range(10));
  });

  it('same seed and epoch give the same order; another epoch or seed gives another', () => {
    const a = flat(batchIndices(50, 8, 42, 0, true));
    expect(flat(batchIndices(50, 8, 42, 0, true))).toEqual(a);
    expect(a).not.toEqual(range(50));
    const orders = [flat(batchIndices(50, 8, 42, 1, true)), flat(batchIndices(50, 8, 42, 2, true)), flat(batchIndices(50, 8, 43, 0, true))];
    for (const o of orders) {
      expect(sorted(o)).toEqual(range(50));
      expect(o).not.toEqual(a);
    }
    // Seed and epoch are mixed, not added: (42, 1) and (43, 0) differ.
    expect(orders[0]).not.toEqual(orders[2]);
  });

  it('refuses a bad batch size', () => {
    expect(() => batchIndices(4, 0, 1, 0, true)).toThrow(/batch size/);
  });
});
