import type { TokenizedSftExample } from './tokenize';

/** A collated SFT batch: rows of prompt + completion, truncated keep_start, right-padded to T. */
export interface SftBatch {
  rows: number;
  T: number;
  /** [rows × T], row-major. */
  input_ids: Int32Array;
  /** 1 on completion tokens (the ones the loss scores), 0 on prompt and padding. */
  completion_mask: Uint8Array;
}

export interface SftCollateOptions {
  /** Tokens kept per sequence (its end is cut); null keeps everything. */
  max_length: number | null;
  pad_token_id: number;
}

export function collateSft(examples: TokenizedSftExample[], opts: SftCollateOptions): SftBatch {
  if (examples.length === 0) throw new Error('cannot collate an empty SFT batch');
  if (opts.max_length !== null && !(Number.isInteger(opts.max_length) && opts.max_length >= 2)) {
    throw new Error(`SFT max_length must be an integer ≥ 2 or null, got ${opts.max_length}`);
  }
  const cut = (ids: number[]) => (opts.max_length === null ? ids : ids.slice(0, opts.max_length));
  const sequences = examples.map((e) => ({
    ids: cut([...e.prompt_ids, ...e.completion_ids]),
    mask: cut([...new Array<number>(e.prompt_ids.length).fill(0), ...new Array<number>(e.completion_ids.length).fill(1)]),
  }));
  const rows = sequences.length;
  const T = Math.max(...sequences.map((s) => s.ids.length));
  const input_ids = new Int32Array(rows * T).fill(opts.pad_token_id);
  const completion_mask = new Uint8Array(rows * T);
  sequences.forEach(({ ids, mask }, r) => {
    input_ids.set(ids, r * T);
    completion_mask.set(mask, r * T);
  });
  return { rows, T, input_ids, completion_mask };
}

/** The scored positions of a batch: the hidden state at t predicts the completion token at t + 1. */
export interface SftTokenIndex {
  /** Flat r·T + t of each predicting hidden state. */
  positions: Int32Array;
  /** The token each of them predicts. */
  labels: Int32Array;
}

export function sftTokenIndex(batch: SftBatch): SftTokenIndex {
  const { rows, T, input_ids, completion_mask } = batch;
  const positions: number[] = [];
  const labels: number[] = [];
  for (let r = 0; r < rows; r++) {
    // Position 0 is never a label: nothing precedes it.
    for (let t = 1; t < T; t++) {
      if (!completion_mask[r * T + t]) continue;
      positions.push(r * T + t - 1);
      labels.push(input_ids[r * T + t]);
    }
  }
  return { positions: Int32Array.from(positions), labels: Int32Array.from(labels) };
}
