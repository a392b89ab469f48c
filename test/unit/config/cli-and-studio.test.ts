import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configProblems } from '../../../src/app/actions/config';
import { DEFAULT_STUDIO_CONFIG, get } from '../../../src/app/store';
import { parseOptions } from '../../../src/cli/args';
import { DATA_OPTIONS, dpoConfigFrom, LOSS_OPTIONS, loraConfigFrom, TRAIN_OPTIONS } from '../../../src/cli/options';
import { defaultText, DPO_OPTIONS, LORA_OPTIONS, optionList, type DPOConfig } from '../../../src/core/config';
import type { LoraConfig } from '../../../src/core/model/types';

const run = promisify(execFile);

/** The dpo command as a person runs it; the config is checked before any model is read. */
async function dpo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'src/cli/dpo.ts', ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** What the studio's Configure panel shows for these settings, by field. */
function studioProblems(dpo: Partial<DPOConfig>, lora: Partial<LoraConfig> = {}): Record<string, string> {
  const config = {
    ...DEFAULT_STUDIO_CONFIG,
    dpo: { ...DEFAULT_STUDIO_CONFIG.dpo, ...dpo },
    lora: { ...DEFAULT_STUDIO_CONFIG.lora, ...lora },
  };
  return configProblems({ ...get(), config, parseErrors: {}, model: null });
}

const SCHEMA_NAMES = [...optionList(DPO_OPTIONS), ...optionList(LORA_OPTIONS)].map((o) => o.name);
const TRAIN_SPECS = [...DATA_OPTIONS, ...LOSS_OPTIONS, ...TRAIN_OPTIONS];

describe('one message for a bad value, on the command line and in the studio', () => {
  const cases: [flags: string[], dpo: Partial<DPOConfig>, lora: Partial<LoraConfig>, field: string][] = [
    [['--learning_rate', '-1'], { learning_rate: -1 }, {}, 'learning_rate'],
    [['--label_smoothing', '0.7'], { label_smoothing: 0.7 }, {}, 'label_smoothing'],
    [['--eval_split', '0.2', '--eval_steps', '0'], { eval_split: 0.2, eval_steps: 0 }, {}, 'eval_steps'],
    [['--lora_r', '0'], {}, { r: 0 }, 'lora_r'],
  ];

  it.each(cases)('%j', async (flags, dpoOver, loraOver, field) => {
    const studio = studioProblems(dpoOver, loraOver);
    expect(Object.keys(studio)).toEqual([field]);
    // The parsed flags give the same settings the studio holds...
    const values = parseOptions(flags, TRAIN_SPECS);
    expect(dpoConfigFrom(values)).toEqual({ ...DEFAULT_STUDIO_CONFIG.dpo, logging_steps: 10, ...dpoOver });
    expect(loraConfigFrom(values)).toEqual({ ...DEFAULT_STUDIO_CONFIG.lora, ...loraOver });
    // ...and the command refuses them with the studio's words.
    const r = await dpo('train', '--model', 'no-such-dir', '--data', 'no-such-file', '--output_dir', 'unused', ...flags);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`--${field}: ${studio[field]}\n`);
  });
});

describe('the command line reads the schema', () => {
  it('--help lists every schema option with its default', async () => {
    const help = await dpo('train', '--help');
    expect(help.code).toBe(0);
    const lines = help.stdout.split('\n');
    for (const option of [...optionList(DPO_OPTIONS), ...optionList(LORA_OPTIONS)]) {
      const line = lines.find((l) => l.startsWith(`  --${option.name} `));
      expect(line, option.name).toBeDefined();
      expect(line, option.name).toContain(`default ${defaultText(option)}`);
    }
    expect(lines.find((l) => l.startsWith('  --learning_rate '))).toContain('(default 5e-5; TRL 1e-6)');
    expect(lines.find((l) => l.startsWith('  --max_prompt_length '))).toContain('(TRL ≤ 0.28)');
  });

  it('takes every schema option and nothing else beyond the command’s own', () => {
    const names = TRAIN_SPECS.map((s) => s.name);
    // The command's own: where the data is (and how it is read) and where (and when) its files go.
    expect(names.filter((n) => !SCHEMA_NAMES.includes(n as never))).toEqual([
      'data',
      'dataset_name',
      'dataset_config',
      'dataset_train_split',
      'dataset_columns',
      'prompt_split',
      'min_rating_margin',
      'output_dir',
      'save_steps',
      'save_total_limit',
      'resume_from_checkpoint',
    ]);
    expect(SCHEMA_NAMES.filter((n) => !names.includes(n))).toEqual([]);
  });

  it('reads none as None for options that allow it', () => {
    const values = parseOptions(['--max_length', 'none', '--eval_steps', 'None', '--ld_alpha', '0.5'], TRAIN_SPECS);
    expect(dpoConfigFrom(values)).toMatchObject({ max_length: null, eval_steps: null, ld_alpha: 0.5 });
    expect(() => parseOptions(['--beta', 'none'], TRAIN_SPECS)).toThrow(/--beta: expected a number, got "none"/);
    expect(() => parseOptions(['--max_length', 'x'], TRAIN_SPECS)).toThrow(/--max_length: expected an integer or none, got "x"/);
  });
});
