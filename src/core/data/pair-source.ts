import { splitTrainEval } from './split';
import type { TokenizedPair } from './types';

/**
 * Tokenized pairs by position, wherever they are held: in memory, or tokenized from rows read again
 * from a file too large to hold (a training batch asks for its pairs when it runs).
 */
export interface PairSource {
  readonly length: number;
  /** The pairs at these positions (0-based), in the order asked. */
  get(positions: readonly number[]): Promise<TokenizedPair[]>;
}

function checked(length: number, positions: readonly number[]): void {
  for (const p of positions)
    if (!(Number.isInteger(p) && p >= 0 && p < length)) throw new Error(`there is no pair ${p + 1}: the set has ${length}`);
}

/** Pairs held in memory, as a source. */
export function pairsInMemory(pairs: TokenizedPair[]): PairSource {
  return {
    length: pairs.length,
    get: async (positions) => {
      checked(pairs.length, positions);
      return positions.map((p) => pairs[p]);
    },
  };
}

/** The pairs of `source` at `positions`, as a source of their own. */
export function pairSubset(source: PairSource, positions: readonly number[]): PairSource {
  return {
    length: positions.length,
    get: (at) => {
      checked(positions.length, at);
      return source.get(at.map((i) => positions[i]));
    },
  };
}

/** Every pair of a source, in order (for the sets kept whole: an eval split, a scored subset). */
export function allPairs(source: PairSource): Promise<TokenizedPair[]> {
  return source.get(Array.from({ length: source.length }, (_, i) => i));
}

/** splitTrainEval over a source: the same pairs held out, in the same order, read when asked. */
export function splitPairSource(source: PairSource, evalSplit: number, seed: number): { train: PairSource; eval: PairSource } {
  const { train, eval: held } = splitTrainEval(
    Array.from({ length: source.length }, (_, i) => i),
    evalSplit,
    seed,
  );
  return { train: pairSubset(source, train), eval: pairSubset(source, held) };
}
