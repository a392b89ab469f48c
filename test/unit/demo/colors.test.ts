import { describe, expect, it } from 'vitest';
import { allColorPrompts, checkAnswer, gradeColorAnswer, parseColorPrompt } from '../../../src/core/demo/colors';

describe('the colour task', () => {
  it('has 384 distinct prompts, 96 of them held out, half of each asking for capitals', () => {
    const prompts = allColorPrompts();
    expect(prompts).toHaveLength(384);
    expect(new Set(prompts.map((p) => p.text)).size).toBe(384);
    const held = prompts.filter((p) => p.heldOut);
    expect(held).toHaveLength(96);
    expect(held.filter((p) => p.requested === 'upper')).toHaveLength(48);
    expect(prompts.filter((p) => !p.heldOut && p.requested === 'lower')).toHaveLength(144);
  });

  it('holds out only new pairings: every item and every question of a held-out prompt is also seen in training', () => {
    const prompts = allColorPrompts();
    const train = prompts.filter((p) => !p.heldOut);
    for (const p of prompts.filter((q) => q.heldOut)) {
      expect(train.some((t) => t.item === p.item && t.requested === p.requested)).toBe(true);
      expect(train.some((t) => t.questionIndex === p.questionIndex && t.requested === p.requested)).toBe(true);
      expect(train.some((t) => t.item === p.item && t.questionIndex === p.questionIndex)).toBe(false);
    }
  });

  it('parses a prompt given as text or as a conversation', () => {
    expect(parseColorPrompt('use lowercase. What color is a banana?')).toMatchObject({
      item: 'a banana',
      color: 'yellow',
      requested: 'lower',
    });
    expect(parseColorPrompt([{ role: 'user', content: ' ANSWER IN CAPITALS. Color of coal? ' }])).toMatchObject({
      color: 'black',
      requested: 'upper',
    });
    expect(parseColorPrompt('What color is a banana?')).toBeNull();
  });
});

describe('checkAnswer', () => {
  const cases: [string, string, boolean][] = [
    ['use lowercase. What color is a banana?', 'yellow', true],
    ['use lowercase. What color is a banana?', 'YELLOW', false],
    ['USE CAPS. What color is a banana?', 'YELLOW', true],
    ['USE CAPS. What color is a banana?', 'yellow', false],
    ['ANSWER IN CAPITALS. Name the color of the sky.', ' BLUE.\n', true],
    ['ANSWER IN CAPITALS. Name the color of the sky.', 'Blue', false],
    ['ANSWER IN CAPITALS. Name the color of the sky.', 'GREEN', false],
    ['answer in lowercase. Color of a flamingo?', 'pink!', true],
    ['answer in lowercase. Color of a flamingo?', 'pink pink', false],
    ['answer in lowercase. Color of a flamingo?', '', false],
  ];
  it.each(cases)('%j answered %j → %s', (prompt, answer, expected) => {
    expect(checkAnswer(prompt, answer)).toBe(expected);
  });

  it('grades the rejected kind apart from wrong answers', () => {
    expect(gradeColorAnswer('USE CAPS. Which color is milk?', 'white')).toBe('other-case');
    expect(gradeColorAnswer('USE CAPS. Which color is milk?', 'BLACK')).toBe('wrong');
  });

  it('throws, quoting the prompt, on a prompt that is not from the task', () => {
    expect(() => checkAnswer('What is 2 + 2?', '4')).toThrow(/not a prompt of the demo colour task: "What is 2 \+ 2\?"/);
  });
});
