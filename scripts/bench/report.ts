/**
 * The benchmark's results: the `--json` object (issue 3's shape first, then what makes it reproducible)
 * and the readable table.
 */
import { getArchitecture } from '../../src/core/model/architectures/registry';
import { parseModelConfig } from '../../src/core/model/config';
import { loraParameters, modelShapeOf, NO_DEVICE_LIMITS, planTrainingMemory } from '../../src/core/train/memory-plan';
import { stepFlops } from './flops';
import type { BenchPlan } from './plan';
import type {
  AdapterReport,
  DeviceLimits,
  Failure,
  KernelCase,
  KernelMeasured,
  KernelName,
  MatmulProbeResult,
  ModelName,
  Outcome,
  StepCase,
  StepMeasured,
} from './protocol';

export interface KernelRow {
  kernel: KernelName;
  N: number;
  V: number;
  /** Hidden size d of the LM head (0 for selective log-softmax). */
  d: number;
  /** The device's limits: the adapter's own, or WebGPU's defaults. */
  limits: DeviceLimits;
  fused_ms: number | null;
  composed_ms: number | null;
  fused_peak_bytes: number | null;
  composed_peak_bytes: number | null;
  fused_forward_ms: number | null;
  composed_forward_ms: number | null;
  /** Timed runs behind each path's median (0 where it did not run). */
  fused_runs: number;
  composed_runs: number;
  /** Row slices the fused path got the head in (1: one tensor; 0 for selective log-softmax). */
  fused_head_slices: number;
  /** Why a path has no figures (null when it ran). */
  fused_failure: string | null;
  composed_failure: string | null;
  /** Why a path ran fewer runs than planned (null when it ran them all). */
  fused_note: string | null;
  composed_note: string | null;
}

export interface StepRow {
  model: ModelName;
  layers: number;
  tokens: number;
  kernels: boolean;
  gradient_checkpointing: boolean;
  tokens_per_second: number | null;
  peak_bytes: number | null;
  /**
   * The studio's memory plan for the same step (core/train/memory-plan): weights, the LoRA parameters
   * and their gradients, and the step's activations and LM head. AdamW's moments are left out, as
   * the measured step has no optimizer update.
   */
  planned_bytes: number;
  efficiency: number | null;
  pairs: number;
  seq_len: number;
  scored_tokens: number;
  step_ms: number | null;
  /** Timed steps behind the median. */
  timed_runs: number;
  model_gflop: number;
  /** The fused kernels the step ran (empty with kernels off, or when it did not run). */
  fused_kernels: string[];
  failure: string | null;
}

export interface BenchReport {
  adapter: { vendor: string; architecture: string };
  matmul_gflops: number | null;
  kernels: KernelRow[];
  steps: StepRow[];
  mode: BenchPlan['mode'];
  /** What ran the backend: "Chromium 150.…" or "Node 20.… (Dawn)". */
  host: string;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  /** The device of the cases on WebGPU's default limits, as it reported them (null if none ran). */
  default_limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } | null;
  /** The host's 1-minute load average over the run: other work slows a CPU adapter down. */
  load_average: { min: number; max: number };
  matmul_probe: { n: number; median_ms: number } | { failure: string };
  lm_head_hidden: number;
  definitions: Record<string, string>;
}

const DEFINITIONS: Record<string, string> = {
  kernel_ms:
    'median wall time of the timed runs (fused_runs, composed_runs) after warm-up, forward and backward together (value and gradient w.r.t. the logits or hidden states), read-back of one element included; a case cut to one run has no warm-up (see fused_note, composed_note)',
  kernel_forward_ms: 'the same for the forward pass alone (what the reference pass runs)',
  kernel_peak_bytes:
    'peak of tf.memory().numBytesInGPU (GPU buffers held by tensors and queued work) during one forward + backward run, minus the bytes held before it: what the op needs above its inputs (logits and labels; hidden, head and labels)',
  step: 'reference forward (adapter off) with its log-probs read back, then policy forward and backward to the LoRA gradients, loss and gradient norm read back; no optimizer update',
  tokens: 'tokens per step: 2 · pairs · seq_len (chosen and rejected rows, no padding; the second half of each row is completion)',
  step_peak_bytes: 'peak of tf.memory().numBytesInGPU during one step: all GPU buffers in use, model weights and adapter included',
  step_planned_bytes:
    "the studio's memory plan for the same step: weights, LoRA parameters and gradients, activations and LM head (no AdamW moments: the step has no optimizer update)",
  model_flops:
    'policy forward + policy backward + reference forward = 3·linear + 3·lora + 4·attention + 3·head, with linear = 2·tokens·layers·(Llama linear weights), lora = 2·tokens·layers·r·Σ(in+out) over q_proj and v_proj, attention = 4·rows·layers·heads·head_dim·seq_len², head = 2·scored tokens·V·d (frozen weights need input gradients only; see scripts/bench/flops.ts)',
  efficiency: 'model FLOPs / (median step time × matmul_gflops)',
};

