/**
 * The studio's experiment as a runnable TRL script, for when the browser is outgrown.
 *
 *   trlScript({ config, lora, modelId, datasetFile, evalDatasetFile?, outputDir? }): string
 *     Python that loads the model with transformers, the pairs with datasets.load_dataset("json"),
 *     and trains a peft.LoraConfig adapter with trl.DPOTrainer under a DPOConfig holding the same
 *     hyperparameters, by TRL's names. Write it beside the dataset file(s) (paths are relative to the
 *     script). Options TRL removed in 0.29 are kept in a block that passes them to TRL ≤ 0.28 only
 *     and warns on newer TRL, so they never vanish silently.
 *
 * Which options are written, and which go to that block, is the schema's (core/config): every option
 * the script's TRL has, by its type; the ones whose TRL range ends before it, to the legacy block.
 *
 * The dataset files come from datasetJsonl (dataset-jsonl.ts). When config.eval_split > 0, pass the
 * held-out pairs as their own file (evalDatasetFile) so TRL evaluates on the same pairs as the studio.
 */
import { DPO_OPTIONS, firstReleaseWithout, inVersionRange, optionList, type ConfigOption, type DPOConfig } from '../config';
import type { LoraConfig } from '../model/types';
import { pyFloat, pyInt, pyLiteral, pyStr, type PyValue } from './python';

/** The oldest TRL the script is written for (its pip line). */
const SCRIPT_TRL = '1.9';

export interface TrlScriptOptions {
  config: DPOConfig;
  lora: LoraConfig;
  /** A Hugging Face repo id ("Qwen/Qwen2.5-0.5B-Instruct") or a local model folder. */
  modelId: string;
  /** The training pairs (JSONL), relative to the script's folder. */
  datasetFile: string;
  /** The held-out pairs (JSONL); required when config.eval_split > 0. */
  evalDatasetFile?: string;
  /** Where TRL writes checkpoints and the adapter, relative to the script's folder. Default "dpo-output". */
  outputDir?: string;
}

/** "name=value," lines of a call, with an optional trailing comment. */
type Arg = [name: string, value: string, comment?: string];

