import type { Text } from '../data/types';
import { gradeColorAnswer, parseColorPrompt, promptText, type ColorAnswerKind } from './colors';
import { allTonePrompts, gradeToneAnswer, type ToneKind } from './tone';

/**
 * The demo tasks' checkers behind one interface, for the lab: which task a set of prompts belongs to,
 * how an answer is marked, the preferred-answer rate, and the checker's choice of a pair among
 * sampled answers.
 */

export type DemoTask = 'colors' | 'tone';

export interface AnswerGrade {
  /** colours: preferred / other-case / wrong; tone: polite / curt / other. */
  kind: ColorAnswerKind | ToneKind;
  /** The kind a chosen answer of the task's pairs has. */
  preferred: boolean;
}

let tonePromptTexts: Set<string> | null = null;

function isTonePrompt(prompt: Text): boolean {
  tonePromptTexts ??= new Set(allTonePrompts().map((p) => p.text));
  try {
    return tonePromptTexts.has(promptText(prompt).trim());
  } catch {
    return false;
  }
}

function isColorPrompt(prompt: Text): boolean {
  try {
    return parseColorPrompt(prompt) !== null;
  } catch {
    return false;
  }
}

/** The demo task every one of these prompts belongs to; null when there are none or they are not all of one task. */
export function demoTaskOf(prompts: Text[]): DemoTask | null {
  if (prompts.length === 0) return null;
  if (prompts.every(isColorPrompt)) return 'colors';
  if (prompts.every(isTonePrompt)) return 'tone';
  return null;
}

export function gradeDemoAnswer(task: DemoTask, prompt: Text, answer: string): AnswerGrade {
  if (task === 'colors') {
    const kind = gradeColorAnswer(prompt, answer);
    return { kind, preferred: kind === 'preferred' };
  }
  if (!isTonePrompt(prompt)) throw new Error(`not a prompt of the demo tone task: ${JSON.stringify(promptText(prompt))}`);
  const kind = gradeToneAnswer(answer);
  return { kind, preferred: kind === 'polite' };
}

export interface PreferredRate {
  preferred: number;
  total: number;
  /** preferred / total; null when there is nothing to rate. */
  rate: number | null;
}

export function preferredRate(grades: AnswerGrade[]): PreferredRate {
  const preferred = grades.filter((g) => g.preferred).length;
  return { preferred, total: grades.length, rate: grades.length > 0 ? preferred / grades.length : null };
}

/** The rejected kind of the task's own pairs: a near miss, the contrast the task is about. */
const NEAR_MISS = new Set<AnswerGrade['kind']>(['other-case', 'curt']);

export type CheckerPick =
  { chosen: number; rejected: number } | { chosen: null; rejected: null; reason: 'no answer is preferred' | 'every answer is preferred' };

/**
 * The checker's pair among one prompt's answers (indices into them): the first preferred answer is
 * chosen; rejected is the first near miss (the task's rejected kind), else the first other
 * non-preferred answer. Without both a preferred and a non-preferred answer there is no pair.
 */
export function checkerPick(grades: AnswerGrade[]): CheckerPick {
  const chosen = grades.findIndex((g) => g.preferred);
  if (chosen < 0) return { chosen: null, rejected: null, reason: 'no answer is preferred' };
  const nearMiss = grades.findIndex((g) => NEAR_MISS.has(g.kind));
  const rejected = nearMiss >= 0 ? nearMiss : grades.findIndex((g) => !g.preferred);
  if (rejected < 0) return { chosen: null, rejected: null, reason: 'every answer is preferred' };
  return { chosen, rejected };
}