export interface KernelResult {
  c: KernelCase;
  outcome: Outcome<KernelMeasured>;
  /** Why the case ran fewer runs than planned. */
  note: string | null;
}

/** What the run saw besides the measurements. */
export interface RunContext {
  loads: number[];
  defaultLimits: AdapterReport | null;
}

export interface StepResult {
  c: StepCase;
  outcome: Outcome<StepMeasured>;
}

/** Keeps `digits` significant digits: timer jitter is far above float noise like 76.3999999994412. */
function sig(x: number, digits = 4): number {
  return Number(x.toPrecision(digits));
}

function failureText(f: Failure): string {
  return f.kind === 'error' ? `error: ${f.reason}` : f.reason;
}

function kernelRows(results: KernelResult[]): KernelRow[] {
  const rows = new Map<string, KernelRow>();
  for (const { c, outcome, note } of results) {
    const key = `${c.kernel} ${c.N} ${c.V} ${c.hidden} ${c.limits}`;
    const row = rows.get(key) ?? {
      kernel: c.kernel,
      N: c.N,
      V: c.V,
      d: c.kernel === 'selective_log_softmax' ? 0 : c.hidden,
      limits: c.limits,
      fused_ms: null,
      composed_ms: null,
      fused_peak_bytes: null,
      composed_peak_bytes: null,
      fused_forward_ms: null,
      composed_forward_ms: null,
      fused_runs: 0,
      composed_runs: 0,
      fused_head_slices: 0,
      fused_failure: null,
      composed_failure: null,
      fused_note: null,
      composed_note: null,
    };
    row[`${c.path}_note`] = note;
    if (outcome.ok) {
      const forward = outcome.value.forwardMedianMs;
      row[`${c.path}_ms`] = sig(outcome.value.medianMs);
      row[`${c.path}_peak_bytes`] = outcome.value.peakBytes;
      row[`${c.path}_forward_ms`] = forward === null ? null : sig(forward);
      row[`${c.path}_runs`] = c.timedRuns;
      if (c.path === 'fused') row.fused_head_slices = outcome.value.headSlices;
    } else {
      row[`${c.path}_failure`] = failureText(outcome.failure);
    }
    rows.set(key, row);
  }
  return [...rows.values()];
}

/** The memory plan's bytes for a step case, comparable with its measured peak (see StepRow.planned_bytes). */
export function plannedStepBytes(c: StepCase): number {
  const spec = getArchitecture('LlamaForCausalLM');
  const config = parseModelConfig(
    spec.randomConfigJson({ ...c.dims, max_position_embeddings: Math.max(2048, c.seqLen) }),
    `random ${c.model}`,
  );
  const model = modelShapeOf(config, spec);
  const lora = { r: c.lora.r, target_modules: c.lora.target_modules };
  const plan = planTrainingMemory({
    model,
    lora,
    per_device_train_batch_size: c.pairs,
    max_length: c.seqLen,
    longest: c.seqLen,
    gradient_checkpointing: c.gradientCheckpointing,
    precompute_ref_log_probs: false,
    lmHead: c.kernels ? 'fused' : 'composed',
    attention: c.kernels ? 'flash' : 'composed',
    limits: NO_DEVICE_LIMITS,
    // The synthetic batch scores its completion half.
    scoredPerRow: c.seqLen - Math.floor(c.seqLen / 2),
  });
  return plan.weights + 2 * 4 * loraParameters(model, lora) + plan.stepBytes;
}

