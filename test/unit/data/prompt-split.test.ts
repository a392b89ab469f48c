import { describe, expect, it } from 'vitest';
import { endsMidWord, splitMessagesAtLastTurn, splitStringsAtLastTurn } from '../../../src/core/data/extract-prompt';
import { parsePreferenceFile } from '../../../src/core/data/read';

const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');
const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

/** The chapter's format_preference, transcribed from its Python: the completions follow the last "Assistant: ". */
const chapterCompletion = (text: string) => text.split('Assistant: ').at(-1);

const SINGLE = {
  chosen: '\n\nHuman: What colour is a banana?\n\nAssistant: It is yellow.',
  rejected: "\n\nHuman: What colour is a banana?\n\nAssistant: I don't know.",
};
const MULTI = {
  chosen: '\n\nHuman: Hi\n\nAssistant: Hello! How can I help?\n\nHuman: Name a fruit.\n\nAssistant: Apple.',
  rejected: '\n\nHuman: Hi\n\nAssistant: Hello! How can I help?\n\nHuman: Name a fruit.\n\nAssistant: Apricot, probably.',
};

describe('the last-turn split (the chapter’s format_preference)', () => {
  it('gives the chapter’s completions; the prompt is the whole history up to and including "Assistant: "', () => {
    for (const row of [SINGLE, MULTI]) {
      const result = splitStringsAtLastTurn(row.chosen, row.rejected);
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      expect(result.split.chosen).toBe(chapterCompletion(row.chosen));
      expect(result.split.rejected).toBe(chapterCompletion(row.rejected));
      expect(result.split.prompt.endsWith('Assistant: ')).toBe(true);
      expect(result.split.prompt + result.split.chosen).toBe(row.chosen);
      expect(result.split.prompt + result.split.rejected).toBe(row.rejected);
    }
  });

  it('keeps words whole where the common prefix cuts one, and the mid-word check tells the two apart', () => {
    const prefix = parsePreferenceFile(jsonl(SINGLE, MULTI), 'hh.jsonl');
    expect(prefix.rows.map((r) => [r.prompt.slice(-12), r.chosen, r.rejected])).toEqual([
      ['Assistant: I', 't is yellow.', " don't know."],
      ['ssistant: Ap', 'ple.', 'ricot, probably.'],
    ]);
    expect(prefix.midWordPrompts).toEqual([1, 2]);

    const turn = parsePreferenceFile(jsonl(SINGLE, MULTI), 'hh.jsonl', { promptSplit: 'last_turn' });
    expect(turn.issues).toEqual([]);
    expect(turn.rows.map((r) => [r.chosen, r.rejected])).toEqual([
      ['It is yellow.', "I don't know."],
      ['Apple.', 'Apricot, probably.'],
    ]);
    expect(turn.midWordPrompts).toEqual([]);
  });

  it('a split after a space, or where the answers differ at once, is not mid-word', () => {
    expect(endsMidWord('The sky is', ' blue.', ' green.')).toBe(false);
    expect(endsMidWord('Assistant:', ' Yes', ' No')).toBe(false);
    expect(endsMidWord('Assistant: ', 'Yes', 'No')).toBe(false);
    expect(endsMidWord('colo', 'ur', 'r')).toBe(true);
    expect(endsMidWord('Answer: 4', '2', '7')).toBe(true);
    expect(endsMidWord('Réponse : é', 'té', 'cole')).toBe(true);
    expect(endsMidWord('', 'a', 'b')).toBe(false);
  });

  it('refuses, with the field and the reason, rows it cannot split: no assistant turn, or histories that differ', () => {
    const d = parsePreferenceFile(
      jsonl(
        { chosen: 'The sky is blue.', rejected: 'The sky is green.' },
        { chosen: '\n\nHuman: A\n\nAssistant: B', rejected: '\n\nHuman: C\n\nAssistant: D' },
        { chosen: '\n\nHuman: A\n\nAssistant: B', rejected: 'no turns here' },
        SINGLE,
      ),
      'hh.jsonl',
      { promptSplit: 'last_turn' },
    );
    expect(d.rows.map((r) => r.line)).toEqual([4]);
    expect(d.issues).toEqual([
      { file: 'hh.jsonl', line: 1, field: 'chosen', reason: expect.stringMatching(/^chosen and rejected have no "Assistant:" turn/) },
      { file: 'hh.jsonl', line: 2, field: 'chosen', reason: expect.stringMatching(/differ before their last "Assistant:" turn/) },
      { file: 'hh.jsonl', line: 3, field: 'chosen', reason: expect.stringMatching(/^rejected has no "Assistant:" turn/) },
    ]);
  });

  it('an empty last turn is an empty completion, reported as such', () => {
    const d = parsePreferenceFile(jsonl({ chosen: 'Human: Q\n\nAssistant:', rejected: 'Human: Q\n\nAssistant: No.' }), 'hh.jsonl', {
      promptSplit: 'last_turn',
    });
    expect(d.rows).toEqual([]);
    expect(d.issues).toEqual([{ file: 'hh.jsonl', line: 1, field: 'chosen', reason: 'empty completion' }]);
  });

  it('splits conversations before the last assistant message, which need not be where they first differ', () => {
    // The last turns' first messages agree, so TRL's message prefix puts one assistant message in the prompt.
    const chosen = [user('Q1'), assistant('A1'), user('Q2'), assistant('Sure.'), assistant('It is 4.')];
    const rejected = [user('Q1'), assistant('A1'), user('Q2'), assistant('Sure.'), assistant('It is 5.')];
    const split = splitMessagesAtLastTurn(chosen, rejected);
    expect(split).toEqual({
      ok: true,
      split: { prompt: chosen.slice(0, 4), chosen: [assistant('It is 4.')], rejected: [assistant('It is 5.')] },
    });
    const different = splitMessagesAtLastTurn([user('Q'), assistant('A')], [user('R'), assistant('B')]);
    expect(different).toEqual({ ok: false, reason: expect.stringMatching(/differ before their last assistant message/) });
    expect(splitMessagesAtLastTurn([user('Q')], [user('Q'), assistant('B')])).toEqual({
      ok: false,
      reason: 'chosen has no assistant message to split at',
    });

    const d = parsePreferenceFile(jsonl({ chosen, rejected }), 'c.jsonl', { promptSplit: 'last_turn' });
    expect(d.format).toBe('implicit_prompt_conversational');
    expect(d.rows[0]).toMatchObject({ prompt: chosen.slice(0, 4), chosen: [assistant('It is 4.')] });
  });

  it('leaves rows with a prompt field as they are', () => {
    const row = { prompt: 'Q: 2+2?', chosen: '4', rejected: '5' };
    expect(parsePreferenceFile(jsonl(row), 's.jsonl', { promptSplit: 'last_turn' }).rows[0]).toMatchObject(row);
  });
});
