import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPreferenceBytes } from '../../../src/core/data/formats';
import { parsePreferenceFile } from '../../../src/core/data/read';

const fixture = (name: string) => new Uint8Array(readFileSync(`test/fixtures/data/formats/${name}`));
const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');

describe('the rating-margin filter', () => {
  it('keeps argilla rows whose chosen_rating beats rejected_rating by the margin, and lists the others with their ratings', async () => {
    const all = await readPreferenceBytes(fixture('argilla-dpo-mix.parquet'), 'mix.parquet');
    expect(all.rows).toHaveLength(2);
    const kept = await readPreferenceBytes(fixture('argilla-dpo-mix.parquet'), 'mix.parquet', { minRatingMargin: 3.25 });
    // Ratings 5 − 2 = 3 and 4.5 − 1 = 3.5.
    expect(kept.rows.map((r) => r.line)).toEqual([2]);
    expect(kept.issues).toEqual([
      {
        file: 'mix.parquet',
        line: 1,
        field: 'chosen_rating',
        reason: 'rating margin 3 (chosen_rating 5 − rejected_rating 2) is below the minimum 3.25',
      },
    ]);
    expect(kept.rows.length + kept.issues.length).toBe(all.rows.length);
    expect(kept.columns).toContain('chosen_rating');
  });

  it('reads UltraFeedback-binarized scores, and a margin met exactly keeps the row', async () => {
    // Scores 9 − 2 = 7 and 10 − 3.5 = 6.5.
    const d = await readPreferenceBytes(fixture('ultrafeedback-binarized.parquet'), 'uf.parquet', { minRatingMargin: 7 });
    expect(d.rows.map((r) => r.line)).toEqual([1]);
    expect(d.issues.map((i) => i.reason)).toEqual(['rating margin 6.5 (score_chosen 10 − score_rejected 3.5) is below the minimum 7']);
  });

  it('with the filter on, a row without numeric ratings is skipped and says why; without it, ratings are ignored', () => {
    const rows = jsonl(
      { prompt: 'p', chosen: 'a', rejected: 'b' },
      { prompt: 'p', chosen: 'a', rejected: 'b', chosen_rating: null, rejected_rating: 2 },
      { prompt: 'p', chosen: 'a', rejected: 'b', chosen_rating: '4', rejected_rating: '1.5' },
      { prompt: 'p', chosen: 'a', rejected: 'b', score_chosen: 1, score_rejected: 2 },
    );
    expect(parsePreferenceFile(rows, 'r.jsonl').rows).toHaveLength(4);
    const d = parsePreferenceFile(rows, 'r.jsonl', { minRatingMargin: 0 });
    expect(d.rows.map((r) => r.line)).toEqual([3]);
    expect(d.issues.map((i) => [i.line, i.reason.slice(0, 40)])).toEqual([
      [1, 'no numeric rating columns to filter by m'],
      [2, 'no numeric rating columns to filter by m'],
      [4, 'rating margin -1 (score_chosen 1 − score'],
    ]);
  });
});
