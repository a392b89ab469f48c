import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError, type OptionSpec } from '../../../src/cli/args';

const specs: OptionSpec[] = [
  { name: 'beta', kind: 'number', help: '' },
  { name: 'max_steps', kind: 'int', help: '' },
  { name: 'loss_type', kind: 'list', help: '', choices: ['sigmoid', 'ipo', 'sft'] },
  { name: 'loss_weights', kind: 'numbers', help: '' },
  { name: 'use_rslora', kind: 'bool', help: '' },
  { name: 'model', kind: 'string', help: '', aliases: ['model_name_or_path'] },
  { name: 'truncation_mode', kind: 'string', help: '', choices: ['keep_start', 'keep_end'] },
];

describe('parseOptions', () => {
  it("reads TRL's snake_case names, kebab-case spellings, --name=value and aliases", () => {
    const v = parseOptions(
      ['--beta', '0.25', '--max-steps=-1', '--loss-type', 'sigmoid,sft', '--loss_weights', '1,0.5', '--model_name_or_path', 'm'],
      specs,
    );
    expect(v.get('beta')).toBe(0.25);
    expect(v.get('max_steps')).toBe(-1);
    expect(v.get('loss_type')).toEqual(['sigmoid', 'sft']);
    expect(v.get('loss_weights')).toEqual([1, 0.5]);
    expect(v.get('model')).toBe('m');
  });

  it('takes a bare boolean flag as true and accepts explicit true/false', () => {
    expect(parseOptions(['--use_rslora'], specs).get('use_rslora')).toBe(true);
    expect(parseOptions(['--use_rslora', '--beta', '1'], specs).get('use_rslora')).toBe(true);
    expect(parseOptions(['--use_rslora', 'false'], specs).get('use_rslora')).toBe(false);
  });

  it('rejects unknown options with a suggestion, and malformed values with the option named', () => {
    expect(() => parseOptions(['--bta', '1'], specs)).toThrow(/unknown option --bta \(did you mean --beta\?\)/);
    expect(() => parseOptions(['--beta', 'x'], specs)).toThrow(UsageError);
    expect(() => parseOptions(['--beta', 'x'], specs)).toThrow(/--beta: expected a number, got "x"/);
    expect(() => parseOptions(['--max_steps', '1.5'], specs)).toThrow(/expected an integer/);
    expect(() => parseOptions(['--loss_type', 'sigmoid,dpo'], specs)).toThrow(/"dpo" is not one of sigmoid, ipo, sft/);
    expect(() => parseOptions(['--truncation_mode', 'middle'], specs)).toThrow(/one of keep_start, keep_end/);
    expect(() => parseOptions(['--beta'], specs)).toThrow(/--beta needs a value/);
    expect(() => parseOptions(['--loss_weights', '1,,2'], specs)).toThrow(/comma-separated numbers/);
    expect(() => parseOptions(['beta'], specs)).toThrow(/unexpected argument "beta"/);
  });
});
