import { afterEach, describe, expect, it } from 'vitest';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { TEMPLATE_LIMITS } from '../../../src/core/data/chat-template';
import { tokenizePairs } from '../../../src/core/data/tokenize';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import type { PreferenceRow } from '../../../src/core/data/types';

/** Chat templates from untrusted repos render under limits: no hang, no runaway memory, a clear error. */
const withTemplate = (chat_template: string) => {
  const f = byteLevelTokenizerFiles();
  return ChatTokenizer.fromJSON(f.tokenizerJson, { ...f.tokenizerConfig, chat_template });
};
const hello = [{ role: 'user', content: 'hello' }];
const render = (tok: ChatTokenizer) => tok.applyChatTemplate(hello, { addGenerationPrompt: true });
const defaults = { ...TEMPLATE_LIMITS };

afterEach(() => Object.assign(TEMPLATE_LIMITS, defaults));

describe('chat templates under limits', () => {
  it('an ordinary template renders as before', () => {
    const tok = withTemplate(
      "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
    );
    expect(render(tok)).toBe('<user>hello<assistant>');
    expect(
      withTemplate('{% for i in range(3) %}{{ i }}{% endfor %}|{{ range(2, 9, 3) | join(",") }}').applyChatTemplate(hello, {
        addGenerationPrompt: false,
      }),
    ).toBe('012|2,5,8');
  });

  it('nested loops that would run for hours end at the time limit', () => {
    TEMPLATE_LIMITS.milliseconds = 300;
    const tok = withTemplate('{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}');
    const started = performance.now();
    expect(() => render(tok)).toThrow('chat template failed: it ran for more than 0.3 s (a loop that does not end?)');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('and at the step limit, whatever the clock says', () => {
    TEMPLATE_LIMITS.steps = 10_000;
    expect(() => render(withTemplate('{% for a in range(100000) %}{{ a }}{% endfor %}'))).toThrow(/took more than 10,000 steps/);
  });

  it('range(1000000000) is refused before it is made', () => {
    const started = performance.now();
    expect(() => render(withTemplate('{% for a in range(1000000000) %}{% endfor %}'))).toThrow(
      'chat template failed: range() of 1,000,000,000 items is over its limit of 100,000',
    );
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('a template that renders megabytes of text is stopped', () => {
    TEMPLATE_LIMITS.characters = 100_000;
    expect(() => render(withTemplate("{% for a in range(100000) %}{{ 'xxxxxxxxxx' }}{% endfor %}"))).toThrow(
      /rendered more than 100,000 characters/,
    );
  });

  it('rows the template cannot render within its limits are reported with their line; the others are kept', () => {
    TEMPLATE_LIMITS.milliseconds = 300;
    const tok = withTemplate(
      "{% for m in messages %}{% if m['content'] == 'spin' %}{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}{% endif %}" +
        "{{ m['content'] }}{% endfor %}",
    );
    const row = (line: number, content: string): PreferenceRow => ({
      line,
      format: 'conversational',
      conversational: true,
      prompt: [{ role: 'user', content }],
      chosen: [{ role: 'assistant', content: 'A' }],
      rejected: [{ role: 'assistant', content: 'B' }],
    });
    const report = tokenizePairs([row(1, 'fine'), row(2, 'spin'), row(3, 'also fine')], tok, { max_length: null, file: 'd.jsonl' });
    expect(report.pairs.map((p) => p.line)).toEqual([1, 3]);
    expect(report.failed).toEqual([
      { file: 'd.jsonl', line: 2, reason: 'chat template failed: it ran for more than 0.3 s (a loop that does not end?)' },
    ]);
  });
});
