/**
 * The demo's style task: everyday requests, answered politely (preferred) or curtly. No checker beyond
 * membership: each request has one polite and one curt reply, picked by its verb.
 */

export const TONE_VERBS: readonly string[] = ['open', 'close', 'clean', 'carry', 'fix', 'move', 'check', 'paint'];
export const TONE_OBJECTS: readonly string[] = ['door', 'window', 'box', 'table', 'lamp', 'chair'];
export const TONE_FRAMES: readonly string[] = ['Please {v} the {o}.', 'Could you {v} the {o}?'];

export const POLITE_REPLIES: readonly string[] = ['Of course, happy to help!', 'Sure, right away!', 'Gladly, on it now.', 'With pleasure!'];
export const CURT_REPLIES: readonly string[] = ['No.', 'Do it yourself.', 'Not now.', 'Fine. Whatever.'];

export interface TonePrompt {
  text: string;
  polite: string;
  curt: string;
}

/** Every request, in a fixed order: 8 verbs × 6 objects × 2 frames = 96. */
export function allTonePrompts(): TonePrompt[] {
  const prompts: TonePrompt[] = [];
  TONE_VERBS.forEach((verb, v) => {
    for (const object of TONE_OBJECTS) {
      for (const frame of TONE_FRAMES) {
        prompts.push({
          text: frame.replace('{v}', verb).replace('{o}', object),
          polite: POLITE_REPLIES[v % POLITE_REPLIES.length],
          curt: CURT_REPLIES[v % CURT_REPLIES.length],
        });
      }
    }
  });
  return prompts;
}

export type ToneKind = 'polite' | 'curt' | 'other';

/** Which kind of reply an answer is (surrounding whitespace ignored). */
export function gradeToneAnswer(answer: string): ToneKind {
  const reply = answer.trim();
  if (POLITE_REPLIES.includes(reply)) return 'polite';
  if (CURT_REPLIES.includes(reply)) return 'curt';
  return 'other';
}
