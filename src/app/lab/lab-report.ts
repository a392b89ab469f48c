/** The corruption exercise's figures, and the markdown report a student hands in. */
import type { PreferenceRow, Text } from '../../core/data/types';
import type { PairGradient } from '../../core/dpo/pair-gradients';
import type { LogEntry } from '../../core/dpo/trainer';
import { formatSetting } from '../format';

export const LN2 = Math.log(2);

/** What a run's training log says, in the terms the exercise discusses. */
export interface RunFigures {
  /** Logged training steps. */
  steps: number;
  finalLoss: number;
  meanLoss: number;
  /** max over steps of |loss − ln 2|. */
  maxLossGap: number;
  finalMargin: number;
  meanMargin: number;
  maxAbsMargin: number;
  finalAccuracy: number;
  meanAccuracy: number;
  gradNormMin: number;
  gradNormMax: number;
  gradNormMean: number;
}

/** Figures over the training entries of a history (eval entries are left out); null before any step. */
export function runFigures(history: LogEntry[]): RunFigures | null {
  const train = history.filter((e) => typeof e.loss === 'number');
  if (train.length === 0) return null;
  const values = (key: string) => train.map((e) => e[key]).filter((v): v is number => typeof v === 'number');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const last = (xs: number[]) => xs[xs.length - 1] ?? NaN;
  const loss = values('loss');
  const margins = values('rewards/margins');
  const accuracy = values('rewards/accuracies');
  const grad = values('grad_norm');
  return {
    steps: train.length,
    finalLoss: last(loss),
    meanLoss: mean(loss),
    maxLossGap: Math.max(...loss.map((v) => Math.abs(v - LN2))),
    finalMargin: last(margins),
    meanMargin: mean(margins),
    maxAbsMargin: Math.max(...margins.map(Math.abs)),
    finalAccuracy: last(accuracy),
    meanAccuracy: mean(accuracy),
    gradNormMin: Math.min(...grad),
    gradNormMax: Math.max(...grad),
    gradNormMean: mean(grad),
  };
}

/** A number for the report: enough digits to compare with ln 2, exponents for the tiny ones. */
export function reportNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(2);
  return String(Number(v.toPrecision(6)));
}

/** One line of text for a prompt or an answer (the last message's content for conversations). */
export function plainText(value: Text): string {
  return typeof value === 'string' ? value : (value[value.length - 1]?.content ?? '');
}

/** A measured pair with where it came from. */
export interface MeasuredPair {
  row: PreferenceRow;
  /** Set for the clean original of a pair the corrupted run saw corrupted (not trained on as it is). */
  originalOf: number | null;
  measured: PairGradient;
}

