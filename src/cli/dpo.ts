#!/usr/bin/env node
/**
 * The headless DPO command: `dpo eval`, `dpo train`, `dpo generate`. The same engine the studio
 * drives, on WebGPU through Dawn, tfjs's WASM backend or its CPU backend (--backend).
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { readParquetTable, readPreferenceBytes, UnsupportedFileError } from '../core/data/formats';
import { REPO_PATTERN } from '../core/hub/download';
import type { PromptSplit } from '../core/data/extract-prompt';
import { parseColumnMapping, type ColumnMapping } from '../core/data/layouts';
import { splitTrainEval } from '../core/data/split';
import { assertTokenizerFitsModel, ChatTokenizer } from '../core/data/tokenizer';
import { tokenizePairs } from '../core/data/tokenize';
import { GENERATION_PROMPT, promptIds } from '../core/data/prompt-ids';
import type { DataIssue, ParsedDataset, Text, TokenizedPair } from '../core/data/types';
import { loraConfigOf, validateDpoConfig, validateLoraOptions, type ConfigProblem, type DPOConfig } from '../core/config';
import { evaluatePairs } from '../core/dpo/evaluate';
import { DPOTrainer, NonFiniteError, type LogEntry } from '../core/dpo/trainer';
import { DEFAULT_STEP_WATCHDOG, GpuFailure, stepFlops, stepTimeoutMs, type StepWatchdog } from '../core/gpu';
import type { WebGpuLimits } from '../core/gpu/webgpu-backend';
import { architectureOf } from '../core/model/architectures/registry';
import { loadModelConfig, loadTokenizerFiles, parseModelConfig } from '../core/model/config';
import { generateIds, stopTokenIds } from '../core/model/generate';
import { loadCausalLM } from '../core/model/load';
import { cloneAdapterFrozen, createLoraAdapter } from '../core/model/lora';
import { loadAdapter, saveAdapter } from '../core/model/peft';
import type { CausalLM, FileSource, LoraAdapter, LoraConfig } from '../core/model/types';
import { tensorMemoryMeter } from '../core/train/memory-meter';
import { checkMemoryPlan, formatMemory, modelShapeOf, planTrainingMemory, type MemoryPlan } from '../core/train/memory-plan';
import { formatHelp, parseOptions, UsageError, type OptionSpec, type ParsedValue } from './args';
import { startBackend, type CliBackend, type CliBackendChoice } from './backend';
import { checkpointToResume, loadCheckpoint, replaceFolder, saveCheckpoint, TRAINER_STATE, writeFileAtomic } from './checkpoints';
import { fsSource } from './fs-source';
import { fetchHubDataset } from './hub-dataset';
import {
  DATA_OPTIONS,
  DATA_READ_OPTIONS,
  dpoConfigFrom,
  EVAL_OPTIONS,
  GENERATE_OPTIONS,
  HELP_OPTION,
  LOSS_OPTIONS,
  loraOptionsFrom,
  MODEL_OPTIONS,
  schemaSpec,
  TRAIN_OPTIONS,
} from './options';
import { ProgressBar } from './progress';

/** The budget `dpo train` plans against; the CPU backend's tensors live in this machine's memory. */
const MEMORY_BUDGET_OPTION: OptionSpec = {
  name: 'memory_budget_gb',
  kind: 'number',
  help: "refuse to train when the memory plan needs more than this many GiB (default: 80% of this machine's memory)",
};

