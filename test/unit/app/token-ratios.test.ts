import { describe, expect, it } from 'vitest';
import { direction, largestMovers, sideSum, sideTokens, tintStrength, visibleText } from '../../../src/app/token-ratios';
import type { TokenRatioView } from '../../../src/worker/protocol';

const view: TokenRatioView = {
  policy: 'run x at step 3',
  line: 4,
  beta: 0.1,
  chosen: {
    tokens: [
      { id: 72, text: 'Y' },
      { id: 69, text: 'ES' },
      { id: 10, text: '\n' },
    ],
    policy: [-1, -2, -0.5],
    reference: [-1.5, -2, -0.25],
  },
  rejected: { tokens: [{ id: 110, text: 'no' }], policy: [-4], reference: [-3] },
};

describe('the token view', () => {
  it('gives each token its log-ratio, policy − reference, and each side its sum (reward ÷ β)', () => {
    const chosen = sideTokens(view, 'chosen');
    expect(chosen.map((t) => t.ratio)).toEqual([0.5, 0, -0.25]);
    expect(sideSum(chosen)).toBeCloseTo(0.25, 12);
    expect(sideSum(sideTokens(view, 'rejected'))).toBe(-1);
  });

  it('lists the largest movers of both sides by |log-ratio|, leaving out tokens that did not move', () => {
    expect(largestMovers(view, 5).map((t) => [t.side, t.text, t.ratio])).toEqual([
      ['rejected', 'no', -1],
      ['chosen', 'Y', 0.5],
      ['chosen', '\n', -0.25],
    ]);
    expect(largestMovers(view, 1)).toHaveLength(1);
  });

  it('colours by sign, tinted by size against the largest', () => {
    expect([direction(0.5), direction(-0.25), direction(0), direction(1e-7)]).toEqual(['up', 'down', 'none', 'none']);
    expect(tintStrength(1, 1)).toBeCloseTo(0.6);
    expect(tintStrength(-0.5, 1)).toBeCloseTo(0.36);
    expect(tintStrength(0, 1)).toBe(0);
    expect(visibleText('\n')).toBe('↵');
    expect(visibleText('')).toBe('∅');
  });
});
