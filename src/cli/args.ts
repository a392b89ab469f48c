/**
 * Command-line options with TRL's names (`--beta`, `--loss_type`, …), so a flag copied from a
 * `trl dpo` command works here. Kebab-case spellings (`--loss-type`) and `--name=value` are accepted;
 * lists are comma-separated.
 */

export type OptionKind = 'number' | 'int' | 'string' | 'bool' | 'list' | 'numbers';

export interface OptionSpec {
  name: string;
  kind: OptionKind;
  help: string;
  /** Shown in help; the caller applies defaults. */
  default?: string;
  choices?: readonly string[];
  aliases?: string[];
  /** `none` (any case) gives null, TRL's None. */
  nullable?: boolean;
}

export type ParsedValue = number | string | boolean | string[] | number[] | null;

export class UsageError extends Error {}

function canonical(flag: string): string {
  return flag.replace(/-/g, '_');
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

function convert(spec: OptionSpec, raw: string): ParsedValue {
  const bad = (what: string) => new UsageError(`--${spec.name}: expected ${what}${spec.nullable ? ' or none' : ''}, got "${raw}"`);
  if (spec.nullable && raw.trim().toLowerCase() === 'none') return null;
  switch (spec.kind) {
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw bad('a number');
      return v;
    }
    case 'int': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(v)) throw bad('an integer');
      return v;
    }
    case 'bool': {
      const v = raw.toLowerCase();
      if (['true', '1', 'yes'].includes(v)) return true;
      if (['false', '0', 'no'].includes(v)) return false;
      throw bad('true or false');
    }
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) throw bad(`one of ${spec.choices.join(', ')}`);
      return raw;
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      if (items.length === 0) throw bad('a comma-separated list');
      for (const item of items) {
        if (spec.choices && !spec.choices.includes(item)) {
          throw new UsageError(`--${spec.name}: "${item}" is not one of ${spec.choices.join(', ')}`);
        }
      }
      return items;
    }
    case 'numbers': {
      const items = raw.split(',').map((s) => s.trim());
      const values = items.map(Number);
      if (items.some((s) => s === '') || values.some((v) => !Number.isFinite(v))) {
        throw bad('comma-separated numbers');
      }
      return values;
    }
  }
}

/** Parses argv (after the subcommand) against the specs. Returns values keyed by canonical name. */
export function parseOptions(argv: string[], specs: OptionSpec[]): Map<string, ParsedValue> {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.aliases ?? []) byName.set(canonical(a), s);
  }
  const out = new Map<string, ParsedValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}" (options start with --)`);
    let flag = arg.slice(2);
    let inline: string | undefined;
    const eq = flag.indexOf('=');
    if (eq >= 0) {
      inline = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const spec = byName.get(canonical(flag));
    if (!spec) {
      const names = [...byName.keys()];
      const near = names
        .map((n) => [n, editDistance(canonical(flag), n)] as const)
        .filter(([, d]) => d <= 3)
        .sort((a, b) => a[1] - b[1])[0];
      throw new UsageError(`unknown option --${flag}${near ? ` (did you mean --${near[0]}?)` : ''}`);
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      if (spec.kind === 'bool' && (next === undefined || next.startsWith('--'))) {
        raw = 'true';
      } else {
        if (next === undefined || next.startsWith('--')) {
          throw new UsageError(`--${spec.name} needs a value`);
        }
        raw = next;
        i++;
      }
    }
    out.set(spec.name, convert(spec, raw));
  }
  return out;
}

/** Help text: one line per option, with its default and choices. */
export function formatHelp(usage: string, specs: OptionSpec[]): string {
  const lines = [usage, '', 'Options:'];
  const width = Math.max(...specs.map((s) => s.name.length)) + 4;
  for (const s of specs) {
    const extra = [s.choices ? `one of: ${s.choices.join(', ')}` : '', s.default !== undefined ? `default ${s.default}` : '']
      .filter(Boolean)
      .join('; ');
    lines.push(`  --${s.name.padEnd(width)}${s.help}${extra ? ` (${extra})` : ''}`);
  }
  return lines.join('\n');
}
