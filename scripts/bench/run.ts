/**
 * `npm run bench -- [--quick] [--json] [--case-timeout SECONDS]`
 *
 * Opens the bench page in headless Chromium on whatever WebGPU adapter it finds (session.ts), runs the
 * plan (plan.ts) one measurement at a time and prints a table, or with --json one object on stdout and
 * the table on stderr (report.ts).
 * A measurement that fails or outlives its time limit is reported with its reason and the run goes on.
 * Exits 1 when the run could not start, the matMul probe failed, or a measurement failed for a reason
 * other than an adapter limit (an error in our code).
 */
import { kernelCaseFlops, stepCaseFlops } from './flops';
import { benchPlan, type BenchMode } from './plan';
import type { Failure, MatmulProbeResult, Outcome } from './protocol';
import { buildReport, formatTable, type KernelResult, type StepResult } from './report';
import { BenchSession, startVite } from './session';

interface Options {
  json: boolean;
  mode: BenchMode;
  caseTimeoutMs?: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { json: false, mode: 'full' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--quick') options.mode = 'quick';
    else if (arg === '--case-timeout' || arg.startsWith('--case-timeout=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const seconds = Number(text);
      if (!(seconds > 0)) throw new Error(`--case-timeout needs a number of seconds > 0, got '${text}'`);
      options.caseTimeoutMs = seconds * 1000;
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run bench -- [--quick] [--json] [--case-timeout SECONDS]   (npm run --silent bench -- --json for bare JSON)');
      process.exit(0);
    } else throw new Error(`unknown option '${arg}' (options: --json, --quick, --case-timeout SECONDS)`);
  }
  return options;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/**
 * A case whose matMul work alone would outlast the time limit at the probe's rate is not started: it
 * could only time out (on SwiftShader the full-size LM head and SmolLM2 step take hours).
 */
function skipReason(flops: number, probe: Outcome<MatmulProbeResult>, limitMs: number): Failure | null {
  if (!probe.ok || flops === 0) return null;
  const seconds = flops / (probe.value.gflops * 1e9);
  if (seconds * 1000 <= limitMs) return null;
  return {
    kind: 'skipped',
    reason:
      `skipped: its matMul work alone (${(flops / 1e9).toFixed(0)} GFLOP over all runs) needs ≈ ${Math.round(seconds)} s ` +
      `at the probe's ${probe.value.gflops.toFixed(2)} GFLOP/s, over the ${Math.round(limitMs / 1000)} s limit per case`,
  };
}

function describeOutcome(outcome: Outcome<{ medianMs: number }>): string {
  return outcome.ok ? `${outcome.value.medianMs.toFixed(1)} ms` : `not run (${outcome.failure.kind}): ${outcome.failure.reason}`;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const plan = benchPlan(options.mode, options.caseTimeoutMs);
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const { server, url } = await startVite();
  const session = new BenchSession(url, executablePath, log);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: closing the browser and the server`);
      void Promise.allSettled([session.close(), server.close()]).then(() => process.exit(130));
    });
  }
  const started = Date.now();
  try {
    const adapter = await session.open();
    log(`${session.version}, backend ${adapter.backend}, adapter ${adapter.vendor} / ${adapter.architecture}; ${plan.mode} plan, ${plan.caseTimeoutMs / 1000} s per case`);
    if (adapter.backend !== 'webgpu') throw new Error(`tfjs started the '${adapter.backend}' backend, not 'webgpu'`);

    const probe = await session.measure('matmulProbe', plan.matmul, plan.caseTimeoutMs);
    log(`matMul probe: ${probe.ok ? `n = ${probe.value.n}, ${probe.value.gflops.toFixed(2)} GFLOP/s` : probe.failure.reason}`);

    const kernels: KernelResult[] = [];
    const bufferLimit = Math.min(adapter.maxBufferSize, adapter.maxStorageBufferBindingSize);
    for (const c of plan.kernels) {
      // A path that must hold the whole [N, V] logits fails at once where they pass the buffer limit: let
      // it, so the report shows the adapter's own answer rather than a skip.
      const failsAtOnce = (c.kernel === 'selective_log_softmax' || c.path === 'composed') && c.N * c.V * 4 > bufferLimit;
      const skipped = failsAtOnce ? null : skipReason(kernelCaseFlops(c), probe, plan.caseTimeoutMs);
      const outcome = skipped ? ({ ok: false, failure: skipped } as const) : await session.measure('kernel', c, plan.caseTimeoutMs);
      log(`${c.kernel} N=${c.N} V=${c.V} ${c.path}: ${describeOutcome(outcome)}`);
      kernels.push({ c, outcome });
    }
    const steps: StepResult[] = [];
    for (const c of plan.steps) {
      const skipped = skipReason(stepCaseFlops(c), probe, plan.caseTimeoutMs);
      const outcome = skipped ? ({ ok: false, failure: skipped } as const) : await session.measure('step', c, plan.caseTimeoutMs);
      log(`step ${c.model} (${c.dims.num_hidden_layers} layers, ${c.pairs}×${c.seqLen}) kernels ${c.kernels ? 'on' : 'off'}: ${describeOutcome(outcome)}`);
      steps.push({ c, outcome });
    }

    const report = buildReport(plan, session.adapter ?? adapter, session.version, probe, kernels, steps);
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
    await server.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
