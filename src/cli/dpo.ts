#!/usr/bin/env node
/**
 * The headless DPO command: `dpo eval`, `dpo train`, `dpo generate`. The same engine the studio
 * drives, on tfjs's CPU backend.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parsePreferenceFile } from '../core/data/read';
import { splitTrainEval } from '../core/data/split';
import { ChatTokenizer } from '../core/data/tokenizer';
import { tokenizePairs } from '../core/data/tokenize';
import { GENERATION_PROMPT, promptIds } from '../core/data/prompt-ids';
import type { DataIssue, Text, TokenizedPair } from '../core/data/types';
import { loraConfigOf, validateDpoConfig, validateLoraOptions, type ConfigProblem, type DPOConfig } from '../core/config';
import { evaluatePairs } from '../core/dpo/evaluate';
import { DPOTrainer, NonFiniteError, type LogEntry } from '../core/dpo/trainer';
import { GpuFailure, stepTimeoutMs, WATCHDOG_GUARD, type GpuGuard, type StepWatchdog } from '../core/gpu';
import { loadTokenizerFiles } from '../core/model/config';
import { generateIds, stopTokenIds } from '../core/model/generate';
import { loadCausalLM } from '../core/model/load';
import { cloneAdapterFrozen, createLoraAdapter } from '../core/model/lora';
import { loadAdapter, saveAdapter } from '../core/model/peft';
import type { CausalLM, LoraAdapter, LoraConfig } from '../core/model/types';
import { formatHelp, parseOptions, UsageError, type OptionSpec, type ParsedValue } from './args';
import { fsSource } from './fs-source';
import {
  DATA_FILE_OPTION,
  DATA_OPTIONS,
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

const COMMANDS: Record<string, { usage: string; specs: OptionSpec[]; run: (v: Map<string, ParsedValue>) => Promise<void> }> = {
  eval: {
    usage:
      'npm run dpo -- eval --model DIR [--adapter DIR] --data FILE [loss and data options] [--out FILE]\n\n' +
      'Scores every pair: policy = model (+ adapter), reference = model without the adapter. Writes one JSON\n' +
      'object per pair and a last line {"metrics": {...}} with TRL\'s metric names.',
    specs: [...MODEL_OPTIONS, ...DATA_OPTIONS, ...LOSS_OPTIONS, ...EVAL_OPTIONS, schemaSpec('per_device_eval_batch_size'), HELP_OPTION],
    run: runEval,
  },
  train: {
    usage:
      'npm run dpo -- train --model DIR --data FILE [--adapter DIR] [LoRA, loss and training options] --output_dir DIR\n\n' +
      'Trains a LoRA adapter with DPO. Writes DIR/metrics.jsonl, DIR/adapter/ (PEFT layout) and DIR/trainer_state.json.',
    specs: [...MODEL_OPTIONS, ...DATA_OPTIONS, ...LOSS_OPTIONS, ...TRAIN_OPTIONS, HELP_OPTION],
    run: runTrain,
  },
  generate: {
    usage:
      'npm run dpo -- generate --model DIR [--adapter DIR] (--prompt TEXT | --data FILE) [--max_new_tokens N] [--temperature T] [--seed S]',
    specs: [...MODEL_OPTIONS, DATA_FILE_OPTION, ...GENERATE_OPTIONS, schemaSpec('seed'), HELP_OPTION],
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
  await tf.setBackend('cpu');
  // The CPU backend's first write prints an advert for tfjs-node, whose native download cannot be
  // part of this project; mark the backend as used so the terminal shows only our own output.
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  try {
    await spec.run(values);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`dpo ${command}: ${e.message}`);
      return 2;
    }
    console.error(`dpo ${command}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

/**
 * The backend's guard: tfjs's CPU backend reports no device errors, so only the watchdog applies.
 * On the CPU a step of a real model may take many minutes and never stalls on a device, so there is
 * no time limit unless DPO_WATCHDOG_MS (milliseconds) sets one for every step and operation.
 */
const guard: GpuGuard = WATCHDOG_GUARD;

