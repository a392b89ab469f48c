import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { scoreTokensComposed, type TokenScores } from '../dpo/logps';
import { lmHeadHiddenGrad, lmHeadLogits } from './lm-head-matmul';
import { ROW_STAT } from './selective-log-softmax-programs';
import { gradTerms, selectiveLogSoftmaxGradKernel, selectiveLogSoftmaxKernel, validLabels } from './selective-log-softmax';

/**
 * LM-head log-probs without the [N, V] logits: hidden [N, d] × head [V, d]ᵀ is taken a block of rows
 * and a slice of the vocabulary at a time; each block's logits go straight into the fused selective
 * log-softmax and are freed, and the slices' row statistics are merged (logsumexp relative to the row
 * maximum; the label's logit from the slice that holds it). The backward pass recomputes each block's
 * logits (unless everything was one block, whose logits are kept), turns them into dlogits with the
 * fused backward kernel and accumulates dhidden = dlogits · head over the slices. The head is frozen:
 * it is never differentiated, so no [V, d] gradient is allocated; it must outlive the backward pass (a
 * model weight does).
 *
 * A head larger than the device's maxStorageBufferBindingSize (Qwen's 151,936 × 576 float32 is 350 MB;
 * many devices bind at most 128 MiB) cannot be read by any shader as one tensor, so it is accepted as
 * consecutive row slices, each within the limit; the vocabulary slices never cross a head slice.
 */

/** The LM head [V, d]: one tensor, or consecutive row slices (vocabulary ranges) that make it up. */
export type LmHeadWeight = tf.Tensor2D | readonly tf.Tensor2D[];

/** A TokenScorer that also takes the head as row slices. */
export type SlicedHeadScorer = (hidden: tf.Tensor2D, head: LmHeadWeight, labels: tf.Tensor1D, withWpo: boolean) => TokenScores;

/** Caps on one block of logits; anything left out is planned from the device's binding limit. */
export interface LmHeadChunking {
  /** Rows of hidden states per block. */
  rowsPerChunk?: number;
  /** Vocabulary entries per block (the head is sliced when this is below V). */
  vocabPerChunk?: number;
  /** Largest block of logits in bytes (default 16 MiB, never above maxStorageBufferBindingSize). */
  maxChunkBytes?: number;
  /**
   * Largest storage binding to plan for, when below the device's maxStorageBufferBindingSize (tests
   * stand in for a device with a small limit this way).
   */
  maxBindingBytes?: number;
}

export interface LmHeadChunkPlan {
  rowsPerChunk: number;
  vocabPerChunk: number;
}

export const DEFAULT_MAX_CHUNK_BYTES = 16 * 2 ** 20;

const BYTES_PER_FLOAT = 4;

/**
 * Picks block sizes for N rows, vocabulary V (the widest head slice, when the head comes in slices) and
 * hidden size d so that no block of logits, dlogits or head slice passes min(maxChunkBytes, binding
 * limit), the binding limit being the device's unless chunking.maxBindingBytes is lower. Whole
 * vocabulary rows are preferred: the vocabulary is split only when a single row of logits would not fit.
 */
export function planLmHeadChunks(
  rows: number,
  vocab: number,
  hiddenSize: number,
  bindingLimitBytes: number,
  chunking: LmHeadChunking = {},
): LmHeadChunkPlan {
  for (const key of ['rowsPerChunk', 'vocabPerChunk', 'maxChunkBytes', 'maxBindingBytes'] as const) {
    const value = chunking[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new Error(`LM-head chunking: ${key} must be a positive integer, got ${value}`);
    }
  }
  const bindingBytes = Math.min(bindingLimitBytes, chunking.maxBindingBytes ?? Infinity);
  const budget = Math.floor(Math.min(chunking.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES, bindingBytes) / BYTES_PER_FLOAT);
  const plannedVocab = vocab <= budget ? vocab : Math.max(1, Math.floor(budget / Math.max(1, hiddenSize)));
  const vocabPerChunk = Math.min(vocab, chunking.vocabPerChunk ?? plannedVocab);
  const rowsPerChunk = Math.max(1, Math.min(rows, chunking.rowsPerChunk ?? Math.floor(budget / vocabPerChunk)));
  const limitFloats = Math.floor(bindingBytes / BYTES_PER_FLOAT);
  if (rowsPerChunk * vocabPerChunk > limitFloats || (vocabPerChunk < vocab && vocabPerChunk * hiddenSize > limitFloats)) {
    throw new Error(
      `LM-head chunking: blocks of ${rowsPerChunk} rows × ${vocabPerChunk} vocabulary (hidden ${hiddenSize}) ` +
        `exceed the device's maxStorageBufferBindingSize of ${bindingBytes} bytes`,
    );
  }
  return { rowsPerChunk, vocabPerChunk };
}

