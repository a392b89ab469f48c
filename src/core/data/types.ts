import type { DatasetLayout } from './layouts';

/** A chat message as Hugging Face chat templates expect it. */
export interface Message {
  role: string;
  content: string;
}

/** A prompt or completion: plain text, or a list of chat messages. */
export type Text = string | Message[];

/**
 * The row shapes we recognise (TRL's names where TRL has one):
 * - standard: prompt / chosen / rejected strings
 * - conversational: prompt / chosen / rejected as message lists
 * - implicit_prompt: chosen / rejected strings only; the prompt is their longest common prefix
 * - implicit_prompt_conversational: chosen / rejected message lists only (e.g. Anthropic HH as messages)
 * - ultrafeedback_binarized: prompt string with chosen / rejected message lists holding the prompt turn
 */
export type DatasetFormat =
  'standard' | 'conversational' | 'implicit_prompt' | 'implicit_prompt_conversational' | 'ultrafeedback_binarized';

/** One valid preference pair, normalised so that prompt is always explicit. */
export interface PreferenceRow {
  /** 1-based line of the row in its file (for a JSON array: the line where the element starts). */
  line: number;
  format: DatasetFormat;
  /** True when prompt/chosen/rejected are message lists to render with the chat template. */
  conversational: boolean;
  prompt: Text;
  chosen: Text;
  rejected: Text;
  /** Per-row extras TRL honours for conversational rows. */
  tools?: unknown[];
  chat_template_kwargs?: Record<string, unknown>;
}

/** A problem found in the input, always with a place. */
export interface DataIssue {
  file: string;
  line: number;
  /** The field at fault, when there is one ("chosen", "prompt[1].content", …). */
  field?: string;
  reason: string;
}

export interface ParsedDataset {
  file: string;
  /** The most common format among valid rows; null when there are none. */
  format: DatasetFormat | null;
  /** How many valid rows of each format were seen. */
  formatCounts: Partial<Record<DatasetFormat, number>>;
  /** The source columns' layout most valid rows had (SHP, stack-exchange-paired, …); null without rows. */
  layout: DatasetLayout | null;
  rows: PreferenceRow[];
  issues: DataIssue[];
  /** Valid rows whose chosen equals rejected (legal: the corruption exercise), counted. */
  identicalPairs: number;
  /** Lines of implicit string prompts that end inside a word (the common-prefix split cut a word). */
  midWordPrompts: number[];
  /** The source columns of the first rows, in order (what a column mapping can name). */
  columns: string[];
}

/** Token ids of one pair, as TRL's _prepare_dataset produces them (before collation/truncation). */
export interface TokenizedPair {
  /** Index of the row among the dataset's valid rows. */
  index: number;
  line: number;
  prompt_ids: number[];
  chosen_ids: number[];
  rejected_ids: number[];
  /** True when tokenize(prompt + completion) did not start with tokenize(prompt). */
  prefix_mismatch: { chosen: boolean; rejected: boolean };
}

export interface TokenizeReport {
  pairs: TokenizedPair[];
  /** Rows dropped because the prompt alone reaches max_length. */
  dropped: DataIssue[];
  /** Rows whose prompt prefix did not match (kept, as TRL keeps them). */
  mismatches: DataIssue[];
  /** Rows that could not be tokenized (e.g. the chat template raised on them); left out of `pairs`. */
  failed: DataIssue[];
}

export type TruncationMode = 'keep_start' | 'keep_end';

/**
 * A collated batch: rows [prompt+chosen × B ; prompt+rejected × B], right-padded to T.
 * Flat row-major arrays of length 2B × T.
 */
export interface PreferenceBatch {
  B: number;
  T: number;
  input_ids: Int32Array;
  attention_mask: Uint8Array;
  completion_mask: Uint8Array;
  /** Row indices (into the tokenized pairs) of the B pairs. */
  indices: number[];
  /** Completion tokens kept per row after truncation (length 2B). */
  completion_lengths: number[];
  /** Number of rows (of 2B) that truncation shortened. */
  truncated: number;
}