function watchdogMs(): number {
  const ms = Number(process.env.DPO_WATCHDOG_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : Infinity;
}

function stepWatchdog(): StepWatchdog {
  const ms = watchdogMs();
  return { firstStepMs: ms, slowestFlops: Infinity, floorMs: ms, factor: 0 };
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

async function loadModel(values: Map<string, ParsedValue>): Promise<Loaded> {
  const dir = required(values, 'model');
  const src = fsSource(dir);
  const { model } = await loadCausalLM(src);
  const files = await loadTokenizerFiles(src);
  const tokenizer = ChatTokenizer.fromJSON(files.tokenizerJson, files.tokenizerConfig, files.chatTemplate ?? undefined);
  const adapterDir = values.get('adapter') as string | undefined;
  const adapter = adapterDir ? await loadAdapter(fsSource(adapterDir), model) : null;
  if (tokenizer.padTokenId === null) throw new Error(`${dir}: the tokenizer has neither a pad nor an EOS token to pad with`);
  return { model, tokenizer, padTokenId: tokenizer.padTokenId, generationConfig: files.generationConfig, adapter, name: dir };
}

function reportIssues(issues: DataIssue[], heading: string): void {
  if (issues.length === 0) return;
  console.error(`${heading} (${issues.length}):`);
  for (const i of issues.slice(0, 50)) console.error(`  ${i.file}:${i.line}${i.field ? ` [${i.field}]` : ''}: ${i.reason}`);
  if (issues.length > 50) console.error(`  … and ${issues.length - 50} more`);
}

async function loadPairs(values: Map<string, ParsedValue>, tokenizer: ChatTokenizer, config: DPOConfig): Promise<TokenizedPair[]> {
  const file = required(values, 'data');
  const parsed = parsePreferenceFile(await readFile(file, 'utf8'), file);
  const counts = Object.entries(parsed.formatCounts)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ');
  console.error(
    `${file}: ${parsed.rows.length} valid pairs (${counts || 'none'}), ${parsed.issues.length} problems, ${parsed.identicalPairs} with chosen == rejected`,
  );
  reportIssues(parsed.issues, 'skipped lines');
  const report = tokenizePairs(parsed.rows, tokenizer, { max_length: config.max_length, file });
  reportIssues(report.dropped, `dropped: prompt reaches max_length ${config.max_length}`);
  reportIssues(report.mismatches, 'tokenized prompt is not a prefix of prompt+completion (kept)');
  if (report.pairs.length === 0) throw new Error(`${file}: no pairs left to use`);
  return report.pairs;
}

async function runEval(values: Map<string, ParsedValue>): Promise<void> {
  const config = checkedConfig(values);
  const { model, tokenizer, padTokenId, adapter } = await loadModel(values);
  const pairs = await loadPairs(values, tokenizer, config);
  const { pairs: scored, metrics } = await guard.run(
    `the eval of ${pairs.length} pairs`,
    () => evaluatePairs({ model, policy: adapter, reference: null }, pairs, config, padTokenId),
    watchdogMs(),
  );
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
  const { model, tokenizer, padTokenId, adapter: start, name } = await loadModel(values);
  const pairs = await loadPairs(values, tokenizer, config);
  const { train, eval: evalPairs } = splitTrainEval(pairs, config.eval_split, config.seed);
  // TRL: a fresh adapter is trained against the base model; an existing adapter is trained against a
  // frozen copy of itself.
  const policy = start ?? createLoraAdapter(model, lora, config.seed);
  const reference = start ? cloneAdapterFrozen(start) : null;
  const trainer = new DPOTrainer({ models: { model, policy, reference }, train, eval: evalPairs, config, padTokenId });
  await mkdir(outputDir, { recursive: true });
  const metricsPath = join(outputDir, 'metrics.jsonl');
  await writeFile(metricsPath, '');
  const history: LogEntry[] = [];
  const log = async (entry: LogEntry) => {
    history.push(entry);
    await writeFile(metricsPath, history.map((h) => JSON.stringify(h)).join('\n') + '\n');
  };
  const { plan } = trainer;
  console.error(
    `training ${train.length} pairs (eval ${evalPairs.length}) for ${plan.totalSteps} steps, ${plan.stepsPerEpoch} per epoch ` +
      `(${plan.microBatchesPerEpoch} micro-batches of ${config.per_device_train_batch_size}, ${config.gradient_accumulation_steps} a step), ` +
      `${plan.warmupSteps} warmup; LoRA r=${policy.config.r} on ${policy.modules.size} modules`,
  );
  const bar = new ProgressBar(trainer.totalSteps);
  if (config.precompute_ref_log_probs) {
    await guard.run(
      'computing the reference log-probs',
      () => trainer.precomputeReference((done, total) => bar.note(`reference log-probs ${done}/${total}`)),
      watchdogMs(),
    );
  }
  let failure: Error | null = null;
  const watchdog = stepWatchdog();
  const stepSeconds: number[] = [];
  try {
    while (!trainer.done) {
      const n = trainer.globalStep + 1;
      const timeout = stepTimeoutMs(stepSeconds, watchdog);
      const started = performance.now();
      const entry = await guard.run(`training step ${n} of ${trainer.totalSteps} (forward/backward)`, () => trainer.step(), timeout);
      if (entry) await log(entry);
      if (trainer.evalDue) await log(await guard.run(`the eval after step ${n}`, () => trainer.evaluate(), timeout));
      stepSeconds.push((performance.now() - started) / 1000);
      bar.update(trainer.globalStep, entry ?? undefined);
    }
  } catch (e) {
    if (!(e instanceof NonFiniteError) && !(e instanceof GpuFailure)) throw e;
    failure = e;
  }
  bar.finish();
  // A failed step applied nothing: the adapter is the last good step's. After a GPU failure reading
  // it back may fail too; metrics.jsonl, written at every logging step, is kept either way.
  let adapterSaved = true;
  try {
    const files = await guard.run('saving the adapter', () => saveAdapter(policy, name), stepTimeoutMs(stepSeconds, watchdog));
    await mkdir(join(outputDir, 'adapter'), { recursive: true });
    for (const [file, data] of files) await writeFile(join(outputDir, 'adapter', file), data);
  } catch (e) {
    if (!failure) throw e;
    adapterSaved = false;
  }
  const state = {
    global_step: trainer.globalStep,
    max_steps: trainer.totalSteps,
    epoch: trainer.epochFloat,
    num_train_epochs: config.num_train_epochs,
    logging_steps: config.logging_steps,
    eval_steps: config.eval_steps,
    train_batch_size: config.per_device_train_batch_size,
    log_history: history,
    stopped_early: failure ? failure.message : null,
    config,
  };
  await writeFile(join(outputDir, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n');
  if (failure) {
    const kept = adapterSaved
      ? `The adapter of the last good step (${trainer.globalStep}) is in ${join(outputDir, 'adapter')}`
      : `The adapter could not be read back to save; the metrics up to step ${trainer.globalStep} are in ${metricsPath}`;
    throw new Error(failure instanceof GpuFailure ? `${failure.message} ${kept}.` : `${failure.message}. ${kept}`);
  }
  console.error(`done: ${outputDir}/metrics.jsonl, ${outputDir}/adapter/, ${outputDir}/trainer_state.json`);
}

async function runGenerate(values: Map<string, ParsedValue>): Promise<void> {
  const { model, tokenizer, adapter, generationConfig } = await loadModel(values);
  const text = values.get('prompt') as string | undefined;
  const data = values.get('data') as string | undefined;
  if ((text === undefined) === (data === undefined)) throw new UsageError('give either --prompt or --data');
  const options = {
    adapter,
    maxNewTokens: (values.get('max_new_tokens') as number | undefined) ?? 64,
    temperature: (values.get('temperature') as number | undefined) ?? 0,
    seed: (values.get('seed') as number | undefined) ?? 42,
    stopIds: stopTokenIds(tokenizer, generationConfig),
  };
  const answer = async (prompt: Text) => {
    const ids = promptIds(tokenizer, prompt, GENERATION_PROMPT);
    const generated = await guard.run('generation', () => generateIds(model, ids, options), watchdogMs());
    return tokenizer.decode(generated, true);
  };
  if (text !== undefined) {
    process.stdout.write((await answer(text)) + '\n');
    return;
  }
  const parsed = parsePreferenceFile(await readFile(data!, 'utf8'), data!);
  reportIssues(parsed.issues, 'skipped lines');
  const count = (values.get('num_prompts') as number | undefined) ?? 8;
  for (const row of parsed.rows.slice(0, count)) {
    process.stdout.write(JSON.stringify({ line: row.line, prompt: row.prompt, completion: await answer(row.prompt) }) + '\n');
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