/** Rows of the head a shader can bind at once for hidden size d under a binding limit. */
export function lmHeadSliceRows(hiddenSize: number, bindingLimitBytes: number): number {
  return Math.max(1, Math.floor(bindingLimitBytes / (BYTES_PER_FLOAT * hiddenSize)));
}

/** A range of the vocabulary within one head slice: global [start, start + width), local offset in the piece. */
interface VocabSlice {
  start: number;
  width: number;
  piece: tf.Tensor2D;
  offset: number;
}

/** Vocabulary ranges of at most perChunk entries, none crossing a head piece. */
function vocabSlices(pieces: readonly tf.Tensor2D[], perChunk: number): VocabSlice[] {
  const slices: VocabSlice[] = [];
  let start = 0;
  for (const piece of pieces) {
    const rows = piece.shape[0];
    for (let offset = 0; offset < rows; offset += perChunk) {
      const width = Math.min(perChunk, rows - offset);
      slices.push({ start: start + offset, width, piece, offset });
    }
    start += rows;
  }
  return slices;
}

/** The head rows of one vocabulary slice (its piece itself when the slice is the whole piece). */
function headSlice(slice: VocabSlice): tf.Tensor2D {
  return slice.width === slice.piece.shape[0] ? slice.piece : tf.slice(slice.piece, [slice.offset, 0], [slice.width, -1]);
}

/** Labels relative to a slice's first entry: a label outside the slice matches none of its columns. */
function sliceLabels(labels: tf.Tensor1D, slice: VocabSlice): tf.Tensor1D {
  return slice.start === 0 ? labels : tf.sub(labels, tf.scalar(slice.start, 'int32'));
}

/**
 * Merges the row statistics [n, 7] of vocabulary slices into those of the whole vocabulary, working
 * relative to the overall row maximum so that large logits cost no precision:
 *   rel_c = (max_c − max) + logS1_c,  logS1 = LSE_c rel_c,
 *   logp = logp_c + rel_c − logS1 for the slice c holding the label,
 *   logΣp² = LSE_c(logΣp²_c + 2·rel_c) − 2·logS1,  mean = Σ_c mean_c·width_c / V,
 *   entropy = Σ_c π_c·(H_c − log π_c) with π_c = exp(rel_c − logS1) the slice's share of the mass,
 *   argmax = start_c + argmax_c of the first slice whose maximum is the row's.
 */
function mergeSliceStats(parts: tf.Tensor2D[], slices: VocabSlice[], labels: tf.Tensor1D, vocab: number): tf.Tensor2D {
  return tf.tidy(() => {
    const column = (k: number) =>
      tf.stack(
        parts.map((p) => tf.squeeze(tf.slice(p, [0, k], [-1, 1]), [1])),
        1,
      ) as tf.Tensor2D;
    const maxes = column(ROW_STAT.max);
    const rowMax = tf.max(maxes, 1);
    const rel = tf.add(tf.sub(maxes, tf.expandDims(rowMax, 1)), column(ROW_STAT.logS1));
    const logS1 = tf.logSumExp(rel, 1);
    const holds = tf.stack(
      slices.map((s) => validLabels(labels, s.start, s.width)),
      1,
    );
    const pickedRel = tf.sum(tf.mul(holds, tf.add(column(ROW_STAT.logp), rel)), 1);
    const logp = tf.mul(tf.sub(pickedRel, logS1), tf.sum(holds, 1));
    const widths = tf.tensor1d(slices.map((s) => s.width / vocab));
    const logitMean = tf.sum(tf.mul(column(ROW_STAT.logitMean), widths), 1);
    const logSumP2 = tf.sub(tf.logSumExp(tf.add(column(ROW_STAT.logSumP2), tf.mul(rel, 2)), 1), tf.mul(logS1, 2));
    const logShare = tf.sub(rel, tf.expandDims(logS1, 1));
    const entropy = tf.sum(tf.mul(tf.exp(logShare), tf.sub(column(ROW_STAT.entropy), logShare)), 1);
    // The first slice holding the row maximum: of the slices that do, the one with the largest c' = C − c.
    const count = slices.length;
    const rank = tf.tensor1d(slices.map((_, c) => count - c));
    const first = tf.oneHot(tf.argMax(tf.mul(tf.cast(tf.equal(maxes, tf.expandDims(rowMax, 1)), 'float32'), rank), 1), count);
    const starts = tf.tensor1d(slices.map((s) => s.start));
    const argmax = tf.sum(tf.mul(first, tf.add(column(ROW_STAT.argmax), starts)), 1);
    return tf.stack([logp, rowMax, logS1, logitMean, logSumP2, entropy, argmax], 1) as tf.Tensor2D;
  });
}

