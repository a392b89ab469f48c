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
 * The dataset files come from datasetJsonl (dataset-jsonl.ts). When config.eval_split > 0, pass the
 * held-out pairs as their own file (evalDatasetFile) so TRL evaluates on the same pairs as the studio.
 */
import type { DPOConfig } from '../dpo/config';
import type { LoraConfig } from '../model/types';
import { pyFloat, pyInt, pyLiteral, pyStr } from './python';

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

function nullableInt(value: number | null, field: string): string {
  return value === null ? 'None' : pyInt(value, field);
}

/** Settings the studio applies that TRL ≥ 0.29 rejects or ignores: the warning's items. */
function legacyOnlySettings(c: DPOConfig): string[] {
  const items: string[] = [];
  if (c.label_smoothing > 0 && c.loss_type.includes('sigmoid')) {
    items.push(`label_smoothing=${c.label_smoothing} with loss_type 'sigmoid' (cDPO; ignored for 'sigmoid' since 0.29)`);
  }
  if (c.reference_free) items.push('reference_free=True (removed in 0.29)');
  if (c.max_prompt_length !== null) items.push(`max_prompt_length=${c.max_prompt_length} (removed in 0.29)`);
  return items;
}

function legacyBlock(c: DPOConfig): string {
  const items = legacyOnlySettings(c);
  const maxPrompt = c.max_prompt_length === null ? 'no prompt truncation' : `prompts keep their last ${c.max_prompt_length} tokens`;
  return `# Options TRL removed in 0.29 ("Refactor DPO"). TRL 0.28 still has them, so they are passed to
# TRL < 0.29 only; newer TRL would reject them as unknown arguments.
#   max_prompt_length: cut each prompt to its last N tokens before max_length applies. Given even when
#     None, because TRL 0.28 otherwise applies its old default of 512.
#   reference_free: the loss compares the policy with a uniform reference (rewards still use the model).
#   label_smoothing with loss_type "sigmoid": conservative DPO (cDPO),
#     -(1 - e) * logsigmoid(beta * d) - e * logsigmoid(-beta * d). TRL >= 0.29 keeps label_smoothing for
#     robust, exo_pair and aot but ignores it for "sigmoid".
LEGACY_TRL = Version(trl.__version__) < Version("0.29.0")
LEGACY_TRL_ARGS = {
    "max_prompt_length": ${nullableInt(c.max_prompt_length, 'max_prompt_length')},  # ${maxPrompt}${c.reference_free ? '\n    "reference_free": True,' : ''}
}
# What this run used that TRL >= 0.29 cannot reproduce.
LEGACY_ONLY_SETTINGS = ${items.length === 0 ? '[]' : `[\n${items.map((s) => `    ${pyStr(s)},`).join('\n')}\n]`}
if LEGACY_ONLY_SETTINGS and not LEGACY_TRL:
    warnings.warn(
        f"TRL {trl.__version__} does not support settings this run used: {'; '.join(LEGACY_ONLY_SETTINGS)}. "
        "The results will differ from the studio's; install trl==0.28.0 to reproduce them."
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
  return `# transformers 5 reads a warmup_steps below 1 as a fraction of the training steps and removed warmup_ratio.
WARMUP_ARGS = {"warmup_steps": ${ratio}} if Version(transformers.__version__).major >= 5 else {"warmup_ratio": ${ratio}}`;
}

function dpoArgs(c: DPOConfig, hasEval: boolean): Arg[] {
  const evalArgs: Arg[] = !hasEval
    ? []
    : c.eval_steps !== null && c.eval_steps > 0
      ? [
          ['eval_strategy', pyStr('steps')],
          ['eval_steps', pyInt(c.eval_steps, 'eval_steps')],
        ]
      : [['eval_strategy', pyStr('no'), 'evaluated once, after training']];
  return [
    ['output_dir', 'OUTPUT_DIR'],
    // The loss.
    ['beta', pyFloat(c.beta, 'beta')],
    ['loss_type', pyLiteral(c.loss_type, 'loss_type')],
    ['loss_weights', c.loss_weights === null ? 'None' : `[${c.loss_weights.map((w, i) => pyFloat(w, `loss_weights[${i}]`)).join(', ')}]`],
    ['label_smoothing', pyFloat(c.label_smoothing, 'label_smoothing')],
    ['f_divergence_type', pyStr(c.f_divergence_type)],
    ['f_alpha_divergence_coef', pyFloat(c.f_alpha_divergence_coef, 'f_alpha_divergence_coef')],
    ['use_weighting', pyLiteral(c.use_weighting, 'use_weighting')],
    ['ld_alpha', c.ld_alpha === null ? 'None' : pyFloat(c.ld_alpha, 'ld_alpha')],
    ['discopop_tau', pyFloat(c.discopop_tau, 'discopop_tau')],
    // Data.
    ['max_length', nullableInt(c.max_length, 'max_length')],
    ['truncation_mode', pyStr(c.truncation_mode)],
    // Reference model: with a peft_config TRL uses the base model with the adapter disabled.
    ['precompute_ref_log_probs', pyLiteral(c.precompute_ref_log_probs, 'precompute_ref_log_probs')],
    ['disable_dropout', pyLiteral(c.disable_dropout, 'disable_dropout')],
    // Optimisation.
    ['learning_rate', pyFloat(c.learning_rate, 'learning_rate')],
    ['per_device_train_batch_size', pyInt(c.per_device_train_batch_size, 'per_device_train_batch_size')],
    ['per_device_eval_batch_size', pyInt(c.per_device_eval_batch_size, 'per_device_eval_batch_size')],
    ['gradient_accumulation_steps', pyInt(c.gradient_accumulation_steps, 'gradient_accumulation_steps')],
    ['num_train_epochs', pyFloat(c.num_train_epochs, 'num_train_epochs')],
    ['max_steps', pyInt(c.max_steps, 'max_steps'), 'when > 0 it overrides num_train_epochs'],
    ['lr_scheduler_type', pyStr(c.lr_scheduler_type)],
    ['optim', pyStr('adamw_torch')],
    ['weight_decay', pyFloat(c.weight_decay, 'weight_decay')],
    ['adam_beta1', pyFloat(c.adam_beta1, 'adam_beta1')],
    ['adam_beta2', pyFloat(c.adam_beta2, 'adam_beta2')],
    ['adam_epsilon', pyFloat(c.adam_epsilon, 'adam_epsilon')],
    ['max_grad_norm', pyFloat(c.max_grad_norm, 'max_grad_norm')],
    ['seed', pyInt(c.seed, 'seed')],
    // Logging and evaluation.
    ['logging_steps', pyInt(c.logging_steps, 'logging_steps')],
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

    pip install "trl>=1.9" peft datasets accelerate
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
