/** How options and their values read in help, hints and placeholders. */
import type { ConfigOption } from './schema';

/** A number as TRL's docs write it: 5e-5 rather than 0.00005. */
export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && a < 1e-3) return v.toExponential().replace(/\.?0+e/, 'e');
  return String(v);
}

/** A value of the option as text: lists comma-separated, null as the option says what null means. */
export function formatValue(option: ConfigOption, value: unknown): string {
  if (value === null || value === undefined) return option.nullText ?? 'none';
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'number' ? formatNumber(v) : String(v))).join(',');
  if (typeof value === 'number') return formatNumber(value);
  return String(value);
}

/** The default as help shows it. */
export function defaultText(option: ConfigOption): string {
  return option.defaultText ?? formatValue(option, option.default);
}

/** TRL's default as text, when the option is TRL's. */
export function trlDefaultText(option: ConfigOption): string | null {
  if (option.trl === false) return null;
  return option.trlDefault === undefined ? defaultText(option) : formatValue(option, option.trlDefault);
}

/** "TRL ≤ 0.28" for options newer TRL removed; null for options every supported TRL has. */
export function versionNote(option: ConfigOption): string | null {
  return option.trl !== false && option.trl.until !== undefined ? `TRL ≤ ${option.trl.until}` : null;
}

/** The studio's label: the name with spaces unless the schema gives one. */
export function optionLabel(option: ConfigOption): string {
  return option.label ?? option.name.replace(/_/g, ' ');
}

/** The studio's hint: the help as a sentence, with TRL's default when TRL has a value for it (not a switch). */
export function optionHint(option: ConfigOption): string {
  // Only Latin letters are capitalised: a help text may open with a symbol such as ε or β.
  const first = option.help.charAt(0);
  const sentence = (/[a-z]/.test(first) ? first.toUpperCase() : first) + option.help.slice(1);
  const trlDefault = option.trlDefault === undefined ? option.default : option.trlDefault;
  if (option.trl === false || trlDefault === null || option.type === 'bool') return sentence;
  return `${sentence}. TRL: ${trlDefaultText(option)}`;
}