/** Runs `block` on each block of rows, one tidy per block, and concatenates the [count, k] results. */
function overRowBlocks(rows: number, perBlock: number, block: (start: number, count: number) => tf.Tensor2D): tf.Tensor2D {
  const blocks: tf.Tensor2D[] = [];
  for (let start = 0; start < rows; start += perBlock) {
    const count = Math.min(perBlock, rows - start);
    blocks.push(tf.tidy(() => block(start, count)));
  }
  if (blocks.length === 1) return blocks[0];
  const all = tf.concat(blocks, 0);
  blocks.forEach((b) => b.dispose());
  return all;
}

/** Row statistics [n, 7] of a block of hidden states against the whole vocabulary, slice by slice. */
function blockRowStats(h: tf.Tensor2D, labels: tf.Tensor1D, slices: VocabSlice[], vocab: number): tf.Tensor2D {
  const parts = slices.map((s) => tf.tidy(() => selectiveLogSoftmaxKernel(lmHeadLogits(h, headSlice(s)), sliceLabels(labels, s))));
  return slices.length === 1 ? parts[0] : mergeSliceStats(parts, slices, labels, vocab);
}

/** Backward-kernel terms [n, 7] for upstream dy [n, 5] of (logp, logitMean, logSumP2, …) and the saved shift [n, 3]. */
function blockTerms(dy: tf.Tensor2D, shift: tf.Tensor2D, labels: tf.Tensor1D, vocab: number): tf.Tensor2D {
  const g = tf.unstack(dy, 1) as tf.Tensor1D[];
  const s = tf.unstack(shift, 1) as tf.Tensor1D[];
  return gradTerms(
    { logp: g[0], logSumExp: null, logitMean: g[1], logSumP2: g[2] },
    { max: s[0], logS1: s[1], logSumP2: s[2] },
    validLabels(labels, 0, vocab),
    vocab,
  );
}

/** dhidden [n, d] of a block: dlogits · head, recomputing the block's logits slice by slice. */
function blockHiddenGrad(h: tf.Tensor2D, labels: tf.Tensor1D, terms: tf.Tensor2D, slices: VocabSlice[]): tf.Tensor2D {
  let dh: tf.Tensor2D | null = null;
  for (const slice of slices) {
    const part = tf.tidy(() => {
      const w = headSlice(slice);
      const dlogits = selectiveLogSoftmaxGradKernel(lmHeadLogits(h, w), sliceLabels(labels, slice), terms);
      return lmHeadHiddenGrad(dlogits, w);
    });
    if (dh === null) dh = part;
    else {
      const sum = tf.add(dh, part) as tf.Tensor2D;
      dh.dispose();
      part.dispose();
      dh = sum;
    }
  }
  return dh as tf.Tensor2D;
}

/** The head's pieces, checked against hidden [N, d] and the binding limit. */
function headPieces(head: LmHeadWeight, hiddenSize: number, limitBytes: number): readonly tf.Tensor2D[] {
  const where = 'scoreTokensFused';
  const pieces = Array.isArray(head) ? (head as readonly tf.Tensor2D[]) : [head as tf.Tensor2D];
  if (pieces.length === 0) throw new Error(`${where}: head is an empty list of slices`);
  pieces.forEach((piece, i) => {
    const name = pieces.length === 1 ? 'head' : `head slice ${i}`;
    if (piece.rank !== 2 || piece.dtype !== 'float32' || piece.shape[1] !== hiddenSize) {
      throw new Error(`${where}: ${name} must be [rows, ${hiddenSize}] float32, got [${piece.shape.join(', ')}] ${piece.dtype}`);
    }
    const bytes = piece.size * BYTES_PER_FLOAT;
    if (bytes > limitBytes) {
      throw new Error(
        `${where}: ${name} [${piece.shape.join(', ')}] is ${bytes} bytes, over the storage binding limit of ${limitBytes} bytes; ` +
          `pass the head as row slices of at most ${lmHeadSliceRows(hiddenSize, limitBytes)} rows`,
      );
    }
  });
  return pieces;
}

function assertScorerInputs(hidden: tf.Tensor, labels: tf.Tensor): void {
  const where = 'scoreTokensFused';
  if (hidden.rank !== 2 || hidden.dtype !== 'float32') {
    throw new Error(`${where}: hidden must be [N, d] float32, got [${hidden.shape.join(', ')}] ${hidden.dtype}`);
  }
  if (labels.rank !== 1 || labels.dtype !== 'int32' || labels.shape[0] !== hidden.shape[0]) {
    throw new Error(`${where}: labels must be [${hidden.shape[0]}] int32, got [${labels.shape.join(', ')}] ${labels.dtype}`);
  }
}