export interface CorruptionReportInput {
  date: Date;
  model: string;
  cleanDataset: string;
  corruptedDataset: string;
  corruptedCount: number;
  totalPairs: number;
  fraction: number;
  corruptionSeed: number;
  config: {
    beta: number;
    loss_type: string[];
    learning_rate: number;
    per_device_train_batch_size: number;
    max_steps: number;
    seed: number;
    lr_scheduler_type: string;
    max_grad_norm: number;
  };
  lora: { r: number; lora_alpha: number };
  clean: RunFigures;
  corrupted: RunFigures;
  table: { policy: string; pairs: MeasuredPair[] } | null;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

function percent(f: number): string {
  return `${Math.round(f * 100)}%`;
}

/** The "what it implies" paragraphs, from the measured figures. */
export function corruptionFindings(input: Pick<CorruptionReportInput, 'fraction' | 'config' | 'clean' | 'corrupted' | 'table'>): string[] {
  const { fraction, clean, corrupted, config } = input;
  const half = config.beta / 2;
  const out: string[] = [];
  const corruptedPairs = input.table?.pairs.filter((p) => p.measured.identical) ?? [];
  const cleanPairs = input.table?.pairs.filter((p) => !p.measured.identical) ?? [];
  const maxCorruptedGrad = Math.max(0, ...corruptedPairs.map((p) => p.measured.gradNorm));
  const cleanGrads = cleanPairs.map((p) => p.measured.gradNorm);
  if (fraction >= 1) {
    out.push(
      `With every rejected answer equal to its chosen answer the preference carries no information. The loss stayed at ln 2 ` +
        `(largest gap ${reportNumber(corrupted.maxLossGap)} over ${corrupted.steps} steps), the margins stayed at ${reportNumber(corrupted.maxAbsMargin)} ` +
        `and the accuracy at ${reportNumber(corrupted.meanAccuracy)}: a tie is not a win (TRL counts chosen > rejected strictly).`,
    );
    if (corrupted.gradNormMax > 0) {
      out.push(
        `The logged grad_norm was not exactly 0 but at most ${reportNumber(corrupted.gradNormMax)}: float32 rounding where the batch's rows are summed. ` +
          `AdamW divides each step by the gradient's running size, so even this noise nudges the adapter a little, in no useful direction.`,
      );
    }
  } else {
    out.push(
      `With ${percent(fraction)} of the pairs corrupted the loss left ln 2 (final ${reportNumber(corrupted.finalLoss)}, against ${reportNumber(clean.finalLoss)} for the clean run): ` +
        `the clean pairs carry all of the signal. A batch's accuracy cannot pass its share of clean pairs, because every corrupted pair is a tie ` +
        `(mean ${reportNumber(corrupted.meanAccuracy)} against ${reportNumber(clean.meanAccuracy)} for the clean run).`,
    );
  }
  out.push(
    `The loss is not flat at Δ = 0: its slope there is |∂ℓ/∂Δ| = β/2 = ${reportNumber(half)}, half the largest slope the sigmoid loss has ` +
      `(β, approached when the model strongly prefers the rejected answer). ` +
      `The gradient that reaches the weights is that slope times ∇(log π(chosen) − log π(rejected)), and for identical answers the two gradients are ` +
      `the same vector, so the product is exactly zero` +
      (corruptedPairs.length > 0
        ? ` (measured on ${corruptedPairs.length} corrupted pairs: largest ‖∇ℓ‖ = ${reportNumber(maxCorruptedGrad)})`
        : '') +
      (cleanGrads.length > 0
        ? `, while clean pairs at a similar slope sent ‖∇ℓ‖ between ${reportNumber(Math.min(...cleanGrads))} and ${reportNumber(Math.max(...cleanGrads))}.`
        : '.'),
  );
  out.push(
    `So a pair's gradient magnitude depends on how differently the model sees its two answers as much as on how wrong the model is about it. ` +
      `An ambiguous pair, one whose answers are the same or nearly the same, sends little or no gradient however steep the loss is; a loss curve pinned at ln 2 ` +
      `with grad_norm ≈ 0 from the first step (here at most ${reportNumber(corrupted.gradNormMax)}, against ${reportNumber(clean.gradNormMin)}–${reportNumber(clean.gradNormMax)} for the clean run) ` +
      `points at the data, not at the model. Anything that makes the two rows compute differently (dropout, different truncation, non-deterministic kernels) would leak gradient at slope β/2.`,
  );
  if (fraction < 1) {
    const ratio = clean.gradNormMean > 0 ? corrupted.gradNormMean / clean.gradNormMean : NaN;
    out.push(
      `In a mixed batch the corrupted pairs add zero gradient but still count in the batch mean, so the gradient is diluted by the clean share: ` +
        `mean grad_norm ${reportNumber(corrupted.gradNormMean)} against ${reportNumber(clean.gradNormMean)} (ratio ${reportNumber(ratio)}; the clean share is ${reportNumber(1 - fraction)}). ` +
        `Under plain SGD that is a learning rate ${reportNumber(1 - fraction)}× as large; AdamW divides by a running estimate of the gradient's size, ` +
        `which undoes much of a steady dilution, so what remains is fewer informative pairs per step and noisier steps.`,
    );
  }
  return out;
}

/** The exercise as a short markdown report: setup, the figures of both runs, the per-pair table, findings. */
export function corruptionReport(input: CorruptionReportInput): string {
  const { config, clean, corrupted } = input;
  const lines: string[] = [];
  lines.push('# DPO with ambiguous preferences: the corruption exercise', '');
  lines.push(`*DPO Studio, ${input.date.toISOString().slice(0, 16).replace('T', ' ')} UTC*`, '');
  lines.push(
    'Task: train with DPO on a small preference set and watch the loss; then make the rejected answer identical to the chosen one, ' +
      'train again with the same seed, and explain what happens to the loss and the gradients.',
    '',
  );
  lines.push('## Setup', '', '| | |', '|---|---|');
  lines.push(`| Model | ${cell(input.model)} with a LoRA adapter (r ${input.lora.r}, alpha ${input.lora.lora_alpha}) |`);
  lines.push(`| Clean data | ${cell(input.cleanDataset)}, ${input.totalPairs} pairs |`);
  lines.push(
    `| Corrupted data | ${cell(input.corruptedDataset)}: rejected := chosen on ${input.corruptedCount} of ${input.totalPairs} pairs (${percent(input.fraction)}, seed ${input.corruptionSeed}) |`,
  );
  lines.push(`| Loss | ${config.loss_type.join(' + ')}, β = ${config.beta} |`);
  lines.push(
    `| Optimizer | AdamW, learning rate ${formatSetting(config.learning_rate)}, ${config.lr_scheduler_type} schedule, max_grad_norm ${config.max_grad_norm} |`,
  );
  lines.push(`| Steps | ${config.max_steps} of batch ${config.per_device_train_batch_size} |`);
  lines.push(`| Seed | ${config.seed}, the same for both runs |`, '');

  lines.push('## Measured', '', '| | clean run | corrupted run |', '|---|---:|---:|');
  const row = (label: string, f: (r: RunFigures) => string) => lines.push(`| ${label} | ${f(clean)} | ${f(corrupted)} |`);
  row('logged steps', (r) => String(r.steps));
  row('final loss', (r) => reportNumber(r.finalLoss));
  row('mean loss', (r) => reportNumber(r.meanLoss));
  row('largest \\|loss − ln 2\\|', (r) => reportNumber(r.maxLossGap));
  row('final / mean rewards/margins', (r) => `${reportNumber(r.finalMargin)} / ${reportNumber(r.meanMargin)}`);
  row('final / mean rewards/accuracies', (r) => `${reportNumber(r.finalAccuracy)} / ${reportNumber(r.meanAccuracy)}`);
  row('grad_norm min – max', (r) => `${reportNumber(r.gradNormMin)} – ${reportNumber(r.gradNormMax)}`);
  row('grad_norm mean', (r) => reportNumber(r.gradNormMean));
  lines.push('', `ln 2 = ${LN2.toFixed(6)}. Accuracy counts a pair only when chosen's reward is strictly greater than rejected's.`, '');

  if (input.table) {
    lines.push('## Per pair', '');
    lines.push(
      `Measured under ${cell(input.table.policy)}. Δ is how much more the policy than the reference prefers the chosen answer ` +
        "(log-ratio difference); the slope is |∂ℓ/∂Δ|, for sigmoid β·σ(−βΔ); ‖∇θ ℓ‖ is the L2 norm of the pair's gradient over every LoRA parameter.",
      '',
    );
    lines.push(
      '| line | prompt | chosen | rejected | kind | Δ | margin | loss | \\|∂ℓ/∂Δ\\| | ‖∇θ ℓ‖ |',
      '|---:|---|---|---|---|---:|---:|---:|---:|---:|',
    );
    for (const p of input.table.pairs) {
      const m = p.measured;
      const kind = m.identical ? 'corrupted' : p.originalOf !== null ? `clean (original of line ${p.originalOf})` : 'clean';
      lines.push(
        `| ${p.row.line} | ${cell(plainText(p.row.prompt))} | ${cell(plainText(p.row.chosen))} | ${cell(plainText(p.row.rejected))} | ${kind} | ` +
          `${reportNumber(m.logRatioDiff)} | ${reportNumber(m.margin)} | ${reportNumber(m.loss)} | ${reportNumber(Math.abs(m.slope))} | ${reportNumber(m.gradNorm)} |`,
      );
    }
    lines.push('');
  }

  lines.push('## What it implies about gradient magnitudes', '');
  for (const p of corruptionFindings(input)) lines.push(p, '');
  return lines.join('\n');
}
