import { rowRange, type RowSource } from '../core/data/row-store';
import { splitTrainEval } from '../core/data/split';
import type { Text } from '../core/data/types';
import { generateBatch, stopTokenIds } from '../core/model/generate';
import type { ActivePolicy } from './evaluation';
import { GENERATION_PROMPT, promptIds } from '../core/data/prompt-ids';
import { LENGTH_BUCKET } from './generate';
import type { DatasetSession } from './dataset-session';
import type { ModelSession } from './model-session';
import type { AnswerModel, AnswerRequest, AnswerSet, LabPromptSource, PromptAnswers, Task } from './protocol';

type Progress = (task: Task, label: string, fraction: number | null) => void;

/**
 * Rows decoded together: the demo's 96 held-out prompts in one batch. Batching is what makes a hundred
 * greedy answers take seconds on a GPU (one forward pass per new token for all of them).
 */
const ROWS_PER_BATCH = 96;
/** The most answers one request may ask for (prompts × answers per prompt × models). */
const MAX_ANSWERS = 4096;

interface LabPrompt {
  prompt: Text;
  line: number | null;
}

const promptKey = (prompt: Text) => (typeof prompt === 'string' ? prompt : JSON.stringify(prompt));

/** The first `count` prompts among `rows`, each prompt once. */
/** Rows read at a time while looking for distinct prompts. */
const PROMPT_SCAN_ROWS = 256;

/** The first `count` distinct prompts of these rows (all rows of the source when none are named), in order. */
async function distinctPrompts(source: RowSource, count: number, indices?: readonly number[]): Promise<LabPrompt[]> {
  const seen = new Set<string>();
  const out: LabPrompt[] = [];
  const total = indices?.length ?? source.count;
  for (let start = 0; start < total && out.length < count; start += PROMPT_SCAN_ROWS) {
    const rows = indices
      ? await source.rows(indices.slice(start, start + PROMPT_SCAN_ROWS))
      : await rowRange(source, start, PROMPT_SCAN_ROWS);
    for (const row of rows) {
      if (out.length >= count) break;
      const key = promptKey(row.prompt);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ prompt: row.prompt, line: row.line });
    }
  }
  return out;
}

async function resolvePrompts(
  source: LabPromptSource,
  model: ModelSession,
  dataset: DatasetSession | null,
  progress: Progress,
): Promise<LabPrompt[]> {
  if (source.kind === 'texts') {
    return source.texts
      .map((t) => t.trim())
      .filter((t) => t !== '')
      .map((prompt) => ({ prompt, line: null }));
  }
  if (!dataset) throw new Error('load a preference dataset first, or type the prompts');
  if (source.kind === 'first') return distinctPrompts(dataset.source, source.count);
  const { config } = source;
  const tokenized = await dataset.tokenize(model.tokenizer, progress);
  const pairs = dataset.trainingPairs(tokenized, config.max_length, config.truncation_mode);
  const held = splitTrainEval([...pairs.rows], config.eval_split, config.seed).eval;
  if (held.length === 0) return distinctPrompts(dataset.source, source.count);
  return distinctPrompts(dataset.source, Infinity, held);
}

/**
 * Answers to a set of prompts from the reference and/or the policy, `answersPerPrompt` each, decoded
 * in batches. Sampling is seeded per answer, the same for both models, so they draw alike.
 */
export async function answerPrompts(
  model: ModelSession,
  dataset: DatasetSession | null,
  request: AnswerRequest,
  active: ActivePolicy,
  progress: Progress,
): Promise<AnswerSet> {
  const k = request.answersPerPrompt;
  if (!Number.isInteger(k) || k < 1) throw new Error(`answers per prompt must be a whole number ≥ 1, got ${k}`);
  if (request.models.length === 0) throw new Error('choose the reference, the policy or both to answer');
  const prompts = await resolvePrompts(request.prompts, model, dataset, progress);
  if (prompts.length === 0) throw new Error('there are no prompts to answer');
  const total = prompts.length * k * request.models.length;
  if (total > MAX_ANSWERS)
    throw new Error(`${total} answers asked for; at most ${MAX_ANSWERS} at a time (fewer prompts or answers per prompt)`);

  const tok = model.tokenizer;
  const rows = prompts.flatMap((p) => {
    const ids = promptIds(model.tokenizer, p.prompt, GENERATION_PROMPT);
    return Array.from({ length: k }, () => ids);
  });
  const stopIds = stopTokenIds(tok, model.generationConfig);
  const answers: Record<AnswerModel, string[][] | null> = { reference: null, policy: null };
  let done = 0;
  for (const which of request.models) {
    const adapter = which === 'policy' ? active.policy : active.reference;
    // Without an adapter of its own the policy is the reference: same model, same seeds, same answers.
    if (which === 'policy' && adapter === active.reference && answers.reference) {
      answers.policy = answers.reference;
      done += rows.length;
      continue;
    }
    const texts: string[] = [];
    for (let start = 0; start < rows.length; start += ROWS_PER_BATCH) {
      const batch = rows.slice(start, start + ROWS_PER_BATCH);
      const part = rows.length > ROWS_PER_BATCH ? ` ${start + 1}–${start + batch.length} of ${rows.length}` : '';
      const report = (step: number) =>
        progress(
          'answer',
          `${which} answers${part}: token ${step} of at most ${request.maxNewTokens}`,
          (done + (batch.length * step) / request.maxNewTokens) / total,
        );
      report(0);
      const out = await generateBatch(model.model, batch, {
        adapter,
        maxNewTokens: request.maxNewTokens,
        temperature: request.temperature,
        seed: request.seed + start,
        stopIds,
        lengthBucket: LENGTH_BUCKET,
        onStep: report,
      });
      for (const ids of out) texts.push(tok.decode(ids, true));
      done += out.length;
    }
    answers[which] = prompts.map((_, i) => texts.slice(i * k, (i + 1) * k));
  }
  progress('answer', 'done', 1);
  const result: PromptAnswers[] = prompts.map((p, i) => ({
    prompt: p.prompt,
    line: p.line,
    reference: answers.reference?.[i] ?? null,
    policy: answers.policy?.[i] ?? null,
  }));
  return { policy: active.label, prompts: result };
}
