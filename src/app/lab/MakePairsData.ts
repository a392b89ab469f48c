/** From sampled answers and the best/worst picks to preference pairs. */
import type { Message, Text } from '../../core/data/types';
import type { ConversationalPair } from '../../core/demo/datasets';

export interface PromptPicks {
  prompt: Text;
  answers: string[];
  /** Indices into answers; null until picked. */
  best: number | null;
  worst: number | null;
}

export type SkipReason = 'not picked' | 'best and worst are the same answer' | 'best and worst read the same';

export interface MadePairs {
  pairs: ConversationalPair[];
  /** Prompts that gave no pair, by index, and why. */
  skipped: { index: number; reason: SkipReason }[];
}

const asUser = (prompt: Text): Message[] => (typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt);
const asAssistant = (content: string): Message[] => [{ role: 'assistant', content }];

/**
 * One conversational pair per prompt with both picks. A pair whose chosen and rejected read the same
 * is left out: it is a tie, which DPO can only score as ln 2 and learns nothing from.
 */
export function pairsFromPicks(items: PromptPicks[]): MadePairs {
  const pairs: ConversationalPair[] = [];
  const skipped: MadePairs['skipped'] = [];
  items.forEach((item, index) => {
    if (item.best === null || item.worst === null) skipped.push({ index, reason: 'not picked' });
    else if (item.best === item.worst) skipped.push({ index, reason: 'best and worst are the same answer' });
    else if (item.answers[item.best] === item.answers[item.worst]) skipped.push({ index, reason: 'best and worst read the same' });
    else
      pairs.push({
        prompt: asUser(item.prompt),
        chosen: asAssistant(item.answers[item.best]),
        rejected: asAssistant(item.answers[item.worst]),
      });
  });
  return { pairs, skipped };
}
