/**
 * Column layouts of preference datasets as they are published, mapped to prompt / chosen / rejected
 * before a row is read:
 * - prompt/chosen/rejected (or chosen/rejected): TRL's own, also Anthropic/hh-rlhf, UltraFeedback
 *   binarized and argilla's DPO mixes, whose extra columns (ratings, ids) are ignored;
 * - SHP (stanfordnlp/SHP): history, human_ref_A, human_ref_B, labels (1: A is preferred);
 * - stack-exchange-paired (lvwerra/stack-exchange-paired): question, response_j (preferred), response_k;
 * - a mapping given by the person (`prompt=question,chosen=response_j,rejected=response_k`).
 */

export type DatasetLayout = 'prompt/chosen/rejected' | 'SHP' | 'stack-exchange-paired' | 'column mapping';

/** Which source column feeds each field; prompt may be left out (implicit prompt). */
export interface ColumnMapping {
  prompt?: string;
  chosen: string;
  rejected: string;
}

const FIELDS = ['prompt', 'chosen', 'rejected'] as const;

/** Parses "prompt=question,chosen=response_j,rejected=response_k"; throws naming what is wrong. */
export function parseColumnMapping(text: string): ColumnMapping {
  const mapping: Partial<Record<(typeof FIELDS)[number], string>> = {};
  for (const part of text.split(',')) {
    const match = /^\s*([^=\s]+)\s*=\s*(.+?)\s*$/.exec(part);
    if (!match) throw new Error(`"${part.trim()}" is not field=column (e.g. chosen=response_j)`);
    const [, field, column] = match;
    if (!(FIELDS as readonly string[]).includes(field)) throw new Error(`"${field}" is not one of prompt, chosen, rejected`);
    if (mapping[field as (typeof FIELDS)[number]] !== undefined) throw new Error(`${field} is mapped twice`);
    mapping[field as (typeof FIELDS)[number]] = column;
  }
  if (mapping.chosen === undefined || mapping.rejected === undefined) throw new Error('chosen and rejected must both be mapped');
  return mapping as ColumnMapping;
}

export function formatColumnMapping(m: ColumnMapping): string {
  return FIELDS.filter((f) => m[f] !== undefined)
    .map((f) => `${f}=${m[f]}`)
    .join(',');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A layout's fields, or a reason the row cannot be mapped. */
export type Mapped = { ok: true; layout: DatasetLayout; value: Record<string, unknown> } | { ok: false; reason: string };

/**
 * A source row in prompt / chosen / rejected terms. Rows that already use those names pass unchanged
 * (so tools and chat_template_kwargs stay); others are recognised by their columns or mapped.
 */
export function mapLayout(value: unknown, mapping?: ColumnMapping): Mapped {
  if (!isRecord(value)) return { ok: true, layout: 'prompt/chosen/rejected', value: value as Record<string, unknown> };
  if (mapping) {
    const missing = FIELDS.filter((f) => mapping[f] !== undefined && !(mapping[f]! in value)).map((f) => `${f}=${mapping[f]}`);
    if (missing.length > 0) {
      return { ok: false, reason: `the column mapping names columns this row lacks (${missing.join(', ')}); it has ${columnList(value)}` };
    }
    const out: Record<string, unknown> = { chosen: value[mapping.chosen], rejected: value[mapping.rejected] };
    if (mapping.prompt !== undefined) out.prompt = value[mapping.prompt];
    return { ok: true, layout: 'column mapping', value: out };
  }
  if ('chosen' in value || 'rejected' in value) return { ok: true, layout: 'prompt/chosen/rejected', value };
  if ('human_ref_A' in value && 'human_ref_B' in value && 'labels' in value) {
    const label = Number(value.labels);
    if (label !== 0 && label !== 1)
      return { ok: false, reason: `SHP row: labels must be 1 (A preferred) or 0 (B preferred), got ${String(value.labels)}` };
    const [chosen, rejected] = label === 1 ? [value.human_ref_A, value.human_ref_B] : [value.human_ref_B, value.human_ref_A];
    return { ok: true, layout: 'SHP', value: { prompt: value.history, chosen, rejected } };
  }
  if ('question' in value && 'response_j' in value && 'response_k' in value) {
    return {
      ok: true,
      layout: 'stack-exchange-paired',
      value: { prompt: value.question, chosen: value.response_j, rejected: value.response_k },
    };
  }
  return { ok: true, layout: 'prompt/chosen/rejected', value };
}

export function columnList(value: Record<string, unknown>): string {
  const keys = Object.keys(value);
  return keys.length ? keys.map((k) => JSON.stringify(k)).join(', ') : 'no columns';
}

/** Column pairs that rate the chosen and the rejected answer, as published sets name them. */
export const RATING_COLUMNS: readonly (readonly [string, string])[] = [
  ['score_chosen', 'score_rejected'], // UltraFeedback binarized
  ['chosen_rating', 'rejected_rating'], // argilla's DPO mixes
  ['chosen_score', 'rejected_score'],
  ['rating_chosen', 'rating_rejected'],
];

/**
 * A row's rating margin (chosen's rating minus rejected's) from the first rating columns it has, or
 * null when it has none or they are not numbers.
 */
export function ratingMargin(value: unknown): { margin: number; columns: readonly [string, string]; ratings: [number, number] } | null {
  if (!isRecord(value)) return null;
  for (const columns of RATING_COLUMNS) {
    const [a, b] = columns.map((c) => value[c]);
    if (a === undefined && b === undefined) continue;
    const ratings = [Number(a), Number(b)] as [number, number];
    if (a === null || b === null || !ratings.every(Number.isFinite)) return null;
    return { margin: ratings[0] - ratings[1], columns, ratings };
  }
  return null;
}
