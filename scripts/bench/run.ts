/**
 * `npm run bench -- [--host chromium|node] [--quick] [--json] [--case-timeout SECONDS] [--budget MINUTES] [--only NAME,…]`
 *
 * Opens the bench page in headless Chromium (browser-host.ts), or with `--host node` a Node process on
 * Dawn (node-host.ts), on whatever WebGPU adapter it finds, runs the
 * plan (plan.ts) one measurement at a time, the cases behind issue 3's done-when figures first, and
 * prints a table in the plan's order, or with --json one object on stdout and the table on stderr
 * (report.ts). With --budget, a case that would end past the run's budget is skipped and says so.
 * A measurement that fails or outlives its time limit is reported with its reason and the run goes on.
 * Exits 1 when the run could not start, the matMul probe failed, or a measurement failed for a reason
 * other than an adapter limit (an error in our code).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { kernelCaseFlops, stepCaseFlops } from './flops';
import { CHILD_FLAG, nodeRunner, runBenchChild } from './node-host';
import { benchPlan, type BenchMode } from './plan';
import type { AdapterReport, DeviceLimits, Failure, KernelCase, MatmulProbeResult, Outcome } from './protocol';
import { buildReport, formatTable, type KernelResult, type StepResult } from './report';
import { BenchSession } from './session';
import { exportStep } from './step-export';

type Host = 'chromium' | 'node';

interface Options {
  host: Host;
  json: boolean;
  mode: BenchMode;
  caseTimeoutMs?: number;
  /** Wall time for the whole run: cases that would end past it are skipped, and say so. */
  budgetMs?: number;
  /** Only the cases whose name contains one of these (e.g. "lm_head_logps N=512", "step tiny"). */
  only?: string[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { host: 'chromium', json: false, mode: 'full' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--host' || arg.startsWith('--host=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (text !== 'chromium' && text !== 'node') throw new Error(`--host is chromium or node, got '${text}'`);
      options.host = text;
    } else if (arg === '--quick') options.mode = 'quick';
    else if (arg === '--case-timeout' || arg.startsWith('--case-timeout=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const seconds = Number(text);
      if (!(seconds > 0)) throw new Error(`--case-timeout needs a number of seconds > 0, got '${text}'`);
      options.caseTimeoutMs = seconds * 1000;
    } else if (arg === '--budget' || arg.startsWith('--budget=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const minutes = Number(text);
      if (!(minutes > 0)) throw new Error(`--budget needs a number of minutes > 0, got '${text}'`);
      options.budgetMs = minutes * 60_000;
    } else if (arg === '--only' || arg.startsWith('--only=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const names = (text ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n.length > 0);
      if (names.length === 0) throw new Error(`--only needs case names, e.g. --only "lm_head_logps N=512,step tiny"`);
      options.only = names;
    } else if (arg === '--help' || arg === '-h') {
      console.log(
        'usage: npm run bench -- [--host chromium|node] [--quick] [--json] [--case-timeout SECONDS] [--budget MINUTES] [--only NAME,…]   ' +
          '(npm run --silent bench -- --json for bare JSON)',
      );
      process.exit(0);
    } else
      throw new Error(
        `unknown option '${arg}' (options: --host chromium|node, --json, --quick, --case-timeout SECONDS, --budget MINUTES, --only NAME,…)`,
      );
  }
  return options;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Seconds the matMul work alone needs at the probe's rate (null without a probe). */
function estimateSeconds(flops: number, probe: Outcome<MatmulProbeResult>): number | null {
  return probe.ok ? flops / (probe.value.gflops * 1e9) : null;
}

function workText(flops: number, seconds: number, probe: Outcome<MatmulProbeResult>): string {
  const gflops = probe.ok ? probe.value.gflops.toFixed(2) : '?';
  return `its matMul work alone (${(flops / 1e9).toFixed(0)} GFLOP over all runs) needs ≈ ${Math.round(seconds)} s at the probe's ${gflops} GFLOP/s`;
}

/**
 * A case whose matMul work alone would outlast the time limit at the probe's rate is not started: it
 * could only time out (on SwiftShader the full-size LM head and SmolLM2 step take hours).
 */
function skipReason(flops: number, probe: Outcome<MatmulProbeResult>, limitMs: number): Failure | null {
  const seconds = estimateSeconds(flops, probe);
  if (seconds === null || flops === 0 || seconds * 1000 <= limitMs) return null;
  return {
    kind: 'skipped',
    reason: `skipped: ${workText(flops, seconds, probe)}, over the ${Math.round(limitMs / 1000)} s limit per case`,
  };
}

/** WebGPU's default maxStorageBufferBindingSize (maxBufferSize defaults to twice that). */
const WEBGPU_DEFAULT_BINDING_BYTES = 128 * 2 ** 20;

function bufferLimit(limits: DeviceLimits, adapter: AdapterReport): number {
  return limits === 'adapter' ? Math.min(adapter.maxBufferSize, adapter.maxStorageBufferBindingSize) : WEBGPU_DEFAULT_BINDING_BYTES;
}

/** `failsAtOnce`: the device refuses the case before any work, so neither a limit nor the budget applies. */
type KernelPlan = { run: KernelCase; note: string | null; failsAtOnce: boolean } | { skipped: Failure };

/**
 * What to run of a kernel case: all of it; or, when that would outlast the limit at the probe's rate,
 * one run of forward + backward without warm-up (its peak bytes and a time, the forward alone untimed);
 * or nothing, when even that would.
 */
function planKernelCase(c: KernelCase, adapter: AdapterReport, probe: Outcome<MatmulProbeResult>, limitMs: number): KernelPlan {
  // A path that must hold the whole [N, V] logits (or the composed path's whole head) fails at once
  // where they pass the buffer limit: let it, so the report shows the device's own answer, not a skip.
  const limit = bufferLimit(c.limits, adapter);
  const needsWhole = c.kernel === 'selective_log_softmax' || (c.kernel === 'lm_head_logps' && c.path === 'composed');
  const headWhole = c.kernel === 'lm_head_logps' && c.path === 'composed' && c.V * c.hidden * 4 > limit;
  if ((needsWhole && c.N * c.V * 4 > limit) || headWhole) return { run: c, note: null, failsAtOnce: true };
  const full = kernelCaseFlops(c);
  const fullSeconds = estimateSeconds(full, probe);
  if (fullSeconds === null || fullSeconds * 1000 <= limitMs) return { run: c, note: null, failsAtOnce: false };
  const shortened: KernelCase = { ...c, warmupRuns: 0, timedRuns: 1, timeForward: false };
  const skipped = skipReason(kernelCaseFlops(shortened), probe, limitMs);
  if (skipped) return { skipped: { ...skipped, reason: `${skipped.reason} even for one forward + backward run` } };
  return {
    run: shortened,
    failsAtOnce: false,
    note:
      `one forward + backward run, no warm-up (its time includes compiling the shaders), forward alone not timed: ` +
      `the full series (${c.warmupRuns} warm-up + ${c.timedRuns} runs, forward alone likewise) would outlast the ` +
      `${Math.round(limitMs / 1000)} s limit, as ${workText(full, fullSeconds, probe)}`,
  };
}

/** One line per case on stderr, with every figure, so a run cut short still leaves its results. */
function describeOutcome(outcome: Outcome<{ medianMs: number; peakBytes: number; forwardMedianMs?: number | null }>): string {
  if (!outcome.ok) return `not run (${outcome.failure.kind}): ${outcome.failure.reason}`;
  const { medianMs, peakBytes, forwardMedianMs } = outcome.value;
  const forward = forwardMedianMs == null ? '' : `, forward ${forwardMedianMs.toFixed(1)} ms`;
  return `${medianMs.toFixed(1)} ms${forward}, peak ${peakBytes} bytes`;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const plan = benchPlan(options.mode, options.caseTimeoutMs);
  let server: { close(): Promise<void> } | null = null;
  let session: BenchSession;
  if (options.host === 'node') {
    // The child is this same module (from source under tsx, or the bundle), with this process's options.
    session = new BenchSession(nodeRunner({ file: fileURLToPath(import.meta.url), execArgv: process.execArgv }), log);
  } else {
    const { chromiumRunner, startVite } = await import('./browser-host');
    const vite = await startVite();
    server = vite.server;
    session = new BenchSession(chromiumRunner(vite.url, process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', log), log);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: closing the bench's runner${server ? ' and the server' : ''}`);
      void Promise.allSettled([session.close(), server?.close()]).then(() => process.exit(130));
    });
  }
  const started = Date.now();
  try {
    const adapter = await session.open();
    log(
      `${session.version}, backend ${adapter.backend}, adapter ${adapter.vendor} / ${adapter.architecture}; ${plan.mode} plan, ${plan.caseTimeoutMs / 1000} s per case`,
    );
    if (adapter.backend !== 'webgpu') throw new Error(`tfjs started the '${adapter.backend}' backend, not 'webgpu'`);

    const probe = await session.measure('matmulProbe', plan.matmul, plan.caseTimeoutMs);
    log(`matMul probe: ${probe.ok ? `n = ${probe.value.n}, ${probe.value.gflops.toFixed(2)} GFLOP/s` : probe.failure.reason}`);

    // Other work on the machine slows a CPU adapter down: the load is logged with every case and reported.
    const loads: number[] = [loadavg()[0]];
    const load = () => {
      loads.push(loadavg()[0]);
      return `load ${loads[loads.length - 1].toFixed(2)}`;
    };
    /** Skips a case when the run's budget is spent, or its matMul work would outlast what is left. */
    const budgetSkip = (flops: number): Failure | null => {
      if (options.budgetMs === undefined) return null;
      const leftMs = options.budgetMs - (Date.now() - started);
      const budget = `the run's budget (--budget ${Math.round(options.budgetMs / 60_000)} min)`;
      if (leftMs <= 0) return { kind: 'skipped', reason: `skipped: ${budget} was spent before this case` };
      const seconds = estimateSeconds(flops, probe);
      if (seconds === null || seconds * 1000 <= leftMs) return null;
      return {
        kind: 'skipped',
        reason: `skipped: ${workText(flops, seconds, probe)}, more than the ${Math.round(leftMs / 1000)} s left of ${budget}`,
      };
    };
    /** Skips a case that --only leaves out. */
    const onlySkip = (name: string): Failure | null =>
      !options.only || options.only.some((n) => name.includes(n))
        ? null
        : { kind: 'skipped', reason: `skipped: not selected (--only ${options.only.join(',')})` };
    const kernels: KernelResult[] = new Array(plan.kernels.length);
    const runKernel = async (i: number) => {
      const planned = plan.kernels[i];
      const p = planKernelCase(planned, adapter, probe, plan.caseTimeoutMs);
      const c = 'run' in p ? p.run : planned;
      const name = `${planned.kernel}${planned.limits === 'adapter' ? '' : ` (${planned.limits} limits)`} N=${planned.N} V=${planned.V}`;
      const skipped = onlySkip(name) ?? ('skipped' in p ? p.skipped : p.failsAtOnce ? null : budgetSkip(kernelCaseFlops(c)));
      const caseStarted = Date.now();
      const outcome = skipped
        ? ({ ok: false, failure: skipped } as const)
        : await session.measure('kernel', c, plan.caseTimeoutMs, c.limits);
      const device = c.limits === 'adapter' ? '' : ` (${c.limits} limits)`;
      const took = `${Math.round((Date.now() - caseStarted) / 1000)} s`;
      log(
        `${c.kernel}${device} N=${c.N} V=${c.V} d=${c.hidden} ${c.path}: ${describeOutcome(outcome)}${'run' in p && p.note && !skipped ? ' (1 run)' : ''}; ${took}, ${load()}`,
      );
      kernels[i] = { c, outcome, note: 'run' in p && !skipped ? p.note : null };
    };
    const steps: StepResult[] = new Array(plan.steps.length);
    const runStep = async (i: number) => {
      const c = plan.steps[i];
      const name = `step ${c.model} (${c.dims.num_hidden_layers} layers, ${c.pairs}×${c.seqLen})`;
      const skipped = onlySkip(name) ?? skipReason(stepCaseFlops(c), probe, plan.caseTimeoutMs) ?? budgetSkip(stepCaseFlops(c));
      const caseStarted = Date.now();
      const outcome = skipped ? ({ ok: false, failure: skipped } as const) : await session.measure('step', c, plan.caseTimeoutMs);
      const took = `${Math.round((Date.now() - caseStarted) / 1000)} s`;
      log(
        `step ${c.model} (${c.dims.num_hidden_layers} layers, ${c.pairs}×${c.seqLen}) kernels ${c.kernels ? 'on' : 'off'}, ` +
          `gradient checkpointing ${c.gradientCheckpointing ? 'on' : 'off'}: ${describeOutcome(outcome)}; ${took}, ${load()}`,
      );
      steps[i] = { c, outcome };
    };
    const priorities = [...new Set([...plan.kernels, ...plan.steps].map((c) => c.priority))].sort((a, b) => a - b);
    for (const priority of priorities) {
      for (let i = 0; i < plan.kernels.length; i++) if (plan.kernels[i].priority === priority) await runKernel(i);
      for (let i = 0; i < plan.steps.length; i++) if (plan.steps[i].priority === priority) await runStep(i);
    }

    const report = buildReport(plan, session.adapter ?? adapter, session.version, probe, kernels, steps, {
      loads,
      defaultLimits: session.devices.get('webgpu-default') ?? null,
    });
    // With --json the table still reaches the person watching, on stderr; stdout holds the object alone.
    if (options.json) {
      process.stderr.write(`${formatTable(report, plan)}\n`);
      console.log(JSON.stringify(report, null, 2));
    } else console.log(formatTable(report, plan));
    log(`finished in ${Math.round((Date.now() - started) / 1000)} s`);
    const errors = [...kernels, ...steps].filter((r) => !r.outcome.ok && r.outcome.failure.kind === 'error');
    if (!probe.ok) log('failed: the matMul probe did not run, so no efficiency could be computed');
    if (errors.length > 0) log(`failed: ${errors.length} measurement(s) hit an error that is not an adapter limit (see the notes)`);
    return probe.ok && errors.length === 0 ? 0 : 1;
  } finally {
    await session.close();
    await server?.close();
  }
}

/**
 * `export-step DIR [--quick]`: the plan's largest SmolLM2-shaped step (kernels on) as files, with this
 * engine's reference log-probs from a Node runner on Dawn (step-export.ts).
 */
async function exportStepCommand(argv: string[]): Promise<number> {
  const dir = argv.find((a) => !a.startsWith('--'));
  if (!dir) throw new Error('usage: export-step DIR [--quick]');
  const plan = benchPlan(argv.includes('--quick') ? 'quick' : 'full');
  const c = plan.steps.find((s) => s.model === 'smollm2-135m-shape' && s.kernels && !s.gradientCheckpointing)!;
  const session = new BenchSession(nodeRunner({ file: fileURLToPath(import.meta.url), execArgv: process.execArgv }), log);
  try {
    await exportStep(dir, c, session, log);
  } finally {
    await session.close();
  }
  return 0;
}

const childAt = process.argv.indexOf(CHILD_FLAG);
if (childAt >= 0) void runBenchChild(process.argv[childAt + 1] === 'webgpu-default' ? 'webgpu-default' : 'adapter');
else
  (process.argv[2] === 'export-step' ? exportStepCommand(process.argv.slice(3)) : main()).then(
    (code) => process.exit(code),
    (error) => {
      log(`failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