function stepRow({ c, outcome }: StepResult, gflops: number | null): StepRow {
  const rows = 2 * c.pairs;
  const scored = rows * (c.seqLen - Math.floor(c.seqLen / 2));
  const flops = stepFlops({
    dims: c.dims,
    lora: c.lora,
    rows,
    seqLen: c.seqLen,
    scoredTokens: outcome.ok ? outcome.value.scoredTokens : scored,
  });
  const ms = outcome.ok ? sig(outcome.value.medianMs) : null;
  return {
    model: c.model,
    layers: c.dims.num_hidden_layers,
    tokens: rows * c.seqLen,
    kernels: c.kernels,
    gradient_checkpointing: c.gradientCheckpointing,
    tokens_per_second: ms === null ? null : sig((rows * c.seqLen) / (ms / 1000)),
    peak_bytes: outcome.ok ? outcome.value.peakBytes : null,
    planned_bytes: plannedStepBytes(c),
    efficiency: ms === null || gflops === null ? null : sig(flops.total / ((ms / 1000) * gflops * 1e9), 3),
    pairs: c.pairs,
    seq_len: c.seqLen,
    scored_tokens: outcome.ok ? outcome.value.scoredTokens : scored,
    step_ms: ms,
    timed_runs: outcome.ok ? c.timedRuns : 0,
    model_gflop: sig(flops.total / 1e9),
    fused_kernels: outcome.ok ? outcome.value.fusedKernels : [],
    failure: outcome.ok ? null : failureText(outcome.failure),
  };
}

export function buildReport(
  plan: BenchPlan,
  adapter: AdapterReport,
  host: string,
  probe: Outcome<MatmulProbeResult>,
  kernels: KernelResult[],
  steps: StepResult[],
  context: RunContext,
): BenchReport {
  const gflops = probe.ok ? sig(probe.value.gflops) : null;
  const dl = context.defaultLimits;
  return {
    adapter: { vendor: adapter.vendor, architecture: adapter.architecture },
    matmul_gflops: gflops,
    kernels: kernelRows(kernels),
    steps: steps.map((s) => stepRow(s, gflops)),
    mode: plan.mode,
    host,
    limits: { maxStorageBufferBindingSize: adapter.maxStorageBufferBindingSize, maxBufferSize: adapter.maxBufferSize },
    default_limits: dl ? { maxStorageBufferBindingSize: dl.maxStorageBufferBindingSize, maxBufferSize: dl.maxBufferSize } : null,
    load_average: { min: sig(Math.min(...context.loads), 3), max: sig(Math.max(...context.loads), 3) },
    matmul_probe: probe.ok ? { n: probe.value.n, median_ms: sig(probe.value.medianMs) } : { failure: failureText(probe.failure) },
    lm_head_hidden: plan.kernels.find((k) => k.kernel === 'lm_head_logps' && k.limits === 'adapter')?.hidden ?? 0,
    definitions: DEFINITIONS,
  };
}

// ---- the readable table ----

const MB = 2 ** 20;

function fixed(x: number | null, digits: number): string {
  return x === null ? '—' : x.toFixed(digits);
}