const COMMANDS: Record<string, { usage: string; specs: OptionSpec[]; run: (v: Map<string, ParsedValue>) => Promise<void> }> = {
  eval: {
    usage:
      'npm run dpo -- eval --model DIR [--adapter DIR] (--data FILE | --dataset_name OWNER/NAME) [loss and data options] [--out FILE]\n\n' +
      'Scores every pair: policy = model (+ adapter), reference = model without the adapter. Writes one JSON\n' +
      'object per pair and a last line {"metrics": {...}} with TRL\'s metric names.',
    specs: [...MODEL_OPTIONS, ...DATA_OPTIONS, ...LOSS_OPTIONS, ...EVAL_OPTIONS, schemaSpec('per_device_eval_batch_size'), HELP_OPTION],
    run: runEval,
  },
  train: {
    usage:
      'npm run dpo -- train --model DIR (--data FILE | --dataset_name OWNER/NAME) [--adapter DIR] [LoRA, loss and training options] --output_dir DIR\n\n' +
      'Trains a LoRA adapter with DPO. Writes DIR/metrics.jsonl, DIR/adapter/ (PEFT layout) and DIR/trainer_state.json.',
    specs: [...MODEL_OPTIONS, ...DATA_OPTIONS, ...LOSS_OPTIONS, ...TRAIN_OPTIONS, MEMORY_BUDGET_OPTION, HELP_OPTION],
    run: runTrain,
  },
  generate: {
    usage:
      'npm run dpo -- generate --model DIR [--adapter DIR] (--prompt TEXT | --data FILE) [--max_new_tokens N] [--temperature T] [--seed S]',
    specs: [...MODEL_OPTIONS, ...DATA_READ_OPTIONS, ...GENERATE_OPTIONS, schemaSpec('seed'), HELP_OPTION],
    run: runGenerate,
  },
};

const MAIN_HELP = `dpo — Direct Preference Optimization for Hugging Face causal LMs with LoRA, TRL's numbers

Usage: npm run dpo -- <command> [options]

Commands:
  eval       score pairs: per-pair log-probs, losses and rewards, then TRL's metrics
  train      train a LoRA adapter with DPO
  generate   sample from the model (with an adapter) for a prompt or a dataset's prompts

Run a command with --help for its options. Options take TRL's names (--beta, --loss_type, …);
kebab-case works too; lists are comma-separated.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(MAIN_HELP);
    return command ? 0 : 2;
  }
  const spec = COMMANDS[command];
  if (!spec) {
    console.error(`dpo: unknown command "${command}" (expected eval, train or generate)`);
    return 2;
  }
  let values: Map<string, ParsedValue>;
  try {
    values = parseOptions(rest, spec.specs);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`dpo ${command}: ${e.message}\nRun "npm run dpo -- ${command} --help" for the options.`);
      return 2;
    }
    throw e;
  }
  if (values.get('help')) {
    console.log(formatHelp(spec.usage, spec.specs));
    return 0;
  }
  try {
    backend = await startBackend(
      (values.get('backend') as CliBackendChoice | undefined) ?? 'auto',
      (values.get('webgpu_limits') as WebGpuLimits | undefined) ?? 'adapter',
      otherWatchdogMs,
    );
    console.error(`backend: ${backend.description}`);
    await spec.run(values);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`dpo ${command}: ${e.message}`);
      return 2;
    }
    console.error(`dpo ${command}: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof Interrupted ? signalExitCode(e.signal) : 1;
  }
}

/** The shell's exit status for a command ended by `signal`: 128 + its number (SIGINT 130, SIGTERM 143, SIGHUP 129). */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + osConstants.signals[signal];
}

/** A run stopped by a signal after saving its checkpoint: exit 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP). */
class Interrupted extends Error {
  constructor(
    readonly signal: NodeJS.Signals,
    message: string,
  ) {
    super(message);
  }
}

/** The backend the command runs on (set before the command runs). */
let backend: CliBackend;

/**
 * The watchdog of GPU waits. tfjs's CPU backend reports no device errors and never stalls on a
 * device, and a step of a real model may take many minutes there, so it has no time limit; WebGPU
 * gets the studio's (a step's scaled to its arithmetic and the steps so far, 30 min for any other
 * wait, which on a software GPU may be one large model's whole eval). DPO_WATCHDOG_MS (milliseconds)
 * sets one limit for every step and operation.
 */