function formatArgs(args: Arg[], indent = '    '): string {
  return args.map(([name, value, comment]) => `${indent}${name}=${value},${comment ? `  # ${comment}` : ''}`).join('\n');
}

function loraArgs(lora: LoraConfig): Arg[] {
  // PEFT reads target_modules=None as "the architecture's defaults", which is what an empty list means here.
  const targets =
    lora.target_modules === 'all-linear'
      ? pyStr('all-linear')
      : lora.target_modules.length === 0
        ? 'None'
        : pyLiteral(lora.target_modules, 'lora.target_modules');
  return [
    ['r', pyInt(lora.r, 'lora.r')],
    [
      'lora_alpha',
      Number.isInteger(lora.lora_alpha) ? pyInt(lora.lora_alpha, 'lora.lora_alpha') : pyFloat(lora.lora_alpha, 'lora.lora_alpha'),
    ],
    ['lora_dropout', pyFloat(lora.lora_dropout, 'lora.lora_dropout')],
    ['target_modules', targets],
    ['use_rslora', pyLiteral(lora.use_rslora, 'lora.use_rslora')],
    ['bias', pyStr('none')],
    ['task_type', pyStr('CAUSAL_LM')],
  ];
}

/** Python for an option's value, by its schema type. */
function pyValue(option: ConfigOption, value: unknown): string {
  const name = option.name;
  if (value === null) return 'None';
  switch (option.type) {
    case 'int':
      return pyInt(value as number, name);
    case 'number':
      return pyFloat(value as number, name);
    case 'string':
    case 'enum':
      return pyStr(value as string);
    case 'numbers':
      return `[${(value as number[]).map((v, i) => pyFloat(v, `${name}[${i}]`)).join(', ')}]`;
    case 'bool':
    case 'list':
      return pyLiteral(value as PyValue, name);
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** TRL options the script's TRL no longer has: passed to older TRL only. */
const LEGACY_OPTIONS = optionList(DPO_OPTIONS).filter((o) => o.trl !== false && !inVersionRange(o.trl, SCRIPT_TRL));

/** What each legacy option does, for the block's comment (every legacy option needs one). */
const LEGACY_EXPLANATIONS: Partial<Record<keyof DPOConfig, (lastWith: string) => string[]>> = {
  max_prompt_length: (lastWith) => [
    'cut each prompt to its last N tokens before max_length applies. Given even when',
    `  None, because TRL ${lastWith} otherwise applies its old default of 512.`,
  ],
  reference_free: () => ['the loss compares the policy with a uniform reference (rewards still use the model).'],
};

/** A note after a legacy argument's value. */
const LEGACY_ARG_NOTES: Partial<Record<keyof DPOConfig, (value: unknown) => string>> = {
  max_prompt_length: (v) => (v === null ? 'no prompt truncation' : `prompts keep their last ${v as number} tokens`),
};

/** The legacy options' last TRL release (they must share one: the block has one version test). */
function legacyLastRelease(): string {
  const untils = new Set(LEGACY_OPTIONS.map((o) => (o.trl as { until: string }).until));
  if (untils.size !== 1) throw new Error(`trlScript: the legacy options end in different TRL releases (${[...untils].join(', ')})`);
  return [...untils][0];
}

/** A legacy option whose TRL default differs from ours is always passed, so that TRL never applies its own. */
const alwaysGiven = (o: ConfigOption) => o.trlDefault !== undefined && !same(o.trlDefault, o.default);

/** The legacy options in the block's order: the always-given ones first. */
const LEGACY_ORDER = [...LEGACY_OPTIONS.filter(alwaysGiven), ...LEGACY_OPTIONS.filter((o) => !alwaysGiven(o))];

/** The legacy options passed to older TRL: the always-given ones, and the rest when set. */
function legacyArgs(c: DPOConfig): [option: ConfigOption, value: unknown][] {
  const values = c as unknown as Record<string, unknown>;
  return LEGACY_ORDER.filter((o) => alwaysGiven(o) || !same(values[o.name], o.default)).map((o) => [o, values[o.name]]);
}

/** Settings the studio applies that newer TRL rejects or ignores: the warning's items. */
function legacyOnlySettings(c: DPOConfig, removedIn: string): string[] {
  const items: string[] = [];
  if (c.label_smoothing > 0 && c.loss_type.includes('sigmoid')) {
    items.push(`label_smoothing=${c.label_smoothing} with loss_type 'sigmoid' (cDPO; ignored for 'sigmoid' since ${removedIn})`);
  }
  const values = c as unknown as Record<string, unknown>;
  for (const o of LEGACY_OPTIONS) {
    if (!same(values[o.name], o.default)) items.push(`${o.name}=${pyValue(o, values[o.name])} (removed in ${removedIn})`);
  }
  return items;
}

function legacyBlock(c: DPOConfig): string {
  const lastWith = legacyLastRelease();
  const removedIn = firstReleaseWithout(lastWith);
  const items = legacyOnlySettings(c, removedIn);
  const args = legacyArgs(c);
  const explanations = LEGACY_ORDER.flatMap((o) => {
    const explain = LEGACY_EXPLANATIONS[o.name as keyof DPOConfig];
    if (!explain) throw new Error(`trlScript: no explanation for the legacy option ${o.name}`);
    const [first, ...rest] = explain(lastWith);
    return [`#   ${o.name}: ${first}`, ...rest.map((line) => `#   ${line}`)];
  });
  const argLines = args.map(([o, v]) => {
    const note = LEGACY_ARG_NOTES[o.name as keyof DPOConfig];
    return `    ${pyStr(o.name)}: ${pyValue(o, v)},${note ? `  # ${note(v)}` : ''}`;
  });
  return `# Options TRL removed in ${removedIn} ("Refactor DPO"). TRL ${lastWith} still has them, so they are passed to
# TRL < ${removedIn} only; newer TRL would reject them as unknown arguments.
${explanations.join('\n')}
#   label_smoothing with loss_type "sigmoid": conservative DPO (cDPO),
#     -(1 - e) * logsigmoid(beta * d) - e * logsigmoid(-beta * d). TRL >= ${removedIn} keeps label_smoothing for
#     robust, exo_pair and aot but ignores it for "sigmoid".
LEGACY_TRL = Version(trl.__version__) < Version("${removedIn}.0")
LEGACY_TRL_ARGS = {
${argLines.join('\n')}
}
# What this run used that TRL >= ${removedIn} cannot reproduce.
LEGACY_ONLY_SETTINGS = ${items.length === 0 ? '[]' : `[\n${items.map((s) => `    ${pyStr(s)},`).join('\n')}\n]`}
if LEGACY_ONLY_SETTINGS and not LEGACY_TRL:
    warnings.warn(
        f"TRL {trl.__version__} does not support settings this run used: {'; '.join(LEGACY_ONLY_SETTINGS)}. "
        "The results will differ from the studio's; install trl==${lastWith}.0 to reproduce them."
    )`;
}

/**
 * Warmup as the studio counts it (warmupStepsFor): warmup_steps when > 0, else ceil(ratio × total).
 * transformers 5 dropped warmup_ratio and reads a warmup_steps below 1 as that ratio; 4.x needs warmup_ratio.
 */
function usesRatioWarmup(c: DPOConfig): boolean {
  return c.warmup_steps === 0 && c.warmup_ratio > 0;
}

function warmupBlock(c: DPOConfig): string {
  if (!usesRatioWarmup(c)) {
    return `WARMUP_ARGS = {"warmup_steps": ${pyInt(c.warmup_steps, 'warmup_steps')}}`;
  }
  const ratio = pyFloat(c.warmup_ratio, 'warmup_ratio');
  const without = firstReleaseWithout(DPO_OPTIONS.warmup_ratio.transformers!.until!);
  return `# transformers ${without} reads a warmup_steps below 1 as a fraction of the training steps and removed warmup_ratio.
WARMUP_ARGS = {"warmup_steps": ${ratio}} if Version(transformers.__version__).major >= ${without} else {"warmup_ratio": ${ratio}}`;
}

/** Options the script writes in blocks of their own rather than as one DPOConfig argument each. */
const WRITTEN_APART = new Set<keyof DPOConfig>(['warmup_ratio', 'warmup_steps', 'eval_steps']);

/** A comment after an argument. */
const ARG_COMMENTS: Partial<Record<keyof DPOConfig, string>> = { max_steps: 'when > 0 it overrides num_train_epochs' };

/** Arguments the studio fixes, written after the option they belong with. */
const FIXED_AFTER: Partial<Record<keyof DPOConfig, Arg[]>> = { lr_scheduler_type: [['optim', pyStr('adamw_torch')]] };

function dpoArgs(c: DPOConfig, hasEval: boolean): Arg[] {
  const evalArgs: Arg[] = !hasEval
    ? []
    : c.eval_steps !== null && c.eval_steps > 0
      ? [
          ['eval_strategy', pyStr('steps')],
          ['eval_steps', pyInt(c.eval_steps, 'eval_steps')],
        ]
      : [['eval_strategy', pyStr('no'), 'evaluated once, after training']];
  const values = c as unknown as Record<string, unknown>;
  // Every option of the script's TRL, in schema order (loss, data, reference, optimisation, logging).
  const options = optionList(DPO_OPTIONS).filter(
    (o) => o.trl !== false && inVersionRange(o.trl, SCRIPT_TRL) && !WRITTEN_APART.has(o.name as keyof DPOConfig),
  );
  return [
    ['output_dir', 'OUTPUT_DIR'],
    ...options.flatMap((o): Arg[] => {
      const name = o.name as keyof DPOConfig;
      const comment = ARG_COMMENTS[name];
      const arg: Arg = comment ? [name, pyValue(o, values[name]), comment] : [name, pyValue(o, values[name])];
      return [arg, ...(FIXED_AFTER[name] ?? [])];
    }),
    ...evalArgs,
    ['bf16', 'False', 'the studio trains in float32; True halves memory on GPUs with bfloat16'],
    ['report_to', pyStr('none'), 'or "wandb", "tensorboard", ...'],
  ];
}

export function trlScript(opts: TrlScriptOptions): string {
  const { config: c, lora } = opts;
  if (c.eval_split > 0 && opts.evalDatasetFile === undefined) {
    throw new Error(
      `trlScript: config.eval_split is ${c.eval_split}, so pass evalDatasetFile (the held-out pairs, written with datasetJsonl) ` +
        'for TRL to evaluate on the same pairs as the studio',
    );
  }
  const hasEval = opts.evalDatasetFile !== undefined;
  const evalLoad = hasEval ? `\neval_dataset = load_dataset("json", data_files=EVAL_FILE, split="train")` : '';
  const evalFile = hasEval ? `\nEVAL_FILE = os.path.join(HERE, ${pyStr(opts.evalDatasetFile!)})` : '';

  return `#!/usr/bin/env python
"""Direct Preference Optimization of a LoRA adapter with TRL, exported from DPO Studio.

Keep this file beside the dataset file(s) it names, then run it with Python or accelerate:

    pip install "trl>=${SCRIPT_TRL}" peft datasets accelerate
    accelerate launch <this file>

The hyperparameters are the studio's, by TRL's names. Curves will be close to the studio's but not
identical: TRL draws its own shuffle order and initialises the LoRA matrices with torch's generator.
"""
import os
import warnings

import torch${usesRatioWarmup(c) ? '\nimport transformers' : ''}
import trl
from datasets import load_dataset
from packaging.version import Version
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig, DPOTrainer

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_ID = ${pyStr(opts.modelId)}  # a Hugging Face repo id or a local model folder
TRAIN_FILE = os.path.join(HERE, ${pyStr(opts.datasetFile)})${evalFile}
OUTPUT_DIR = os.path.join(HERE, ${pyStr(opts.outputDir ?? 'dpo-output')})

model = AutoModelForCausalLM.from_pretrained(MODEL_ID, dtype=torch.float32)
tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)

# One JSON object per line: prompt / chosen / rejected, as strings or as lists of chat messages.
train_dataset = load_dataset("json", data_files=TRAIN_FILE, split="train")${evalLoad}

peft_config = LoraConfig(
${formatArgs(loraArgs(lora))}
)

${warmupBlock(c)}

${legacyBlock(c)}

training_args = DPOConfig(
${formatArgs(dpoArgs(c, hasEval))}
    **WARMUP_ARGS,
    **(LEGACY_TRL_ARGS if LEGACY_TRL else {}),
)

trainer = DPOTrainer(
    model=model,
    args=training_args,
    train_dataset=train_dataset,${hasEval ? '\n    eval_dataset=eval_dataset,' : ''}
    processing_class=tokenizer,
    peft_config=peft_config,
)
trainer.train()${hasEval ? '\nprint(trainer.evaluate())' : ''}
trainer.save_model(OUTPUT_DIR)  # the adapter, in PEFT's format
`;
}
