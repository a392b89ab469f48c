import type { Message } from '../data/types';
import { Rng } from '../random';
import type { SftExample } from '../sft/tokenize';
import { allColorPrompts, inCase, otherCase, type ColorPrompt } from './colors';
import { allTonePrompts } from './tone';

/** A preference pair in TRL's conversational format. */
export interface ConversationalPair {
  prompt: Message[];
  chosen: Message[];
  rejected: Message[];
}

const user = (content: string): Message[] => [{ role: 'user', content }];
const assistant = (content: string): Message[] => [{ role: 'assistant', content }];

/** Fixed seed of every demo file, so `npm run make-demo-model` rewrites them byte for byte. */
export const DEMO_DATA_SEED = 1234;

function shuffled<T>(items: T[], seed: number): T[] {
  return new Rng(seed).permutation(items.length).map((i) => items[i]);
}

function colorPair(p: ColorPrompt): ConversationalPair {
  return {
    prompt: user(p.text),
    chosen: assistant(inCase(p.color, p.requested)),
    rejected: assistant(inCase(p.color, otherCase(p.requested))),
  };
}

/** (a) The colour task's pairs: chosen in the requested case, rejected in the other; shuffled. */
export function colorPairs(split: 'train' | 'heldout'): ConversationalPair[] {
  const prompts = allColorPrompts().filter((p) => p.heldOut === (split === 'heldout'));
  return shuffled(prompts.map(colorPair), DEMO_DATA_SEED + (split === 'train' ? 0 : 1));
}

/** (b) The tone pairs: chosen polite, rejected curt; shuffled. */
export function tonePairs(): ConversationalPair[] {
  const pairs = allTonePrompts().map((p) => ({ prompt: user(p.text), chosen: assistant(p.polite), rejected: assistant(p.curt) }));
  return shuffled(pairs, DEMO_DATA_SEED + 2);
}

/**
 * The corruption exercise: a seeded choice of round(fraction · n) pairs get rejected = chosen (a copy);
 * the others and the order are unchanged. fraction 1 corrupts every pair.
 */
export function corruptPairs<T extends { chosen: unknown; rejected: unknown }>(pairs: T[], fraction: number, seed: number): T[] {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`corruption fraction must be in [0, 1], got ${fraction}`);
  const count = Math.round(fraction * pairs.length);
  const hit = new Set(new Rng(seed).permutation(pairs.length).slice(0, count));
  return pairs.map((pair, i) => (hit.has(i) ? { ...pair, rejected: structuredClone(pair.chosen) } : pair));
}

/**
 * How the SFT data answers each kind of prompt, out of SFT_ANSWERS_PER_PROMPT: always in capitals when
 * capitals are asked, but in lowercase only 2 times in 5 when lowercase is asked; polite 2 times in 5.
 * The SFT model so learns to read the instruction (its lowercase odds differ by it) while its greedy
 * answer is capitals either way: the preferred kind on about half of the colour prompts, and DPO has
 * an existing feature to amplify for the rest.
 */
export const SFT_ANSWERS_PER_PROMPT = 5;
export const SFT_MIX = { upperAskedAnsweredLower: 0, lowerAskedAnsweredLower: 2, polite: 2 } as const;

/** The SFT set of the demo model: training colour prompts and every tone prompt, answered in the mix above. */
export function demoSftExamples(): SftExample[] {
  const examples: SftExample[] = [];
  for (const p of allColorPrompts()) {
    if (p.heldOut) continue;
    const lower = p.requested === 'upper' ? SFT_MIX.upperAskedAnsweredLower : SFT_MIX.lowerAskedAnsweredLower;
    for (let k = 0; k < SFT_ANSWERS_PER_PROMPT; k++) {
      examples.push({ prompt: user(p.text), completion: assistant(inCase(p.color, k < lower ? 'lower' : 'upper')) });
    }
  }
  for (const p of allTonePrompts()) {
    for (let k = 0; k < SFT_ANSWERS_PER_PROMPT; k++) {
      examples.push({ prompt: user(p.text), completion: assistant(k < SFT_MIX.polite ? p.polite : p.curt) });
    }
  }
  return examples;
}

export function toJsonl(rows: object[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** The files under public/datasets/ (served at /datasets/), what each holds and which checker scores it. */
export const DEMO_DATASETS = [
  {
    file: 'colors-train.jsonl',
    title: 'Colours in the asked case (train)',
    description: 'Objective task: the answer must be the colour in the letter case the prompt asks for.',
    checker: 'colors',
  },
  {
    file: 'colors-heldout.jsonl',
    title: 'Colours in the asked case (held out)',
    description: 'Prompts never seen in SFT or in the training pairs: the eval set and the before/after prompts.',
    checker: 'colors',
  },
  {
    file: 'colors-corrupted.jsonl',
    title: 'Colours, corrupted (rejected = chosen)',
    description: 'The training pairs with every rejected answer replaced by the chosen one: the corruption exercise.',
    checker: 'colors',
  },
  {
    file: 'tone.jsonl',
    title: 'Polite vs curt',
    description: 'Style task: everyday requests answered politely (chosen) or curtly (rejected).',
    checker: 'tone',
  },
] as const;

export type DemoDatasetFile = (typeof DEMO_DATASETS)[number]['file'];

/** The text of every demo dataset file. */
export function demoDatasetContents(): Record<DemoDatasetFile, string> {
  const train = colorPairs('train');
  return {
    'colors-train.jsonl': toJsonl(train),
    'colors-heldout.jsonl': toJsonl(colorPairs('heldout')),
    'colors-corrupted.jsonl': toJsonl(corruptPairs(train, 1, DEMO_DATA_SEED)),
    'tone.jsonl': toJsonl(tonePairs()),
  };
}
