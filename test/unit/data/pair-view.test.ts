import { describe, expect, it } from 'vitest';
import { collatePreference } from '../../../src/core/data/collate';
import { keptRanges, pairView } from '../../../src/core/data/pair-view';
import type { TruncationMode, TokenizedPair } from '../../../src/core/data/types';

/** A pair whose every token id says where it came from: prompt 1000+i, chosen 2000+i, rejected 3000+i. */
function pair(P: number, C: number, R: number): TokenizedPair {
  const ids = (base: number, n: number) => Array.from({ length: n }, (_, i) => base + i);
  return {
    index: 0,
    line: 7,
    prompt_ids: ids(1000, P),
    chosen_ids: ids(2000, C),
    rejected_ids: ids(3000, R),
    prefix_mismatch: { chosen: false, rejected: true },
  };
}

describe('keptRanges', () => {
  it('keeps exactly the tokens the collator keeps, for every length, limit and mode', () => {
    const modes: TruncationMode[] = ['keep_start', 'keep_end'];
    let checked = 0;
    for (const mode of modes) {
      for (const maxLength of [null, 1, 3, 5, 8, 13]) {
        for (const maxPrompt of [null, 0, 2, 6]) {
          for (const P of [0, 1, 4, 9]) {
            for (const C of [1, 3, 7]) {
              const p = pair(P, C, 1);
              const opts = { max_length: maxLength, max_prompt_length: maxPrompt, truncation_mode: mode };
              const batch = collatePreference([p], { ...opts, pad_token_id: 0 });
              const row = Array.from(batch.input_ids.subarray(0, batch.T)).slice(
                0,
                batch.attention_mask.subarray(0, batch.T).reduce((a, b) => a + b, 0),
              );
              const kept = keptRanges(P, C, opts);
              const fromRanges = [
                ...p.prompt_ids.slice(kept.prompt.start, kept.prompt.end),
                ...p.chosen_ids.slice(kept.completion.start, kept.completion.end),
              ];
              expect(fromRanges, JSON.stringify({ ...opts, P, C })).toEqual(row);
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBe(2 * 6 * 4 * 4 * 3);
  });
});

describe('pairView', () => {
  it('gives each token its text, each side its kept ranges and prefix flag, and says when TRL drops the pair', () => {
    const texts = (ids: number[]) => ids.map((id) => `<${id}>`).join('');
    const view = pairView(pair(3, 4, 2), { decode: texts }, { max_length: 5, max_prompt_length: null, truncation_mode: 'keep_start' });
    expect(view.line).toBe(7);
    expect(view.prompt.map((t) => t.text)).toEqual(['<1000>', '<1001>', '<1002>']);
    expect(view.chosen.kept).toEqual({ prompt: { start: 0, end: 3 }, completion: { start: 0, end: 2 } });
    expect(view.rejected.kept).toEqual({ prompt: { start: 0, end: 3 }, completion: { start: 0, end: 2 } });
    expect([view.chosen.prefixMismatch, view.rejected.prefixMismatch]).toEqual([false, true]);
    expect(view.dropped).toBe(false);
    expect(
      pairView(pair(5, 1, 1), { decode: texts }, { max_length: 5, max_prompt_length: null, truncation_mode: 'keep_start' }).dropped,
    ).toBe(true);
    expect(
      pairView(pair(5, 1, 1), { decode: texts }, { max_length: 5, max_prompt_length: null, truncation_mode: 'keep_end' }).dropped,
    ).toBe(false);
  });
});
