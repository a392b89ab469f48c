import type { Message } from '../data/types';

/**
 * The demo's objective task: "use lowercase. What color is a banana?" The answer is the colour word,
 * and the preferred answer writes it in the case the prompt asks for. The checker needs no model:
 * the item names its colour and the instruction names the case.
 */

export type LetterCase = 'upper' | 'lower';

/** Items and their colours; no item name contains a colour word. */
export const COLOR_ITEMS: readonly { item: string; color: string }[] = [
  { item: 'a tomato', color: 'red' },
  { item: 'a cherry', color: 'red' },
  { item: 'a ruby', color: 'red' },
  { item: 'grass', color: 'green' },
  { item: 'a lime', color: 'green' },
  { item: 'a frog', color: 'green' },
  { item: 'the sky', color: 'blue' },
  { item: 'the sea', color: 'blue' },
  { item: 'a sapphire', color: 'blue' },
  { item: 'a banana', color: 'yellow' },
  { item: 'a lemon', color: 'yellow' },
  { item: 'the sun', color: 'yellow' },
  { item: 'snow', color: 'white' },
  { item: 'milk', color: 'white' },
  { item: 'a cloud', color: 'white' },
  { item: 'coal', color: 'black' },
  { item: 'a crow', color: 'black' },
  { item: 'ink', color: 'black' },
  { item: 'a carrot', color: 'orange' },
  { item: 'a pumpkin', color: 'orange' },
  { item: 'a tangerine', color: 'orange' },
  { item: 'a flamingo', color: 'pink' },
  { item: 'a piglet', color: 'pink' },
  { item: 'candyfloss', color: 'pink' },
];

/**
 * Question frames; `{x}` is the item. Each ends with the item and one mark, and the case instruction
 * comes first, so the item always sits at the same distance before the answer: a tiny model then
 * finds it by position, and learns the colours in minutes.
 */
export const COLOR_QUESTIONS: readonly string[] = ['What color is {x}?', 'Name the color of {x}.', 'Which color is {x}?', 'Color of {x}?'];

/**
 * The instruction that opens the prompt, two phrasings per case, each written in the case it asks for:
 * a cue a tiny byte-level model can read, so DPO has an instruction to teach it to obey.
 */
export const CASE_INSTRUCTIONS: Readonly<Record<LetterCase, readonly string[]>> = {
  upper: ['ANSWER IN CAPITALS.', 'USE CAPS.'],
  lower: ['answer in lowercase.', 'use lowercase.'],
};

/** One prompt of the task and what it asks for. */
export interface ColorPrompt {
  /** The user message. */
  text: string;
  item: string;
  color: string;
  requested: LetterCase;
  /** Indices into COLOR_ITEMS, COLOR_QUESTIONS and CASE_INSTRUCTIONS[requested]. */
  itemIndex: number;
  questionIndex: number;
  instructionIndex: number;
  /** Held-out prompts never appear in SFT data or the training pairs. */
  heldOut: boolean;
}

export function inCase(word: string, letterCase: LetterCase): string {
  return letterCase === 'upper' ? word.toUpperCase() : word.toLowerCase();
}

export function otherCase(letterCase: LetterCase): LetterCase {
  return letterCase === 'upper' ? 'lower' : 'upper';
}

/**
 * A prompt is held out when its question is the item's held-out question (item index mod 4): every
 * item and every question are still seen in training, only their pairing is new.
 */
function isHeldOut(itemIndex: number, questionIndex: number): boolean {
  return questionIndex === itemIndex % COLOR_QUESTIONS.length;
}

/** Every prompt of the task, in a fixed order: 24 items × 4 questions × 4 instructions = 384. */
export function allColorPrompts(): ColorPrompt[] {
  const prompts: ColorPrompt[] = [];
  COLOR_ITEMS.forEach(({ item, color }, itemIndex) => {
    COLOR_QUESTIONS.forEach((question, questionIndex) => {
      for (const requested of ['upper', 'lower'] as const) {
        CASE_INSTRUCTIONS[requested].forEach((instruction, instructionIndex) => {
          prompts.push({
            text: `${instruction} ${question.replace('{x}', item)}`,
            item,
            color,
            requested,
            itemIndex,
            questionIndex,
            instructionIndex,
            heldOut: isHeldOut(itemIndex, questionIndex),
          });
        });
      }
    });
  });
  return prompts;
}

/** The user message of a prompt given as text or as a conversation (its last user turn). */
export function promptText(prompt: string | Message[]): string {
  if (typeof prompt === 'string') return prompt;
  const user = [...prompt].reverse().find((m) => m.role === 'user');
  if (!user) throw new Error('the prompt conversation has no user message');
  return user.content;
}

let promptsByText: Map<string, ColorPrompt> | null = null;

/** The task prompt with this text (surrounding whitespace ignored), or null when it is not one. */
export function parseColorPrompt(prompt: string | Message[]): ColorPrompt | null {
  promptsByText ??= new Map(allColorPrompts().map((p) => [p.text, p]));
  return promptsByText.get(promptText(prompt).trim()) ?? null;
}

/**
 * - preferred: the right colour in the requested case (the chosen kind);
 * - other-case: the right colour in the other case (the rejected kind);
 * - wrong: anything else (another colour, mixed case, extra words).
 */
export type ColorAnswerKind = 'preferred' | 'other-case' | 'wrong';

/** Grades an answer; surrounding whitespace and one final "." or "!" are ignored. */
export function gradeColorAnswer(prompt: string | Message[], answer: string): ColorAnswerKind {
  const parsed = parseColorPrompt(prompt);
  if (!parsed) throw new Error(`not a prompt of the demo colour task: ${JSON.stringify(promptText(prompt))}`);
  const word = answer.trim().replace(/[.!]$/, '');
  if (word === inCase(parsed.color, parsed.requested)) return 'preferred';
  if (word === inCase(parsed.color, otherCase(parsed.requested))) return 'other-case';
  return 'wrong';
}

/** The demo task's checker: true when the answer is the preferred kind. Throws on a prompt not from the task. */
export function checkAnswer(prompt: string | Message[], answer: string): boolean {
  return gradeColorAnswer(prompt, answer) === 'preferred';
}
