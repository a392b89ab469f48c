/**
 * Validation from the schema: one message per bad value, the same text wherever it is shown (the CLI
 * prints "--name: message", the studio shows it under the field): "<name> must be <requirement>, got <value>".
 */
import type { LoraConfig } from '../model/types';
import { loraOptionsOf } from './defaults';
import { DPO_OPTIONS, LORA_OPTIONS, optionList, SFT_OPTIONS, type ConfigOption, type OptionTable } from './schema';
import type { ConfigProblem, DPOConfig, LoraOptions, SFTConfig } from './types';

function rangeText(option: ConfigOption): string {
  const { min, max, minExclusive, maxExclusive } = option.range ?? {};
  const whole = option.type === 'int';
  if (min !== undefined && max !== undefined) {
    return `${whole ? 'a whole number ' : ''}in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`;
  }
  const bound =
    min !== undefined
      ? minExclusive
        ? `greater than ${min}`
        : `≥ ${min}`
      : max !== undefined
        ? maxExclusive
          ? `less than ${max}`
          : `≤ ${max}`
        : '';
  if (whole) return bound ? `a whole number ${bound.replace('greater than', '>').replace('less than', '<')}` : 'a whole number';
  return bound || 'a number';
}

/** What a valid value is, in words: "greater than 0", "a whole number ≥ 1", "in [0, 0.5)", "one of a, b". */
export function requirement(option: ConfigOption): string {
  const base = (() => {
    switch (option.type) {
      case 'int':
      case 'number':
        return rangeText(option);
      case 'bool':
        return 'true or false';
      case 'string':
      case 'enum':
        return option.choices ? `one of ${option.choices.join(', ')}` : 'a string';
      case 'list':
        return `a${option.nonEmpty ? ' non-empty' : ''} list${option.choices ? ` of ${option.choices.join(', ')}` : ' of names'}`;
      case 'numbers':
        return 'a list of numbers';
    }
  })();
  return option.nullable ? `${base} or none` : base;
}

/** A value as the messages show it: none, 0.5, "text", [a, b]. */
export function shownValue(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'string' ? v : shownValue(v))).join(', ')}]`;
  return String(value);
}

function inRange(option: ConfigOption, v: number): boolean {
  const { min, max, minExclusive, maxExclusive } = option.range ?? {};
  if (min !== undefined && !(minExclusive ? v > min : v >= min)) return false;
  if (max !== undefined && !(maxExclusive ? v < max : v <= max)) return false;
  return true;
}

/** The message for a value the option does not accept, or null when it does. */
export function optionProblem(option: ConfigOption, value: unknown): string | null {
  const bad = () => `${option.name} must be ${requirement(option)}, got ${shownValue(value)}`;
  if (value === null) return option.nullable ? null : bad();
  switch (option.type) {
    case 'int':
    case 'number': {
      const ok = typeof value === 'number' && Number.isFinite(value) && (option.type === 'number' || Number.isInteger(value));
      return ok && inRange(option, value) ? null : bad();
    }
    case 'bool':
      return typeof value === 'boolean' ? null : bad();
    case 'string':
    case 'enum':
      return typeof value === 'string' && (!option.choices || option.choices.includes(value)) ? null : bad();
    case 'list': {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) return bad();
      if (option.nonEmpty && value.length === 0) return `${option.name} must name at least one value, got none`;
      const choices = option.choices;
      const unknown = choices ? (value as string[]).find((v) => !choices.includes(v)) : undefined;
      return unknown === undefined ? null : `${option.name} must hold only ${choices!.join(', ')}, got "${unknown}"`;
    }
    case 'numbers':
      return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v)) ? null : bad();
  }
}

/** Every option of the table whose value in `config` is not valid, in table order. */
export function checkOptions<C>(table: OptionTable<C>, config: C): ConfigProblem<keyof C & string>[] {
  const problems: ConfigProblem<keyof C & string>[] = [];
  for (const option of optionList(table)) {
    if (option.checkedWhen && !option.checkedWhen(config)) continue;
    const message = optionProblem(option, (config as Record<string, unknown>)[option.name]);
    if (message !== null) problems.push({ field: option.name as keyof C & string, message });
  }
  return problems;
}

type Rule<C> = (c: C) => ConfigProblem<keyof C & string> | null;

/** Rules across DPO options (TRL's __post_init__ checks and what the trainer needs). */
const DPO_RULES: Rule<DPOConfig>[] = [
  (c) =>
    Array.isArray(c.loss_weights) && Array.isArray(c.loss_type) && c.loss_weights.length !== c.loss_type.length
      ? {
          field: 'loss_weights',
          message: `loss_weights must hold one weight per loss_type (${c.loss_type.length}), got ${c.loss_weights.length}`,
        }
      : null,
  (c) =>
    Array.isArray(c.loss_type) && c.loss_type.includes('exo_pair') && !(c.label_smoothing > 0)
      ? { field: 'label_smoothing', message: 'exo_pair needs label_smoothing > 0 (e.g. 1e-3)' }
      : null,
  (c) =>
    c.use_weighting && Array.isArray(c.loss_type) && c.loss_type.some((t) => t === 'aot' || t === 'aot_unpaired')
      ? { field: 'use_weighting', message: 'use_weighting (WPO) cannot be combined with aot or aot_unpaired' }
      : null,
  maxStepsOrEpochs,
];

function maxStepsOrEpochs<C extends { max_steps: number; num_train_epochs: number }>(c: C): ConfigProblem<'max_steps'> | null {
  return c.max_steps > 0 || c.num_train_epochs > 0 ? null : { field: 'max_steps', message: 'set max_steps > 0 or num_train_epochs > 0' };
}

function withRules<C>(problems: ConfigProblem<keyof C & string>[], rules: Rule<C>[], config: C): ConfigProblem<keyof C & string>[] {
  for (const rule of rules) {
    const problem = rule(config);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** Every setting that cannot run, with the option it concerns: each option's range, then the rules across options. */
export function validateDpoConfig(c: DPOConfig): ConfigProblem<keyof DPOConfig>[] {
  return withRules(checkOptions(DPO_OPTIONS, c), DPO_RULES, c);
}

export function validateSftConfig(c: SFTConfig): ConfigProblem<keyof SFTConfig>[] {
  return withRules(checkOptions(SFT_OPTIONS, c), [maxStepsOrEpochs], c);
}

export function validateLoraOptions(o: LoraOptions): ConfigProblem<keyof LoraOptions>[] {
  return checkOptions(LORA_OPTIONS, o);
}

/** PEFT's LoraConfig checked by the schema's LoRA options; problems are keyed by TRL's names (lora_r, …). */
export function validateLoraConfig(c: LoraConfig): ConfigProblem<keyof LoraOptions>[] {
  return validateLoraOptions(loraOptionsOf(c));
}
