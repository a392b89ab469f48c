import type { TokenRatioSideView, TokenRatioView } from '../worker/protocol';

/** One completion token and how far the policy moved it: log π(token) − log π_ref(token). */
export interface MovedToken {
  side: 'chosen' | 'rejected';
  /** Position within its completion. */
  position: number;
  text: string;
  ratio: number;
  policy: number;
  reference: number;
}

/** Below this a token did not move (float32 noise on log-probs of a few nats). */
export const UNMOVED = 1e-5;

export function sideTokens(view: TokenRatioView, side: 'chosen' | 'rejected'): MovedToken[] {
  const s: TokenRatioSideView = view[side];
  return s.tokens.map((t, position) => ({
    side,
    position,
    text: t.text,
    ratio: s.policy[position] - s.reference[position],
    policy: s.policy[position],
    reference: s.reference[position],
  }));
}

/** A side's summed log-ratio: its reward ÷ β. */
export function sideSum(tokens: MovedToken[]): number {
  return tokens.reduce((a, t) => a + t.ratio, 0);
}

/** The `count` tokens of both completions the policy moved most, largest |log-ratio| first. */
export function largestMovers(view: TokenRatioView, count: number): MovedToken[] {
  return [...sideTokens(view, 'chosen'), ...sideTokens(view, 'rejected')]
    .filter((t) => Math.abs(t.ratio) >= UNMOVED)
    .sort((a, b) => Math.abs(b.ratio) - Math.abs(a.ratio))
    .slice(0, count);
}

/** Which way a token moved: up (more likely under the policy), down, or not at all. */
export function direction(ratio: number): 'up' | 'down' | 'none' {
  return ratio >= UNMOVED ? 'up' : ratio <= -UNMOVED ? 'down' : 'none';
}

/** How strongly to tint a token: its |log-ratio| against the largest in the view, from 0.12 to 0.6. */
export function tintStrength(ratio: number, largest: number): number {
  if (direction(ratio) === 'none' || largest <= 0) return 0;
  return 0.12 + 0.48 * Math.min(1, Math.abs(ratio) / largest);
}

/** A token's text as the view shows it: whitespace made visible. */
export function visibleText(text: string): string {
  return text.replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}
