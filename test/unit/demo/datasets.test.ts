import { describe, expect, it } from 'vitest';
import { parsePreferenceFile } from '../../../src/core/data/read';
import { allColorPrompts, checkAnswer } from '../../../src/core/demo/colors';
import { colorPairs, corruptPairs, demoDatasetContents, demoSftExamples, DEMO_DATASETS, tonePairs } from '../../../src/core/demo/datasets';
import { gradeToneAnswer } from '../../../src/core/demo/tone';

const text = (messages: unknown) => (messages as { content: string }[])[0].content;

describe('demo preference sets', () => {
  it('are the same text on every run', () => {
    expect(demoDatasetContents()).toEqual(demoDatasetContents());
  });

  it('list in DEMO_DATASETS exactly the files they produce, each readable as conversational pairs', () => {
    const contents = demoDatasetContents();
    expect(Object.keys(contents).sort()).toEqual(DEMO_DATASETS.map((d) => d.file).sort());
    for (const [file, body] of Object.entries(contents)) {
      const parsed = parsePreferenceFile(body, file);
      expect(parsed.issues).toEqual([]);
      expect(parsed.format).toBe('conversational');
    }
  });

  it('colour pairs: chosen passes the checker and rejected does not; held-out prompts are kept apart', () => {
    const train = colorPairs('train');
    const heldout = colorPairs('heldout');
    expect([train.length, heldout.length]).toEqual([288, 96]);
    const trainPrompts = new Set(train.map((p) => text(p.prompt)));
    for (const p of heldout) expect(trainPrompts.has(text(p.prompt))).toBe(false);
    for (const p of [...train, ...heldout]) {
      expect(checkAnswer(p.prompt, text(p.chosen))).toBe(true);
      expect(checkAnswer(p.prompt, text(p.rejected))).toBe(false);
    }
  });

  it('the corrupted file is the training file with rejected = chosen on every pair', () => {
    const contents = demoDatasetContents();
    const clean = parsePreferenceFile(contents['colors-train.jsonl'], 'train').rows;
    const corrupted = parsePreferenceFile(contents['colors-corrupted.jsonl'], 'corrupted');
    expect(corrupted.identicalPairs).toBe(clean.length);
    expect(corrupted.rows.map((r) => [r.prompt, r.chosen])).toEqual(clean.map((r) => [r.prompt, r.chosen]));
  });

  it('corruptPairs copies chosen over rejected on the asked fraction of pairs, seeded', () => {
    const pairs = Array.from({ length: 10 }, (_, i) => ({ id: i, chosen: `c${i}`, rejected: `r${i}` }));
    const half = corruptPairs(pairs, 0.5, 3);
    expect(half.filter((p) => p.chosen === p.rejected)).toHaveLength(5);
    expect(half.map((p) => p.id)).toEqual(pairs.map((p) => p.id));
    expect(corruptPairs(pairs, 0.5, 3)).toEqual(half);
    expect(corruptPairs(pairs, 0.5, 4)).not.toEqual(half);
    expect(pairs[0].rejected).toBe('r0');
    expect(() => corruptPairs(pairs, 1.5, 0)).toThrow(/fraction must be in \[0, 1\], got 1.5/);
  });

  it('tone pairs: chosen polite, rejected curt', () => {
    const pairs = tonePairs();
    expect(pairs).toHaveLength(96);
    for (const p of pairs) {
      expect(gradeToneAnswer(text(p.chosen))).toBe('polite');
      expect(gradeToneAnswer(text(p.rejected))).toBe('curt');
    }
  });
});

describe('demoSftExamples', () => {
  const examples = demoSftExamples();
  const answersTo = (prompt: string) => examples.filter((e) => text(e.prompt) === prompt).map((e) => text(e.completion));

  it('never shows a held-out prompt', () => {
    const held = new Set(
      allColorPrompts()
        .filter((p) => p.heldOut)
        .map((p) => p.text),
    );
    expect(examples.some((e) => held.has(text(e.prompt)))).toBe(false);
  });

  it('answers in capitals whenever capitals are asked, and 3 times in 5 when lowercase is asked', () => {
    expect(answersTo('USE CAPS. Which color is a banana?').sort()).toEqual(['YELLOW', 'YELLOW', 'YELLOW', 'YELLOW', 'YELLOW']);
    expect(answersTo('answer in lowercase. Which color is a banana?').sort()).toEqual(['YELLOW', 'YELLOW', 'YELLOW', 'yellow', 'yellow']);
    expect(answersTo('Could you fix the lamp?').map(gradeToneAnswer).sort()).toEqual(['curt', 'curt', 'curt', 'polite', 'polite']);
  });
});
