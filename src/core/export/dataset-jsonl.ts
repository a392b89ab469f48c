/**
 * Preference pairs as the JSONL file TRL reads with datasets.load_dataset("json", ...).
 *
 *   datasetJsonl(rows: JsonlPair[], piece?): string
 *     One object per line with an explicit prompt: {"prompt", "chosen", "rejected"} as strings, or
 *     as message lists (TRL's conversational format), plus "tools" / "chat_template_kwargs" when a
 *     row has them. Rows the studio normalised (implicit prompts, UltraFeedback-binarized) are written
 *     with the prompt they were given, which is the split TRL's extract_prompt would make.
 */
import type { PreferenceRow } from '../data/types';

/** The fields of a row that go into the file; `line` only names the row in errors. */
export type JsonlPair = Pick<PreferenceRow, 'prompt' | 'chosen' | 'rejected' | 'tools' | 'chat_template_kwargs'> & { line?: number };

function kindOf(row: JsonlPair): 'text' | 'messages' {
  return typeof row.chosen === 'string' ? 'text' : 'messages';
}

export function datasetJsonl(rows: readonly JsonlPair[], piece: { firstRow: JsonlPair; rowsBefore: number } | null = null): string {
  if (rows.length === 0) return '';
  // Arrow gives each column one type, so load_dataset fails on a file mixing strings and message lists.
  // A file written in pieces (`piece`) holds to its own first row, and numbers rows across the pieces.
  const first = kindOf(piece?.firstRow ?? rows[0]);
  const lines = rows.map((row, i) => {
    const where = `row ${(piece?.rowsBefore ?? 0) + i + 1}${row.line !== undefined ? ` (line ${row.line})` : ''}`;
    const kind = kindOf(row);
    if (kind !== first || typeof row.prompt !== typeof row.chosen || typeof row.rejected !== typeof row.chosen) {
      throw new Error(
        `datasetJsonl: ${where} is ${kind === 'text' ? 'plain text' : 'conversational'} but the first row is ` +
          `${first === 'text' ? 'plain text' : 'conversational'}; a TRL dataset file needs one kind throughout`,
      );
    }
    const out: Record<string, unknown> = { prompt: row.prompt, chosen: row.chosen, rejected: row.rejected };
    // TRL accepts tools as a JSON string; that keeps Arrow from inferring one schema across all tools.
    if (row.tools !== undefined) out.tools = JSON.stringify(row.tools);
    if (row.chat_template_kwargs !== undefined) out.chat_template_kwargs = row.chat_template_kwargs;
    return JSON.stringify(out);
  });
  return lines.join('\n') + '\n';
}
