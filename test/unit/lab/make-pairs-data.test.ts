import { describe, expect, it } from 'vitest';
import { pairsFromPicks } from '../../../src/app/lab/MakePairsData';

describe('pairsFromPicks', () => {
  it('makes one conversational pair per prompt with both picks and says why the others gave none', () => {
    const conversation = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Color of coal?' },
    ];
    const made = pairsFromPicks([
      { prompt: 'use lowercase. Color of ink?', answers: ['BLACK', 'black', 'blak'], best: 1, worst: 2 },
      { prompt: conversation, answers: ['black', 'BLACK'], best: 1, worst: 0 },
      { prompt: 'p3', answers: ['a', 'b'], best: 0, worst: null },
      { prompt: 'p4', answers: ['a', 'b'], best: 1, worst: 1 },
      { prompt: 'p5', answers: ['same', 'same'], best: 0, worst: 1 },
    ]);
    expect(made.pairs).toEqual([
      {
        prompt: [{ role: 'user', content: 'use lowercase. Color of ink?' }],
        chosen: [{ role: 'assistant', content: 'black' }],
        rejected: [{ role: 'assistant', content: 'blak' }],
      },
      { prompt: conversation, chosen: [{ role: 'assistant', content: 'BLACK' }], rejected: [{ role: 'assistant', content: 'black' }] },
    ]);
    expect(made.skipped).toEqual([
      { index: 2, reason: 'not picked' },
      { index: 3, reason: 'best and worst are the same answer' },
      { index: 4, reason: 'best and worst read the same' },
    ]);
  });
});
