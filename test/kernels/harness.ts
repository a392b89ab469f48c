/**
 * Kernel test harness: runs in Chromium on the webgpu backend and exposes `window.kernels` (see
 * harness-api.ts) for kernels.spec.ts. Each function draws fresh inputs from the seed it is given,
 * runs a fused kernel and its reference (the row statistics' float64 definitions forward, tf.grad of
 * the composed ops backward, tf.matMul for the head's products) and returns the comparison as plain
 * numbers.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { scoreTokensComposed } from '../../src/core/dpo/logps';
import { Rng } from '../../src/core/random';
import {
  logSoftmaxRowStats,
  logSoftmaxRowStatsComposed,
  makeFusedScorer,
  planLmHeadChunks,
  scoreTokensFused,
  scorerFor,
  selectiveLogSoftmax,
  type SlicedHeadScorer,
  selectiveLogSoftmaxComposed,
  type LogSoftmaxRowStats,
} from '../../src/core/kernels';
import { gradTerms, validLabels } from '../../src/core/kernels/selective-log-softmax';
import { runLmHeadHiddenGrad, runLmHeadLogits } from '../../src/core/kernels/lm-head-matmul-programs';
import {
  ROW_STAT,
  ROW_STAT_COLUMNS,
  runSelectiveLogSoftmax,
  runSelectiveLogSoftmaxGrad,
} from '../../src/core/kernels/selective-log-softmax-programs';
import type { Compared, Comparison, GradTarget, KernelApi, MetricName, RowKind, RowStatName, ScoreName, SoftmaxCase } from './harness-api';

const ROW_STAT_NAMES: RowStatName[] = ['logp', 'logSumExp', 'logitMean', 'logSumP2'];
const SCORE_NAMES: ScoreName[] = ['logp', 'logitMean', 'logSumP2'];
const HUGE = 1e4;
/**
 * Floor for statistics that are logs of float32 sums (log p, log Σe^z, log Σp²): a sum of V terms
 * carries a relative error of order √V·2⁻²⁴, which its log carries as an absolute error whatever the
 * log's own size; near 0 (one token holding most of the mass) a relative measure would read noise.
 */
const LOG_OF_SUM_FLOOR = 1;