function fixedWatchdogMs(): number | null {
  const ms = Number(process.env.DPO_WATCHDOG_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

function otherWatchdogMs(): number {
  return fixedWatchdogMs() ?? (backend?.name === 'webgpu' ? 30 * 60_000 : Infinity);
}

function stepWatchdog(): StepWatchdog {
  const ms = fixedWatchdogMs();
  if (ms !== null) return { firstStepMs: ms, slowestFlops: Infinity, floorMs: ms, factor: 0 };
  if (backend.name === 'webgpu') return DEFAULT_STEP_WATCHDOG;
  return { firstStepMs: Infinity, slowestFlops: Infinity, floorMs: Infinity, factor: 0 };
}

function required(values: Map<string, ParsedValue>, name: string): string {
  const v = values.get(name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v as string;
}

/** Throws the schema's messages, one line per bad option, each under its flag. */
function refuse(problems: ConfigProblem[]): void {
  if (problems.length > 0) throw new UsageError(problems.map((p) => `--${p.field}: ${p.message}`).join('\n'));
}

function checkedConfig(values: Map<string, ParsedValue>): DPOConfig {
  const config = dpoConfigFrom(values);
  refuse(validateDpoConfig(config));
  return config;
}

function checkedLora(values: Map<string, ParsedValue>): LoraConfig {
  const options = loraOptionsFrom(values);
  refuse(validateLoraOptions(options));
  return loraConfigOf(options);
}

interface Loaded {
  model: CausalLM;
  tokenizer: ChatTokenizer;
  padTokenId: number;
  generationConfig: unknown;
  adapter: LoraAdapter | null;
  name: string;
}

type TokenizerFiles = Awaited<ReturnType<typeof loadTokenizerFiles>>;

/** The model folder's tokenizer, read without its weights. */
async function loadTokenizer(src: FileSource): Promise<{ tokenizer: ChatTokenizer; files: TokenizerFiles }> {
  const files = await loadTokenizerFiles(src);
  const tokenizer = ChatTokenizer.fromJSON(files.tokenizerJson, files.tokenizerConfig, files.chatTemplate ?? undefined);
  if (tokenizer.padTokenId === null) throw new Error(`${src.name}: the tokenizer has neither a pad nor an EOS token to pad with`);
  return { tokenizer, files };
}

async function loadModel(
  values: Map<string, ParsedValue>,
  tokenizerLoaded?: { tokenizer: ChatTokenizer; files: TokenizerFiles },
): Promise<Loaded> {
  const dir = required(values, 'model');
  const src = fsSource(dir);
  const { tokenizer, files } = tokenizerLoaded ?? (await loadTokenizer(src));
  assertTokenizerFitsModel(tokenizer, (await loadModelConfig(src)).vocab_size, dir);
  const { model } = await backend.guard.run(
    `loading the model ${dir}`,
    () => loadCausalLM(src, { guard: backend.guard }),
    otherWatchdogMs(),
  );
  const adapterDir = values.get('adapter') as string | undefined;
  const adapter = adapterDir ? await loadAdapter(fsSource(adapterDir), model) : null;
  return { model, tokenizer, padTokenId: tokenizer.padTokenId!, generationConfig: files.generationConfig, adapter, name: dir };
}

/**
 * The memory plan of a run, from config.json and the tokenized pairs, before any weight is loaded:
 * rows as long as the longest pair (max_length at most), the backend's LM head (fused on WebGPU,
 * composed on the CPU) and its buffer limits.
 * Refuses (a UsageError: exit 2) when it needs more than the budget.
 */
async function planMemory(
  values: Map<string, ParsedValue>,
  config: DPOConfig,
  lora: LoraConfig,
  pairs: TokenizedPair[],
): Promise<{ plan: MemoryPlan; parameters: number }> {
  const src = fsSource(required(values, 'model'));
  const text = await src.readText('config.json');
  if (text === null) throw new Error(`${src.name}: no config.json`);
  const modelConfig = parseModelConfig(JSON.parse(text) as Record<string, unknown>, src.name);
  const longest = pairs.reduce((m, p) => Math.max(m, p.prompt_ids.length + Math.max(p.chosen_ids.length, p.rejected_ids.length)), 0);
  const shape = modelShapeOf(modelConfig, architectureOf(modelConfig));
  const plan = planTrainingMemory({
    model: shape,
    lora,
    per_device_train_batch_size: config.per_device_train_batch_size,
    max_length: config.max_length,
    longest,
    gradient_checkpointing: config.gradient_checkpointing,
    precompute_ref_log_probs: config.precompute_ref_log_probs,
    per_device_eval_batch_size: config.per_device_eval_batch_size,
    evaluates: config.eval_split > 0,
    gradient_accumulation_steps: config.gradient_accumulation_steps,
    referenceAdapter: values.has('adapter'),
    lmHead: backend.kernels.scorer ? 'fused' : 'composed',
    attention: backend.name === 'webgpu' ? 'flash' : 'composed',
    limits: backend.limits,
  });
  const given = values.get('memory_budget_gb') as number | undefined;
  if (given !== undefined && !(given > 0)) throw new UsageError(`--memory_budget_gb must be a positive number, got ${given}`);
  const budget = given !== undefined ? given * 2 ** 30 : Math.floor(0.8 * totalmem());
  console.error(
    `memory plan: about ${formatMemory(plan.total)} (weights ${formatMemory(plan.weights)}, adapter and AdamW ${formatMemory(plan.adapter)}, ` +
      `activations ${formatMemory(plan.activations)}, LM head ${formatMemory(plan.lmHead)}; peak in the ${plan.peakPass}, ` +
      `${plan.rows} rows of ${plan.seq} tokens), budget ${formatMemory(budget)}`,
  );
  const refusal = checkMemoryPlan(plan, backend.limits, budget, {
    raiseBudget: 'pass a larger --memory_budget_gb',
    gradientCheckpointing: config.gradient_checkpointing,
  });
  if (refusal) throw new UsageError(`not training: ${refusal}`);
  return { plan, parameters: shape.parameters };
}

function reportIssues(issues: DataIssue[], heading: string): void {
  if (issues.length === 0) return;
  console.error(`${heading} (${issues.length}):`);
  for (const i of issues.slice(0, 50)) console.error(`  ${i.file}:${i.line}${i.field ? ` [${i.field}]` : ''}: ${i.reason}`);
  if (issues.length > 50) console.error(`  … and ${issues.length - 50} more`);
}

/** Where the common-prefix split cut words, how many and where, and what to do about it. */
function reportMidWordPrompts(parsed: ParsedDataset, values: Map<string, ParsedValue>): void {
  const lines = parsed.midWordPrompts;
  if (lines.length === 0) return;
  const shown = lines.slice(0, 5).join(', ') + (lines.length > 5 ? ', …' : '');
  const split = values.get('prompt_split') ?? 'common_prefix';
  console.error(
    `${parsed.file}: ${lines.length} implicit ${lines.length === 1 ? 'prompt ends' : 'prompts end'} in the middle of a word (line ${shown})` +
      (split === 'common_prefix'
        ? ': chosen and rejected start with the same letters, so the common prefix took them; --prompt_split last_turn splits at the last assistant turn instead'
        : ''),
  );
}

/** The dataset's rows, through its layout or --dataset_columns; problems are issues with places. */
async function readPreferenceFile(values: Map<string, ParsedValue>): Promise<ParsedDataset> {
  const columnsText = values.get('dataset_columns') as string | undefined;
  let columns: ColumnMapping | undefined;
  if (columnsText !== undefined) {
    try {
      columns = parseColumnMapping(columnsText);
    } catch (e) {
      throw new UsageError(`--dataset_columns: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const options = {
    columns,
    promptSplit: (values.get('prompt_split') as PromptSplit | undefined) ?? 'common_prefix',
    minRatingMargin: values.get('min_rating_margin') as number | undefined,
  };
  const source = await datasetSource(values);
  try {
    if (source.kind === 'hub') return await readParquetTable(await readShards(source.paths), source.name, options);
    return await readPreferenceBytes(new Uint8Array(await readFile(source.file)), source.file, options);
  } catch (e) {
    if (e instanceof UnsupportedFileError) throw new UsageError(e.message);
    throw e;
  }
}

async function readShards(paths: string[]): Promise<{ name: string; bytes: Uint8Array }[]> {
  return Promise.all(paths.map(async (path) => ({ name: basename(path), bytes: new Uint8Array(await readFile(path)) })));
}

/** --data FILE, or --dataset_name (a local file, or owner/name on the Hub, downloaded with progress). */
async function datasetSource(
  values: Map<string, ParsedValue>,
): Promise<{ kind: 'file'; file: string } | { kind: 'hub'; name: string; paths: string[] }> {
  const data = values.get('data') as string | undefined;
  const name = values.get('dataset_name') as string | undefined;
  if (data !== undefined && name !== undefined) throw new UsageError('give --data or --dataset_name, not both');
  if (name === undefined) {
    for (const option of ['dataset_config', 'dataset_train_split'] as const) {
      if (values.get(option) !== undefined && values.get(option) !== 'train') throw new UsageError(`--${option} goes with --dataset_name`);
    }
    return { kind: 'file', file: required(values, 'data') };
  }
  if (await stat(name).catch(() => null)) return { kind: 'file', file: name };
  if (!REPO_PATTERN.test(name)) {
    throw new UsageError(`--dataset_name: ${name} is neither a file here nor a Hub dataset id (owner/name)`);
  }
  const ref = {
    repo: name,
    config: values.get('dataset_config') as string | undefined,
    split: (values.get('dataset_train_split') as string | undefined) ?? 'train',
  };
  const bar = new ProgressBar(1);
  let files;
  try {
    files = await fetchHubDataset(ref, (p) => bar.note(`downloading ${name}: file ${p.file} of ${p.files}, ${formatSize(p.loaded)}`));
  } finally {
    bar.finish();
  }
  const bytes = (await Promise.all(files.paths.map((p) => stat(p)))).reduce((n, s) => n + s.size, 0);
  console.error(
    `${files.name}: ${files.paths.length} Parquet ${files.paths.length === 1 ? 'file' : 'files'}, ${formatSize(bytes)}` +
      `${files.cached ? ', as downloaded before' : ''}, in ${dirname(files.paths[0])}`,
  );
  return { kind: 'hub', name: files.name, paths: files.paths };
}

function formatSize(bytes: number): string {
  return bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function loadPairs(values: Map<string, ParsedValue>, tokenizer: ChatTokenizer, config: DPOConfig): Promise<TokenizedPair[]> {
  const parsed = await readPreferenceFile(values);
  const file = parsed.file;
  const counts = Object.entries(parsed.formatCounts)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ');
  console.error(
    `${file}: ${parsed.rows.length} valid pairs (${counts || 'none'}${parsed.layout ? `; columns: ${parsed.layout}` : ''}), ` +
      `${parsed.issues.length} problems, ${parsed.identicalPairs} with chosen == rejected`,
  );
  reportIssues(parsed.issues, 'skipped lines');
  reportMidWordPrompts(parsed, values);
  const report = tokenizePairs(parsed.rows, tokenizer, { max_length: config.max_length, truncation_mode: config.truncation_mode, file });
  reportIssues(report.failed, 'skipped: the chat template could not render them');
  reportIssues(report.dropped, `dropped: prompt reaches max_length ${config.max_length}`);
  reportIssues(report.mismatches, 'tokenized prompt is not a prefix of prompt+completion (kept)');
  // Every row read is accounted for: used, or skipped or dropped with its line above.
  console.error(
    `${file}: ${report.pairs.length} pairs to use of ${parsed.rows.length} valid` +
      (report.failed.length ? `, ${report.failed.length} the chat template could not render` : '') +
      (report.dropped.length ? `, ${report.dropped.length} dropped for length` : ''),
  );
  if (report.pairs.length === 0) throw new Error(`${file}: no pairs left to use`);
  return report.pairs;
}

async function runEval(values: Map<string, ParsedValue>): Promise<void> {
  const config = checkedConfig(values);
  const { model, tokenizer, padTokenId, adapter } = await loadModel(values);
  const pairs = await loadPairs(values, tokenizer, config);
  const { pairs: scored, metrics } = await backend.guard.run(
    `the eval of ${pairs.length} pairs`,
    // No training here: num_tokens is 0, as TRL's evaluate() before train() logs it.
    () => evaluatePairs({ model, policy: adapter, reference: null, ...backend.kernels }, pairs, config, padTokenId, { trainTokens: 0 }),
    otherWatchdogMs(),
  );
  // A model or adapter gone bad shows as NaN or infinite log-probs: an error, not a null loss.
  const broken = scored.filter((s) => ![s.chosenLogps, s.rejectedLogps, s.refChosenLogps, s.refRejectedLogps].every(Number.isFinite));
  if (broken.length > 0) {
    throw new Error(
      `the eval gave non-finite log-probs for ${broken.length} of ${scored.length} pairs (lines ${broken
        .slice(0, 10)
        .map((s) => s.pair.line)
        .join(', ')}${broken.length > 10 ? ', …' : ''}): the model's or the adapter's weights overflow`,
    );
  }
  const lines = scored.map((s) =>
    JSON.stringify({
      index: s.pair.index,
      line: s.pair.line,
      prompt_ids: s.pair.prompt_ids,
      chosen_ids: s.pair.chosen_ids,
      rejected_ids: s.pair.rejected_ids,
      policy_chosen_logps: s.chosenLogps,
      policy_rejected_logps: s.rejectedLogps,
      ref_chosen_logps: s.refChosenLogps,
      ref_rejected_logps: s.refRejectedLogps,
      loss: s.loss,
      chosen_reward: s.chosenReward,
      rejected_reward: s.rejectedReward,
    }),
  );
  lines.push(JSON.stringify({ metrics }));
  const out = values.get('out') as string | undefined;
  if (out) await writeFile(out, lines.join('\n') + '\n');
  else process.stdout.write(lines.join('\n') + '\n');
}

async function runTrain(values: Map<string, ParsedValue>): Promise<void> {
  const config = checkedConfig(values);
  const lora = checkedLora(values);
  const outputDir = required(values, 'output_dir');
  await checkOutputDir(outputDir);
  const tokenizerLoaded = await loadTokenizer(fsSource(required(values, 'model')));
  const pairs = await loadPairs(values, tokenizerLoaded.tokenizer, config);
  const { plan: memoryPlan, parameters } = await planMemory(values, config, lora, pairs);
  const meter = tensorMemoryMeter();
  const { model, padTokenId, adapter: start, name } = await loadModel(values, tokenizerLoaded);
  const { train, eval: evalPairs } = splitTrainEval(pairs, config.eval_split, config.seed);
  // TRL: a fresh adapter is trained against the base model; an existing adapter is trained against a
  // frozen copy of itself.
  const policy = start ?? createLoraAdapter(model, lora, config.seed);
  const reference = start ? cloneAdapterFrozen(start) : null;
  const trainer = new DPOTrainer({ models: { model, policy, reference, ...backend.kernels }, train, eval: evalPairs, config, padTokenId });
  const saveSteps = (values.get('save_steps') as number | undefined) ?? 500;
  const saveLimit = (values.get('save_total_limit') as number | undefined) ?? null;
  await mkdir(outputDir, { recursive: true });
  const metricsPath = join(outputDir, 'metrics.jsonl');
  let history: LogEntry[] = [];
  const resumeFrom = values.get('resume_from_checkpoint') as string | undefined;
  if (resumeFrom !== undefined) {
    const dir = await checkpointToResume(resumeFrom, outputDir);
    const checkpoint = await loadCheckpoint(dir);
    trainer.restore(checkpoint.state);
    history = checkpoint.history;
    console.error(`resuming from ${dir} at step ${trainer.globalStep} of ${trainer.totalSteps}`);
  }
  // metrics.jsonl holds this run's entries, up to the checkpoint's step when resuming.
  const writeMetrics = () => writeFileAtomic(metricsPath, history.map((h) => JSON.stringify(h) + '\n').join(''));
  await writeMetrics();
  const log = async (entry: LogEntry) => {
    history.push(entry);
    await writeMetrics();
  };
  const trainerStateJson = (step: number, stoppedEarly: string | null) => ({
    global_step: step,
    max_steps: trainer.totalSteps,
    epoch: trainer.epochFloat,
    num_train_epochs: config.num_train_epochs,
    logging_steps: config.logging_steps,
    eval_steps: config.eval_steps,
    save_steps: saveSteps,
    train_batch_size: config.per_device_train_batch_size,
    log_history: history,
    stopped_early: stoppedEarly,
    config,
  });
  // SIGINT / SIGTERM / SIGHUP: the step in progress ends, a checkpoint is saved, and the command exits
  // 130 / 143 / 129. A parent that dies without a signal (npm killed with -9) counts as a hang-up.
  let interrupted: NodeJS.Signals | null = null;
  let interruptedAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches this process twice at once (from the terminal, and forwarded by npm): only a
    // signal a second or more after the first is a second request.
    if (interrupted && performance.now() - interruptedAt < 1000) return;
    if (interrupted) process.exit(signalExitCode(signal));
    interrupted = signal;
    interruptedAt = performance.now();
    console.error(`\n${signal}: finishing the step in progress, then saving a checkpoint (${signal} again to quit at once)`);
  };
  const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of stopSignals) process.on(signal, onSignal);
  const parentPid = process.ppid;
  const parentWatch = setInterval(() => {
    if (process.ppid === parentPid) return;
    clearInterval(parentWatch);
    // Nobody may be reading the output any more: a closed pipe must not end the run before its checkpoint.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
    console.error(`\nthe process that started this command (pid ${parentPid}) has ended`);
    onSignal('SIGHUP');
  }, 500).unref();
  const checkpoint = async (timeout: number) => {
    const state = await backend.guard.run(`saving the checkpoint of step ${trainer.globalStep}`, () => trainer.getState(), timeout);
    return saveCheckpoint(outputDir, state, lastGood.files, trainerStateJson(trainer.globalStep, null), saveLimit);
  };
  const { plan } = trainer;
  console.error(
    `training ${train.length} pairs (eval ${evalPairs.length}) for ${plan.totalSteps} steps, ${plan.stepsPerEpoch} per epoch ` +
      `(${plan.microBatchesPerEpoch} micro-batches of ${config.per_device_train_batch_size}, ${config.gradient_accumulation_steps} a step), ` +
      `${plan.warmupSteps} warmup; LoRA r=${policy.config.r} on ${policy.modules.size} modules`,
  );
  const bar = new ProgressBar(trainer.totalSteps);
  if (config.precompute_ref_log_probs) {
    await backend.guard.run(
      'computing the reference log-probs',
      () => trainer.precomputeReference((done, total) => bar.note(`reference log-probs ${done}/${total}`)),
      otherWatchdogMs(),
    );
  }
  let failure: Error | null = null;
  const watchdog = stepWatchdog();
  const stepSeconds: number[] = [];
  const longest = train.reduce((m, p) => Math.max(m, p.prompt_ids.length + Math.max(p.chosen_ids.length, p.rejected_ids.length)), 0);
  const tokensPerStep =
    2 * config.per_device_train_batch_size * config.gradient_accumulation_steps * Math.min(config.max_length ?? longest, longest);
  const flops = stepFlops(parameters, tokensPerStep);
  // The adapter after the last step that ended well, kept on the host: what a failed step (or a lost
  // device, whose memory cannot be read back) leaves behind.
  const keep = async (step: number, timeout: number) => ({
    step,
    files: await backend.guard.run(`keeping the adapter of step ${step}`, () => saveAdapter(policy, name), timeout),
  });
  let lastGood = await keep(trainer.globalStep, otherWatchdogMs());
  try {
    while (!trainer.done) {
      const n = trainer.globalStep + 1;
      const timeout = stepTimeoutMs(stepSeconds, watchdog, flops);
      const started = performance.now();
      const entry = await backend.guard.run(
        `training step ${n} of ${trainer.totalSteps} (forward/backward)`,
        () => trainer.step(),
        timeout,
      );
      if (entry) await log(entry);
      if (trainer.evalDue) await log(await backend.guard.run(`the eval after step ${n}`, () => trainer.evaluate(), timeout));
      lastGood = await keep(trainer.globalStep, timeout);
      stepSeconds.push((performance.now() - started) / 1000);
      bar.update(trainer.globalStep, entry ?? undefined);
      if (interrupted || (saveSteps > 0 && trainer.globalStep % saveSteps === 0)) await checkpoint(timeout);
      if (interrupted) break;
    }
  } catch (e) {
    if (!(e instanceof NonFiniteError) && !(e instanceof GpuFailure)) throw e;
    failure = e;
  }
  bar.finish();
  for (const signal of stopSignals) process.off(signal, onSignal);
  clearInterval(parentWatch);
  await replaceFolder(join(outputDir, 'adapter'), lastGood.files);
  const stoppedEarly = failure ? failure.message : interrupted ? `interrupted by ${interrupted}` : null;
  await writeFileAtomic(join(outputDir, TRAINER_STATE), JSON.stringify(trainerStateJson(lastGood.step, stoppedEarly), null, 2) + '\n');
  console.error(`memory: measured peak ${formatMemory(meter.peak)} of tensors (planned ${formatMemory(memoryPlan.total)})`);
  if (failure) {
    const kept = `The adapter of the last good step (${lastGood.step}) is in ${join(outputDir, 'adapter')}`;
    throw new Error(failure instanceof GpuFailure ? `${failure.message} ${kept}.` : `${failure.message}. ${kept}`);
  }
  if (interrupted) {
    throw new Interrupted(
      interrupted,
      `interrupted by ${interrupted} after step ${trainer.globalStep}: checkpoint-${trainer.globalStep} is in ${outputDir}; ` +
        'continue with --resume_from_checkpoint true',
    );
  }
  console.error(`done: ${outputDir}/metrics.jsonl, ${outputDir}/adapter/, ${outputDir}/trainer_state.json`);
}

/**
 * Before anything loads: output_dir is a folder or absent (made once the run starts), and what train
 * writes there can be written: `adapter` a folder or absent, the other outputs files or absent.
 */
async function checkOutputDir(outputDir: string): Promise<void> {
  const dir = await stat(outputDir).catch(() => null);
  if (dir && !dir.isDirectory()) throw new UsageError(`--output_dir: ${outputDir} exists and is not a folder`);
  const kinds: [string, 'folder' | 'file'][] = [
    ['adapter', 'folder'],
    ['metrics.jsonl', 'file'],
    ['trainer_state.json', 'file'],
  ];
  for (const [name, kind] of kinds) {
    const found = await stat(join(outputDir, name)).catch(() => null);
    if (found && (kind === 'folder') !== found.isDirectory()) {
      throw new UsageError(`--output_dir: ${join(outputDir, name)} exists and is not a ${kind}, but train writes its ${name} there`);
    }
  }
}

async function runGenerate(values: Map<string, ParsedValue>): Promise<void> {
  const { model, tokenizer, adapter, generationConfig } = await loadModel(values);
  const text = values.get('prompt') as string | undefined;
  const data = (values.get('data') ?? values.get('dataset_name')) as string | undefined;
  if ((text === undefined) === (data === undefined)) throw new UsageError('give either --prompt or --data (or --dataset_name)');
  const options = {
    adapter,
    maxNewTokens: (values.get('max_new_tokens') as number | undefined) ?? 64,
    temperature: (values.get('temperature') as number | undefined) ?? 0,
    seed: (values.get('seed') as number | undefined) ?? 42,
    stopIds: stopTokenIds(tokenizer, generationConfig),
  };
  const answer = async (prompt: Text) => {
    const ids = promptIds(tokenizer, prompt, GENERATION_PROMPT);
    const generated = await backend.guard.run('generation', () => generateIds(model, ids, options), otherWatchdogMs());
    return tokenizer.decode(generated, true);
  };
  if (text !== undefined) {
    process.stdout.write((await answer(text)) + '\n');
    return;
  }
  const parsed = await readPreferenceFile(values);
  reportIssues(parsed.issues, 'skipped lines');
  const count = (values.get('num_prompts') as number | undefined) ?? 8;
  for (const row of parsed.rows.slice(0, count)) {
    process.stdout.write(JSON.stringify({ line: row.line, prompt: row.prompt, completion: await answer(row.prompt) }) + '\n');
  }
}

main(process.argv.slice(2))
  .catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  })
  .then(async (code) => {
    await (backend as CliBackend | undefined)?.close().catch(() => undefined);
    process.exit(code);
  });