function ratio(a: number | null, b: number | null, digits = 1): string {
  return a === null || b === null || b === 0 ? '—' : `${(a / b).toFixed(digits)}×`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Failure notes under a table: each distinct reason once, numbered, referenced from the cells. */
class Notes {
  private readonly reasons: string[] = [];

  mark(value: string, failure: string | null): string {
    if (failure === null) return value;
    let i = this.reasons.indexOf(failure);
    if (i < 0) i = this.reasons.push(failure) - 1;
    return `${value} [${i + 1}]`;
  }

  toString(): string {
    return this.reasons.map((r, i) => `  [${i + 1}] ${r}`).join('\n');
  }
}

export function formatTable(r: BenchReport, plan: BenchPlan): string {
  const out: string[] = [];
  const probe =
    'n' in r.matmul_probe
      ? `${r.matmul_probe.n}×${r.matmul_probe.n}×${r.matmul_probe.n} matMul, ${r.matmul_probe.median_ms.toFixed(1)} ms median → ${fixed(r.matmul_gflops, 2)} GFLOP/s`
      : `failed: ${r.matmul_probe.failure}`;
  out.push(`DPO Studio benchmark (${r.mode}) on adapter ${r.adapter.vendor || '?'} / ${r.adapter.architecture || '?'}, ${r.host}`);
  out.push(`maxStorageBufferBindingSize ${r.limits.maxStorageBufferBindingSize} bytes, maxBufferSize ${r.limits.maxBufferSize} bytes`);
  if (r.default_limits) {
    out.push(
      `rows marked "default": a device with WebGPU's default limits, maxStorageBufferBindingSize ${r.default_limits.maxStorageBufferBindingSize} bytes, maxBufferSize ${r.default_limits.maxBufferSize} bytes`,
    );
  }
  out.push(`matMul probe: ${probe}`);
  out.push(`host load average (1 min) over the run: ${r.load_average.min}–${r.load_average.max}`);
  out.push('');

  const k = plan.kernels[0];
  out.push(
    `Kernels: median of ${k?.timedRuns} runs after ${k?.warmupRuns} warm-up unless marked, forward + backward (fwd+bwd) and forward alone (fwd); ` +
      `peak = GPU buffer bytes above the inputs during fwd+bwd; runs = timed runs fused/composed; slices = head slices of the fused path`,
  );
  const kNotes = new Notes();
  const mb = (bytes: number | null) => fixed(bytes === null ? null : bytes / MB, 1);
  const cell = (value: number | null, failure: string | null, note: string | null) =>
    kNotes.mark(kNotes.mark(fixed(value, 1), failure), note);
  out.push(
    table(
      [
        'kernel',
        'device',
        'N',
        'V',
        'd',
        'runs',
        'slices',
        'fwd+bwd fused ms',
        'composed ms',
        'speed-up',
        'fwd fused ms',
        'composed ms',
        'speed-up',
        'peak fused MB',
        'composed MB',
        'fused/composed',
      ],
      r.kernels.map((row) => [
        row.kernel,
        row.limits === 'adapter' ? 'adapter' : 'default',
        String(row.N),
        String(row.V),
        row.d === 0 ? '—' : String(row.d),
        `${row.fused_runs}/${row.composed_runs}`,
        row.fused_head_slices === 0 ? '—' : String(row.fused_head_slices),
        cell(row.fused_ms, row.fused_failure, row.fused_note),
        cell(row.composed_ms, row.composed_failure, row.composed_note),
        ratio(row.composed_ms, row.fused_ms),
        fixed(row.fused_forward_ms, 1),
        fixed(row.composed_forward_ms, 1),
        ratio(row.composed_forward_ms, row.fused_forward_ms),
        mb(row.fused_peak_bytes),
        mb(row.composed_peak_bytes),
        ratio(row.fused_peak_bytes, row.composed_peak_bytes, 3),
      ]),
    ),
  );
  if (kNotes.toString()) out.push(`Notes (not run, or fewer runs):\n${kNotes}`);
  out.push('');

  const s = plan.steps[0];
  out.push(
    `DPO steps: reference forward + policy forward/backward, LoRA r = ${s?.lora.r} on ${s?.lora.target_modules.join(', ')}; ` +
      `median of the timed steps (runs) after ${s?.warmupRuns} warm-up; kernels on = our frozen linear products, flash attention, fused LM-head log-probs and DPO loss; peak = all GPU buffer bytes in use`,
  );
  const sNotes = new Notes();
  out.push(
    table(
      [
        'model',
        'layers',
        'pairs×seq',
        'tokens',
        'kernels',
        'checkpointing',
        'runs',
        'step ms',
        'tokens/s',
        'peak MB',
        'plan MB',
        'plan ÷ peak',
        'model GFLOP',
        'efficiency',
      ],
      r.steps.map((row) => [
        row.model,
        String(row.layers),
        `${row.pairs}×${row.seq_len}`,
        String(row.tokens),
        row.kernels ? 'on' : 'off',
        row.gradient_checkpointing ? 'on' : 'off',
        String(row.timed_runs),
        sNotes.mark(fixed(row.step_ms, 0), row.failure),
        fixed(row.tokens_per_second, 1),
        mb(row.peak_bytes),
        mb(row.planned_bytes),
        ratio(row.planned_bytes, row.peak_bytes, 2),
        row.model_gflop.toFixed(2),
        row.efficiency === null ? '—' : `${(100 * row.efficiency).toFixed(1)}%`,
      ]),
    ),
  );
  if (sNotes.toString()) out.push(`Not run:\n${sNotes}`);
  const shapeOf = (row: StepRow) => `${row.model} (${row.layers} layers, ${row.pairs}×${row.seq_len})`;
  const speedups = [...new Set(r.steps.map(shapeOf))].map((shape) => {
    const on = r.steps.find((row) => shapeOf(row) === shape && row.kernels && !row.gradient_checkpointing);
    const off = r.steps.find((row) => shapeOf(row) === shape && !row.kernels);
    return `${shape} ${ratio(on?.tokens_per_second ?? null, off?.tokens_per_second ?? null, 2)}`;
  });
  out.push(`tokens/s kernels on ÷ off: ${speedups.join(', ')}`);
  const savings = [...new Set(r.steps.map(shapeOf))].map((shape) => {
    const kept = r.steps.find((row) => shapeOf(row) === shape && row.kernels && !row.gradient_checkpointing);
    const recomputed = r.steps.find((row) => shapeOf(row) === shape && row.gradient_checkpointing);
    return `${shape} ${ratio(recomputed?.peak_bytes ?? null, kept?.peak_bytes ?? null, 2)}`;
  });
  out.push(`peak bytes with gradient checkpointing ÷ without (kernels on): ${savings.join(', ')}`);
  return out.join('\n');
}