/** relError = max |a − b| / max(max |b|, floor): a floor names the size of terms that cancel in b. */
function compare(actual: ArrayLike<number>, reference: ArrayLike<number>, floor = 0): Comparison {
  if (actual.length !== reference.length) throw new Error(`compare: ${actual.length} values against ${reference.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  let finite = true;
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i]) || !Number.isFinite(reference[i])) finite = false;
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - reference[i]));
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
  }
  return { relError: maxDiff / Math.max(maxRef, floor, 1e-30), maxAbsReference: maxRef, finite };
}

/** Compares row-major [rows, width] values over all rows and over the rows of each kind. */
function compareByKind(actual: ArrayLike<number>, reference: ArrayLike<number>, kinds: RowKind[], floors?: number[]): Compared {
  const width = actual.length / kinds.length;
  const floorOf = (rows: number[]) => (floors ? Math.max(...rows.map((r) => floors[r])) : 0);
  const allRows = kinds.map((_, r) => r);
  const out: Compared = {
    all: compare(actual, reference, floorOf(allRows)),
    normal: undefined,
    large: undefined,
    veryNegative: undefined,
    spike: undefined,
  };
  for (const kind of new Set(kinds)) {
    const a: number[] = [];
    const b: number[] = [];
    const rows: number[] = [];
    kinds.forEach((k, r) => {
      if (k !== kind) return;
      rows.push(r);
      for (let j = 0; j < width; j++) {
        a.push(actual[r * width + j]);
        b.push(reference[r * width + j]);
      }
    });
    out[kind] = compare(a, b, floorOf(rows));
  }
  return out;
}

interface SoftmaxInputs {
  logits: tf.Tensor2D;
  /** The logits' float32 values on the host, row-major [rows, vocab]. */
  values: Float32Array;
  /** Labels on the host (−100 and V are outside the vocabulary). */
  labelValues: Int32Array;
  /** max_v softmax(z)_v per row, in float64 from the host values. */
  maxProb: number[];
  labels: tf.Tensor1D;
  kinds: RowKind[];
}

function drawSoftmaxInputs(c: SoftmaxCase): SoftmaxInputs {
  const rng = new Rng(c.seed);
  const values = new Float32Array(c.rows * c.vocab);
  const labels = new Int32Array(c.rows);
  const kinds: RowKind[] = [];
  for (let r = 0; r < c.rows; r++) {
    const kind = c.rowKinds[r % c.rowKinds.length];
    kinds.push(kind);
    const offset = kind === 'large' ? HUGE : kind === 'veryNegative' ? -HUGE : 0;
    for (let v = 0; v < c.vocab; v++) values[r * c.vocab + v] = offset + 3 * rng.normal();
    if (kind === 'spike') values[r * c.vocab + rng.int(c.vocab)] = HUGE;
    labels[r] = rng.int(c.vocab);
    if (c.masked && r % 3 === 2) labels[r] = -100;
    if (c.masked && r === 1) labels[r] = c.vocab;
  }
  const maxProb = Array.from({ length: c.rows }, (_, r) => {
    const row = values.subarray(r * c.vocab, (r + 1) * c.vocab);
    const m = Math.max(...row);
    return 1 / row.reduce((s, v) => s + Math.exp(v - m), 0);
  });
  return {
    logits: tf.tensor2d(values, [c.rows, c.vocab]),
    values,
    labelValues: labels,
    maxProb,
    labels: tf.tensor1d(labels, 'int32'),
    kinds,
  };
}

/**
 * The row statistics from their definitions, in float64 over the same float32 logits: log p(label) (0
 * for a label outside [0, V)), log Σ_v e^{z_v}, mean_v z_v and log Σ_v p_v².
 */
function rowStatsFloat64(values: Float32Array, labels: Int32Array, vocab: number): Record<RowStatName, number[]> {
  const out: Record<RowStatName, number[]> = { logp: [], logSumExp: [], logitMean: [], logSumP2: [] };
  for (let r = 0; r < labels.length; r++) {
    const row = Array.from(values.subarray(r * vocab, (r + 1) * vocab));
    const m = Math.max(...row);
    const logSumExp = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
    const label = labels[r];
    out.logp.push(label >= 0 && label < vocab ? row[label] - logSumExp : 0);
    out.logSumExp.push(logSumExp);
    out.logitMean.push(row.reduce((s, z) => s + z, 0) / vocab);
    out.logSumP2.push(Math.log(row.reduce((s, z) => s + Math.exp(2 * (z - logSumExp)), 0)));
  }
  return out;
}

/**
 * The metric columns from their definitions, in float64 over the same float32 logits: the entropy
 * −Σ p log p, and the first index of the row maximum (as torch.argmax), plus 1.
 */
function rowMetricsFloat64(values: Float32Array, vocab: number): Record<MetricName, number[]> {
  const out: Record<MetricName, number[]> = { entropy: [], argmax: [] };
  for (let r = 0; r < values.length / vocab; r++) {
    const row = Array.from(values.subarray(r * vocab, (r + 1) * vocab));
    let first = 0;
    for (let v = 1; v < vocab; v++) if (row[v] > row[first]) first = v;
    const logSumExp = row[first] + Math.log(row.reduce((s, z) => s + Math.exp(z - row[first]), 0));
    out.entropy.push(-row.reduce((s, z) => s + Math.exp(z - logSumExp) * (z - logSumExp), 0));
    out.argmax.push(first + 1);
  }
  return out;
}

/** Per-row floors for each row statistic (see LOG_OF_SUM_FLOOR; a logit mean against mean |logit|). */
function rowStatFloors(meanAbsLogit: number[]): Record<RowStatName, number[]> {
  const logFloor = meanAbsLogit.map(() => LOG_OF_SUM_FLOOR);
  return { logp: logFloor, logSumExp: logFloor, logitMean: meanAbsLogit, logSumP2: logFloor };
}

/** Random upstream weights [N] for the statistics a target differentiates (never all zero). */
function upstream<Name extends string>(names: Name[], target: GradTarget<Name>, rows: number, rng: Rng): Map<Name, tf.Tensor1D> {
  const weights = new Map<Name, tf.Tensor1D>();
  for (const name of names) {
    if (target !== 'all' && target !== name) continue;
    weights.set(name, tf.tensor1d(Array.from({ length: rows }, () => 0.5 + rng.next()).map((w) => (rng.next() < 0.5 ? -w : w))));
  }
  return weights;
}

function weightedSum<Name extends string>(values: Record<Name, tf.Tensor1D | undefined>, weights: Map<Name, tf.Tensor1D>): tf.Scalar {
  let total: tf.Scalar = tf.scalar(0);
  for (const [name, w] of weights) {
    const v = values[name];
    if (!v) throw new Error(`weightedSum: no ${name} to weigh`);
    total = tf.add(total, tf.sum(tf.mul(v, w)));
  }
  return total;
}

/** Fills the buffer pool with NaN buffers of these shapes, so the next outputs of those sizes start poisoned. */
async function poisonPool(shapes: number[][], copies = 3): Promise<void> {
  const poison = shapes.flatMap((shape) => Array.from({ length: copies }, () => tf.fill(shape, NaN)));
  await Promise.all(poison.map((t) => t.data()));
  poison.forEach((t) => t.dispose());
}

function webgpu(): WebGPUBackend {
  return tf.backend() as WebGPUBackend;
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

async function readStats(stats: LogSoftmaxRowStats): Promise<Record<RowStatName, Float32Array>> {
  return {
    logp: await read(stats.logp),
    logSumExp: await read(stats.logSumExp),
    logitMean: await read(stats.logitMean),
    logSumP2: await read(stats.logSumP2),
  };
}

function disposeAll(container: object): void {
  tf.dispose(container as unknown as tf.TensorContainer);
}

/** A program that writes nothing: what a broken kernel would leave in its output. */
class SilentProgram implements WebGPUProgram {
  variableNames: string[] = [];
  outputShape: number[];
  shaderKey = 'harnessSilent';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number] = [1, 1, 1];
  workgroupSize: [number, number, number] = [64, 1, 1];
  constructor(rows: number) {
    this.outputShape = [rows, ROW_STAT_COLUMNS];
  }
  getUserCode(): string {
    return 'fn main(index : i32) {}';
  }
}

const api: KernelApi = {
  async ready() {
    await tf.setBackend('webgpu');
    await tf.ready();
    const backend = webgpu();
    const info = backend.device.adapterInfo;
    return {
      backend: tf.getBackend(),
      adapter: `${info?.vendor ?? '?'} ${info?.architecture ?? '?'}`,
      maxStorageBufferBindingSize: backend.device.limits.maxStorageBufferBindingSize,
    };
  },

  async silentProgramReadsPoison(rows) {
    await poisonPool([[rows, ROW_STAT_COLUMNS]]);
    const out = tf.engine().makeTensorFromTensorInfo(webgpu().runWebGPUProgram(new SilentProgram(rows), [], 'float32'));
    const values = await read(out);
    out.dispose();
    return { nan: values.filter((v) => Number.isNaN(v)).length, size: values.length };
  },

  async forwardProgram(c) {
    const { logits, labels, kinds, values, labelValues } = drawSoftmaxInputs(c);
    const poisoned = tf.fill([c.rows, ROW_STAT_COLUMNS], NaN);
    runSelectiveLogSoftmax(webgpu(), logits, labels, poisoned, c.invocationsPerRow);
    const packed = await read(poisoned);
    const column = (k: number) => Array.from({ length: c.rows }, (_, r) => packed[r * ROW_STAT_COLUMNS + k]);
    const fused: Record<RowStatName, number[]> = {
      logp: column(ROW_STAT.logp),
      logSumExp: column(ROW_STAT.max).map((m, r) => m + packed[r * ROW_STAT_COLUMNS + ROW_STAT.logS1]),
      logitMean: column(ROW_STAT.logitMean),
      logSumP2: column(ROW_STAT.logSumP2),
    };
    const metrics = rowMetricsFloat64(values, c.vocab);
    const fusedEntropy = column(ROW_STAT.entropy);
    const fusedArgmax = column(ROW_STAT.argmax).map((a) => a + 1);
    const composedStats = logSoftmaxRowStatsComposed(logits, labels);
    const composed = await readStats(composedStats);
    const ref = rowStatsFloat64(values, labelValues, c.vocab);
    const meanAbs = tf.tidy(() => tf.mean(tf.abs(logits), 1));
    const floors = rowStatFloors(Array.from(await read(meanAbs)));
    disposeAll({ logits, labels, poisoned, composedStats, meanAbs });
    return {
      ...Object.fromEntries(
        ROW_STAT_NAMES.flatMap((n) => [
          [n, compareByKind(fused[n], ref[n], kinds, floors[n])],
          [`composed ${n}`, compareByKind(composed[n], ref[n], kinds, floors[n])],
        ]),
      ),
      // An entropy is a log of a sum less a mean of logs: float32 resolves it to that sum's floor.
      entropy: compareByKind(fusedEntropy, metrics.entropy, kinds, floors.logSumExp),
      // Any index off by one is a relative error of at least 1/V, far above the tolerance.
      argmax: compareByKind(fusedArgmax, metrics.argmax, kinds),
    } as Record<RowStatName | `composed ${RowStatName}` | MetricName, Compared>;
  },

  async backwardProgram(c) {
    const { logits, labels, kinds, maxProb } = drawSoftmaxInputs(c);
    const rng = new Rng(c.seed ^ 0x5eed);
    const stats = tf.engine().makeTensorFromTensorInfo(runSelectiveLogSoftmax(webgpu(), logits, labels)) as tf.Tensor2D;
    const cols = tf.unstack(stats, 1) as tf.Tensor1D[];
    const valid = validLabels(labels, 0, c.vocab);
    const out: Partial<Record<GradTarget<RowStatName>, Compared>> = {};
    for (const target of [...ROW_STAT_NAMES, 'all'] as const) {
      const weights = upstream(ROW_STAT_NAMES, target, c.rows, rng);
      const terms = gradTerms(
        {
          logp: weights.get('logp') ?? null,
          logSumExp: weights.get('logSumExp') ?? null,
          logitMean: weights.get('logitMean') ?? null,
          logSumP2: weights.get('logSumP2') ?? null,
        },
        { max: cols[ROW_STAT.max], logS1: cols[ROW_STAT.logS1], logSumP2: cols[ROW_STAT.logSumP2] },
        valid,
        c.vocab,
      );
      const poisoned = tf.fill([c.rows, c.vocab], NaN);
      runSelectiveLogSoftmaxGrad(webgpu(), logits, labels, terms, poisoned, c.rowsPerDispatchDimension);
      const fused = await read(poisoned);
      const reference = tf.grad((x: tf.Tensor) => {
        const s = logSoftmaxRowStatsComposed(x as tf.Tensor2D, labels);
        return weightedSum(s as unknown as Record<RowStatName, tf.Tensor1D>, weights);
      })(logits);
      // Each gradient entry sums terms of size up to 2·|w|·max p (e.g. 2w(q − p) for log Σp², which
      // cancels when one token dominates); float32 cannot resolve a residue below that size.
      const w = await Promise.all([...weights.values()].map((t) => read(t)));
      const floors = maxProb.map((m, r) => 2 * m * w.reduce((s, ws) => s + Math.abs(ws[r]), 0));
      out[target] = compareByKind(fused, await read(reference), kinds, floors);
      disposeAll({ weights: [...weights.values()], terms, poisoned, reference });
    }
    disposeAll({ logits, labels, stats, cols, valid });
    return out as Record<GradTarget<RowStatName>, Compared>;
  },

  async registeredOps(c) {
    const { logits, labels, kinds, values, labelValues } = drawSoftmaxInputs(c);
    const rng = new Rng(c.seed ^ 0x0b5);
    await poisonPool([[c.rows, ROW_STAT_COLUMNS]]);
    const fusedStats = logSoftmaxRowStats(logits, labels);
    const fused = await readStats(fusedStats);
    const ref = rowStatsFloat64(values, labelValues, c.vocab);
    const meanAbs = tf.tidy(() => tf.mean(tf.abs(logits), 1));
    const floors = rowStatFloors(Array.from(await read(meanAbs)));
    const forward = Object.fromEntries(ROW_STAT_NAMES.map((n) => [n, compareByKind(fused[n], ref[n], kinds, floors[n])])) as Record<
      RowStatName,
      Compared
    >;

    await poisonPool([[c.rows, ROW_STAT_COLUMNS]]);
    const logp = selectiveLogSoftmax(logits, labels);
    const selective = compareByKind(await read(logp), ref.logp, kinds, floors.logp);

    const grad: Partial<Record<GradTarget<RowStatName>, Compared>> = {};
    for (const target of [...ROW_STAT_NAMES, 'all'] as const) {
      const weights = upstream(ROW_STAT_NAMES, target, c.rows, rng);
      // log p alone goes through selectiveLogSoftmax (one column of the kernel), the rest through all.
      const loss = (statsOf: typeof logSoftmaxRowStats, logpOf: typeof selectiveLogSoftmax) => (x: tf.Tensor) =>
        target === 'logp'
          ? weightedSum({ logp: logpOf(x as tf.Tensor2D, labels) }, weights as Map<'logp', tf.Tensor1D>)
          : weightedSum(statsOf(x as tf.Tensor2D, labels) as unknown as Record<RowStatName, tf.Tensor1D>, weights);
      await poisonPool([[c.rows, c.vocab]]);
      const fusedGrad = tf.grad(loss(logSoftmaxRowStats, selectiveLogSoftmax))(logits);
      const fusedValues = await read(fusedGrad);
      const referenceGrad = tf.grad(loss(logSoftmaxRowStatsComposed, selectiveLogSoftmaxComposed))(logits);
      grad[target] = compareByKind(fusedValues, await read(referenceGrad), kinds);
      disposeAll({ weights: [...weights.values()], fusedGrad, referenceGrad });
    }
    disposeAll({ logits, labels, fusedStats, meanAbs, logp });
    return { forward, selectiveLogSoftmax: selective, grad: grad as Record<GradTarget<RowStatName>, Compared> };
  },

  async lmHeadMatmul(c) {
    const rng = new Rng(c.seed);
    const normals = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal());
    const hidden = tf.tensor2d(normals(c.rows * c.hiddenSize, 1), [c.rows, c.hiddenSize]);
    const head = tf.tensor2d(normals(c.vocab * c.hiddenSize, 1 / Math.sqrt(c.hiddenSize)), [c.vocab, c.hiddenSize]);
    const dlogits = tf.tensor2d(normals(c.rows * c.vocab, 1 / c.vocab), [c.rows, c.vocab]);
    // A label-like spike per row, as real dlogits have (onehot − softmax).
    const spikes = tf.oneHot(
      tf.tensor1d(
        Int32Array.from({ length: c.rows }, () => rng.int(c.vocab)),
        'int32',
      ),
      c.vocab,
    );
    const dlogitsSpiked = tf.sub(dlogits, spikes) as tf.Tensor2D;
    const logits = tf.fill([c.rows, c.vocab], NaN);
    runLmHeadLogits(webgpu(), hidden, head, logits);
    const hiddenGrad = tf.fill([c.rows, c.hiddenSize], NaN);
    runLmHeadHiddenGrad(webgpu(), dlogitsSpiked, head, hiddenGrad);
    return {
      logits: compare(await read(logits), await read(tf.matMul(hidden, head, false, true))),
      hiddenGrad: compare(await read(hiddenGrad), await read(tf.matMul(dlogitsSpiked, head))),
    };
  },

  async lmHead(c) {
    const rng = new Rng(c.seed);
    const hidden = tf.tensor2d(
      Float32Array.from({ length: c.rows * c.hiddenSize }, () => rng.normal()),
      [c.rows, c.hiddenSize],
    );
    const scale = 2 / Math.sqrt(c.hiddenSize);
    const headValues = Float32Array.from({ length: c.vocab * c.hiddenSize }, () => scale * rng.normal());
    const head = tf.tensor2d(headValues, [c.vocab, c.hiddenSize]);
    const sliceRows = c.headSliceRows ?? [c.vocab];
    if (sliceRows.reduce((a, b) => a + b, 0) !== c.vocab)
      throw new Error(`lmHead: head slices ${sliceRows.join(' + ')} do not make V = ${c.vocab}`);
    // Slices are built from host values, as a model too large for one binding would hold them.
    const sliceStarts = sliceRows.map((_, i) => sliceRows.slice(0, i).reduce((a, b) => a + b, 0));
    const pieces = c.headSliceRows
      ? sliceRows.map((r, i) =>
          tf.tensor2d(headValues.subarray(sliceStarts[i] * c.hiddenSize, (sliceStarts[i] + r) * c.hiddenSize), [r, c.hiddenSize]),
        )
      : [head];
    const fusedHead = c.headSliceRows ? pieces : head;
    // Labels on both edges of every slice first (the merge must pick each slice's own), then random.
    const edges = sliceStarts.flatMap((start, i) => [start, start + sliceRows[i] - 1]);
    const labels = tf.tensor1d(
      Int32Array.from({ length: c.rows }, (_, r) => (c.headSliceRows && r < edges.length ? edges[r] : rng.int(c.vocab))),
      'int32',
    );
    const fusedScorer = makeFusedScorer(c.chunking);
    const plan = planLmHeadChunks(
      c.rows,
      Math.max(...sliceRows),
      c.hiddenSize,
      webgpu().device.limits.maxStorageBufferBindingSize,
      c.chunking,
    );

    // Every block shape the kernels write, poisoned.
    const rowCounts = new Set([plan.rowsPerChunk, c.rows % plan.rowsPerChunk || plan.rowsPerChunk]);
    const widths = new Set(sliceRows.flatMap((r) => [Math.min(r, plan.vocabPerChunk), r % plan.vocabPerChunk || plan.vocabPerChunk]));
    const blockShapes = [...rowCounts].flatMap((n) => [[n, ROW_STAT_COLUMNS], [n, c.hiddenSize], ...[...widths].map((w) => [n, w])]);

    await poisonPool(blockShapes, 2);
    const fusedScores = fusedScorer(hidden, fusedHead, labels, true);
    const referenceScores = scoreTokensComposed(hidden, head, labels, true);
    // A row's logit mean sums V terms that cancel: its error is measured against their size, mean |logit|.
    const meanAbsLogit = tf.tidy(() => tf.max(tf.mean(tf.abs(tf.matMul(hidden, head, false, true)), 1)));
    const floors: Record<ScoreName, number> = {
      logp: LOG_OF_SUM_FLOOR,
      logitMean: (await read(meanAbsLogit))[0],
      logSumP2: LOG_OF_SUM_FLOOR,
    };
    meanAbsLogit.dispose();
    const forward = {} as Record<ScoreName | MetricName, Comparison>;
    for (const name of SCORE_NAMES) {
      const a = fusedScores[name];
      const b = referenceScores[name];
      if (!a || !b) throw new Error(`lmHead: ${name} missing from the scores`);
      forward[name] = compare(await read(a), await read(b), floors[name]);
    }
    // The metric outputs against the same definitions in float64 over the head's float32 logits.
    const logitsTensor = tf.matMul(hidden, head, false, true);
    const logitsValues = await read(logitsTensor);
    logitsTensor.dispose();
    const metricRef = rowMetricsFloat64(logitsValues, c.vocab);
    forward.entropy = compare(await read(fusedScores.entropy), metricRef.entropy, LOG_OF_SUM_FLOOR);
    // The head's products round differently in the fused and composed matMuls: the fused argmax must
    // hold the row's largest logit up to that rounding (exact ties are the ties test's).
    const fusedArgmax = await read(fusedScores.argmax);
    const logitAt = (r: number, v: number) => logitsValues[r * c.vocab + v];
    forward.argmax = compare(
      Array.from(fusedArgmax, (v, r) => logitAt(r, v)),
      metricRef.argmax.map((v, r) => logitAt(r, v - 1)),
    );
    const withoutWpo = fusedScorer(hidden, fusedHead, labels, false);
    const wpoFieldOnlyWhenAsked = withoutWpo.logSumP2 === undefined && withoutWpo.logp.shape[0] === c.rows;

    const grad = {} as Record<GradTarget<ScoreName>, Comparison>;
    const composedScorer: SlicedHeadScorer = (h, _head, l, wpo) => scoreTokensComposed(h, head, l, wpo);
    const lossOf = (scorer: SlicedHeadScorer, weights: Map<ScoreName, tf.Tensor1D>) => (h: tf.Tensor) =>
      weightedSum(scorer(h as tf.Tensor2D, fusedHead, labels, true) as unknown as Record<ScoreName, tf.Tensor1D>, weights);
    for (const target of [...SCORE_NAMES, 'all'] as const) {
      const weights = upstream(SCORE_NAMES, target, c.rows, rng);
      await poisonPool(blockShapes, 2);
      const fusedGrad = tf.grad(lossOf(fusedScorer, weights))(hidden);
      const fusedValues = await read(fusedGrad);
      const referenceGrad = tf.grad(lossOf(composedScorer, weights))(hidden);
      grad[target] = compare(fusedValues, await read(referenceGrad));
      disposeAll({ weights: [...weights.values()], fusedGrad, referenceGrad });
    }

    const allWeights = upstream(SCORE_NAMES, 'all', c.rows, rng);
    const headGradientFrom = (scorer: SlicedHeadScorer, headTensors: tf.Tensor[]) =>
      tf.tidy(() => {
        const { grads } = tf.engine().gradients(() => lossOf(scorer, allWeights)(hidden), [hidden, ...headTensors], undefined, true);
        return grads.slice(1).some((g) => g != null);
      });
    const headGradient = { fused: headGradientFrom(fusedScorer, pieces), composed: headGradientFrom(composedScorer, [head]) };

    const tensorsBefore = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grad(lossOf(fusedScorer, allWeights))(hidden);
    });
    const leakedTensors = tf.memory().numTensors - tensorsBefore;

    const peakAbove = async (scorer: SlicedHeadScorer) => {
      const start = tf.memory().numBytes;
      const info = await tf.profile(() => tf.tidy(() => tf.grad(lossOf(scorer, allWeights))(hidden)));
      tf.dispose(info.result);
      return info.peakBytes - start;
    };
    const peakBytes = {
      fused: await peakAbove(fusedScorer),
      composed: await peakAbove(composedScorer),
      fullLogits: c.rows * c.vocab * 4,
    };

    disposeAll({ hidden, head, pieces, labels, fusedScores, referenceScores, withoutWpo, allWeights: [...allWeights.values()] });
    return { plan, forward, grad, wpoFieldOnlyWhenAsked, headGradient, leakedTensors, peakBytes };
  },

  async choices() {
    const errorOf = (fn: () => unknown): string => {
      try {
        fn();
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    const logits = tf.tensor2d([[1, 2, 3]]);
    const floatLabels = tf.tensor1d([1]);
    const empty = {
      hidden: tf.zeros([0, 4]) as tf.Tensor2D,
      head: tf.ones([5, 4]) as tf.Tensor2D,
      labels: tf.zeros([0], 'int32') as tf.Tensor1D,
    };
    const noPositions = scoreTokensFused(empty.hidden, empty.head, empty.labels, true);
    // Tied maxima: the first index wins, as torch.argmax, in the kernel (vec4 rows of 4 and scalar rows
    // of 5) and across vocabulary slices of 2 (hidden · Iᵀ gives the logits back exactly).
    const tiesPickFirst = async (rows: number[][], expected: number[]) => {
      const vocab = rows[0].length;
      const hidden = tf.tensor2d(rows);
      const identity = tf.eye(vocab) as tf.Tensor2D;
      const labels = tf.zeros([rows.length], 'int32') as tf.Tensor1D;
      const whole = tf.engine().makeTensorFromTensorInfo(runSelectiveLogSoftmax(webgpu(), hidden, labels)) as tf.Tensor2D;
      const kernel = await read(tf.gather(whole, [ROW_STAT.argmax], 1));
      const sliced = makeFusedScorer({ vocabPerChunk: 2 })(hidden, identity, labels, false);
      const merged = await read(sliced.argmax);
      disposeAll({ hidden, identity, labels, whole, sliced });
      return [...kernel].join() === expected.join() && [...merged].join() === expected.join();
    };
    const ties = {
      vec4: await tiesPickFirst(
        [
          [1, 5, 5, 2],
          [7, 7, 7, 7],
          [0, 1, 2, 9],
        ],
        [1, 0, 3],
      ),
      scalar: await tiesPickFirst(
        [
          [0, 3, 9, 9, 9],
          [4, 4, 1, 4, 0],
          [-1, -1, -1, -1, -1],
        ],
        [2, 0, 0],
      ),
    };
    const out = {
      webgpuAutoIsFused: scorerFor('webgpu', 'auto') === scoreTokensFused,
      webgpuFusedIsFused: scorerFor('webgpu', 'fused') === scoreTokensFused,
      webgpuComposedIsComposed: scorerFor('webgpu', 'composed') === scoreTokensComposed,
      cpuAutoIsComposed: scorerFor('cpu', 'auto') === scoreTokensComposed,
      cpuFusedError: errorOf(() => scorerFor('cpu', 'fused')),
      floatLabelsError: errorOf(() => selectiveLogSoftmax(logits, floatLabels as tf.Tensor1D)),
      oversizedBlockError: errorOf(() => planLmHeadChunks(8, 1000, 16, 4096, { rowsPerChunk: 8 })),
      // A [5, 4] head is 80 bytes: one tensor over a 64-byte binding cannot be read by any shader.
      wholeHeadOverBindingError: errorOf(() =>
        tf.tidy(() => {
          makeFusedScorer({ maxBindingBytes: 64 })(
            tf.ones([1, 4]) as tf.Tensor2D,
            empty.head,
            tf.zeros([1], 'int32') as tf.Tensor1D,
            false,
          );
        }),
      ),
      noPositionsGiveEmptyScores: noPositions.logp.shape[0] === 0 && noPositions.logSumP2?.shape[0] === 0,
      argmaxTiesPickFirstVec4: ties.vec4,
      argmaxTiesPickFirstScalar: ties.scalar,
    };
    disposeAll({ logits, floatLabels, empty, noPositions });
    return out;
  },
};

window.kernels = api;
document.body.dataset.ready = 'true';
