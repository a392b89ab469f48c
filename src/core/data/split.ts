import { Rng } from '../random';

/** How many of `total` items an eval split holds out: `evalSplit` < 1 is a fraction, ≥ 1 a count. */
export function evalCount(total: number, evalSplit: number): number {
  if (evalSplit <= 0) return 0;
  return evalSplit < 1 ? Math.round(evalSplit * total) : Math.floor(evalSplit);
}

/**
 * Holds out an eval split, reproducibly: `evalSplit` < 1 is a fraction, ≥ 1 a count of items.
 * Both parts keep the items' original order.
 */
export function splitTrainEval<T>(items: T[], evalSplit: number, seed: number): { train: T[]; eval: T[] } {
  if (evalSplit <= 0) return { train: items, eval: [] };
  const count = evalCount(items.length, evalSplit);
  if (count >= items.length) {
    throw new Error(`eval_split ${evalSplit} would hold out ${count} of ${items.length} pairs and leave none to train on`);
  }
  const held = new Set(new Rng(seed ^ 0xe7a1).permutation(items.length).slice(0, count));
  return {
    train: items.filter((_, i) => !held.has(i)),
    eval: items.filter((_, i) => held.has(i)),
  };
}
