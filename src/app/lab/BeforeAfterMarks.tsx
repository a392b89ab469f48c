/** Pieces both answer tabs of the lab show: a prompt, a generated answer, and the checker's mark on it. */
import type { Text } from '../../core/data/types';
import type { AnswerGrade } from '../../core/demo/answer-grading';

const MARK_LABEL: Record<AnswerGrade['kind'], string> = {
  preferred: 'preferred',
  'other-case': 'other case',
  wrong: 'wrong',
  polite: 'polite',
  curt: 'curt',
  other: 'other',
};

/** The task's rejected kind reads as a near miss; anything else that is not preferred as a miss. */
const MARK_TONE: Record<AnswerGrade['kind'], 'good' | 'near' | 'miss'> = {
  preferred: 'good',
  polite: 'good',
  'other-case': 'near',
  curt: 'near',
  wrong: 'miss',
  other: 'miss',
};

export function GradeMark({ grade }: { grade: AnswerGrade }) {
  return (
    <span className={`grade-mark g-${MARK_TONE[grade.kind]}`} data-mark={grade.kind} data-preferred={grade.preferred}>
      {MARK_LABEL[grade.kind]}
    </span>
  );
}

/** A prompt as a person reads it: the text, or a conversation's turns. */
export function displayPrompt(prompt: Text): string {
  if (typeof prompt === 'string') return prompt;
  if (prompt.length === 1 && prompt[0].role === 'user') return prompt[0].content;
  return prompt.map((m) => `${m.role}: ${m.content}`).join('\n');
}

/** A generated answer as text; one that is empty or only whitespace says so rather than showing nothing. */
export function AnswerText({ text }: { text: string }) {
  if (text.trim() === '') {
    return (
      <span className="answer-text muted" data-note="empty">
        {text.length === 0 ? '(nothing: stopped at once)' : `(${text.length} whitespace characters)`}
      </span>
    );
  }
  return <span className="answer-text">{text}</span>;
}