function deviceBindingLimitBytes(): number {
  const backend = tf.backend() as WebGPUBackend;
  const limit = backend.device?.limits?.maxStorageBufferBindingSize;
  if (!limit) throw new Error(`scoreTokensFused: needs the 'webgpu' backend (current backend: '${tf.getBackend()}')`);
  return limit;
}

/** A scorer on the fused kernels with the given block caps (tests force several small blocks). */
export function makeFusedScorer(chunking: LmHeadChunking = {}): SlicedHeadScorer {
  return (hidden, head, labels, withWpo) => {
    assertScorerInputs(hidden, labels);
    const limit = Math.min(deviceBindingLimitBytes(), chunking.maxBindingBytes ?? Infinity);
    const pieces = headPieces(head, hidden.shape[1], limit);
    const [rows] = hidden.shape;
    const vocab = pieces.reduce((sum, p) => sum + p.shape[0], 0);
    // No positions to score (nothing in the batch is a completion token): empty results, nothing to
    // chunk; any piece of the head gives the composed ops the right empty shapes.
    if (rows === 0) return scoreTokensComposed(hidden, pieces[0], labels, withWpo);
    // Blocks are planned against the widest piece: no vocabulary slice is wider than the piece it lies in.
    const widest = Math.max(...pieces.map((p) => p.shape[0]));
    const plan = planLmHeadChunks(rows, widest, hidden.shape[1], limit, chunking);
    const slices = vocabSlices(pieces, plan.vocabPerChunk);
    // When everything is one block, its logits (within the block budget) are kept for the backward
    // pass instead of being recomputed: one matMul fewer, no more memory than the block cap.
    const oneBlock = rows <= plan.rowsPerChunk && slices.length === 1;
    // Only hidden is an input of the custom gradient. Labels (and a kept block of logits) reach the
    // backward pass through `save`, which holds references, not copies. The head is captured as it is:
    // it is a model weight that outlives the step, and saving it would count a second [V, d] tensor in
    // tf.memory().
    const scored = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [h, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      const logits = oneBlock ? lmHeadLogits(h, pieces[0]) : null;
      const stats = logits
        ? selectiveLogSoftmaxKernel(logits, labels)
        : overRowBlocks(rows, plan.rowsPerChunk, (start, count) =>
            blockRowStats(tf.slice(h, [start, 0], [count, -1]), tf.slice(labels, [start], [count]), slices, vocab),
          );
      const pick = (cols: number[]) => tf.gather(stats, tf.tensor1d(cols, 'int32'), 1) as tf.Tensor2D;
      const shift = pick([ROW_STAT.max, ROW_STAT.logS1, ROW_STAT.logSumP2]);
      save(logits ? [h, labels, shift, logits] : [h, labels, shift]);
      return {
        // Entropy and argmax ride along for the metrics; their upstream columns are never read.
        value: pick([ROW_STAT.logp, ROW_STAT.logitMean, ROW_STAT.logSumP2, ROW_STAT.entropy, ROW_STAT.argmax]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          if (pieces.some((p) => p.isDisposed)) {
            throw new Error(
              'scoreTokensFused: the head [V, d] was disposed before the backward pass; pass a weight that outlives the step',
            );
          }
          const [savedHidden, savedLabels, savedShift, savedLogits] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D?];
          return overRowBlocks(rows, plan.rowsPerChunk, (start, count) => {
            const lab = tf.slice(savedLabels, [start], [count]);
            const terms = blockTerms(
              tf.slice(dy as tf.Tensor2D, [start, 0], [count, -1]),
              tf.slice(savedShift, [start, 0], [count, -1]),
              lab,
              vocab,
            );
            if (savedLogits) return lmHeadHiddenGrad(selectiveLogSoftmaxGradKernel(savedLogits, lab, terms), pieces[0]);
            return blockHiddenGrad(tf.slice(savedHidden, [start, 0], [count, -1]), lab, terms, slices);
          });
        },
      };
    });
    return tf.tidy(() => {
      const [logp, logitMean, logSumP2, entropy, argmax] = tf.unstack(scored(hidden), 1) as tf.Tensor1D[];
      const scores: TokenScores = withWpo ? { logp, logitMean, entropy, argmax, logSumP2 } : { logp, logitMean, entropy, argmax };
      return scores as unknown as tf.TensorContainer;
    }) as unknown as TokenScores;
  };
}

/** The fused LM-head scorer with blocks planned from the device's limits. */
export const scoreTokensFused: SlicedHeadScorer = makeFusedScorer();
