import { describe, expect, it } from 'vitest';
import { checkerPick, demoTaskOf, gradeDemoAnswer, preferredRate, type AnswerGrade } from '../../../src/core/demo/answer-grading';
import { allColorPrompts } from '../../../src/core/demo/colors';
import { allTonePrompts, CURT_REPLIES, POLITE_REPLIES } from '../../../src/core/demo/tone';

const upper = allColorPrompts().find((p) => p.requested === 'upper' && p.color === 'yellow')!;
const lower = allColorPrompts().find((p) => p.requested === 'lower' && p.color === 'blue')!;
const tone = allTonePrompts()[3];

const g = (kind: AnswerGrade['kind'], preferred = false): AnswerGrade => ({ kind, preferred });

describe('demoTaskOf', () => {
  it('names the task only when every prompt is of it', () => {
    expect(demoTaskOf([upper.text, [{ role: 'user', content: lower.text }]])).toBe('colors');
    expect(demoTaskOf([tone.text, ` ${allTonePrompts()[0].text} `])).toBe('tone');
    expect(demoTaskOf([upper.text, tone.text])).toBeNull();
    expect(demoTaskOf([upper.text, 'What color is a banana?'])).toBeNull();
    expect(demoTaskOf([])).toBeNull();
  });
});

describe('gradeDemoAnswer', () => {
  it('marks colour answers preferred, other case or wrong', () => {
    expect(gradeDemoAnswer('colors', upper.text, 'YELLOW')).toEqual({ kind: 'preferred', preferred: true });
    expect(gradeDemoAnswer('colors', upper.text, 'yellow')).toEqual({ kind: 'other-case', preferred: false });
    expect(gradeDemoAnswer('colors', upper.text, 'Yellow')).toEqual({ kind: 'wrong', preferred: false });
    expect(gradeDemoAnswer('colors', lower.text, 'blue')).toEqual({ kind: 'preferred', preferred: true });
    expect(gradeDemoAnswer('colors', lower.text, 'GREEN')).toEqual({ kind: 'wrong', preferred: false });
  });

  it('marks tone answers polite (preferred), curt or other', () => {
    expect(gradeDemoAnswer('tone', tone.text, POLITE_REPLIES[2])).toEqual({ kind: 'polite', preferred: true });
    expect(gradeDemoAnswer('tone', tone.text, CURT_REPLIES[0])).toEqual({ kind: 'curt', preferred: false });
    expect(gradeDemoAnswer('tone', tone.text, 'Sure')).toEqual({ kind: 'other', preferred: false });
  });

  it('refuses a prompt from outside the task', () => {
    expect(() => gradeDemoAnswer('tone', upper.text, 'No.')).toThrow(/not a prompt of the demo tone task/);
    expect(() => gradeDemoAnswer('colors', tone.text, 'RED')).toThrow(/not a prompt of the demo colour task/);
  });
});

describe('preferredRate', () => {
  it('counts preferred answers over all answers', () => {
    expect(preferredRate([g('preferred', true), g('wrong'), g('other-case'), g('preferred', true), g('wrong')])).toEqual({
      preferred: 2,
      total: 5,
      rate: 0.4,
    });
    expect(preferredRate([])).toEqual({ preferred: 0, total: 0, rate: null });
  });
});

describe('checkerPick', () => {
  it('chooses the first preferred answer and rejects the first near miss before a wrong one', () => {
    expect(checkerPick([g('wrong'), g('preferred', true), g('other-case'), g('preferred', true)])).toEqual({ chosen: 1, rejected: 2 });
    expect(checkerPick([g('curt'), g('other'), g('polite', true)])).toEqual({ chosen: 2, rejected: 0 });
  });

  it('rejects a wrong answer when there is no near miss', () => {
    expect(checkerPick([g('preferred', true), g('wrong'), g('preferred', true), g('wrong')])).toEqual({ chosen: 0, rejected: 1 });
  });

  it('reports prompts with no split instead of making a pair', () => {
    expect(checkerPick([g('wrong'), g('other-case')])).toEqual({ chosen: null, rejected: null, reason: 'no answer is preferred' });
    expect(checkerPick([g('preferred', true), g('preferred', true)])).toEqual({
      chosen: null,
      rejected: null,
      reason: 'every answer is preferred',
    });
  });
});
