import { splitPairSource, type PairSource } from '../core/data/pair-source';
import type { RowSource } from '../core/data/row-store';
import type { Text, TokenizedPair } from '../core/data/types';
import type { DPOConfig } from '../core/dpo/config';
import { evaluatePairs } from '../core/dpo/evaluate';
import { pairTokenRatios } from '../core/dpo/token-ratios';
import { viewTokens } from '../core/data/pair-view';
import { generateIds, stopTokenIds } from '../core/model/generate';
import type { LoraAdapter } from '../core/model/types';
import { GENERATION_PROMPT, promptIds } from '../core/data/prompt-ids';
import { LENGTH_BUCKET } from './generate';
import { kernelsFor } from '../core/kernels';
import type { ModelSession } from './model-session';
import type { PairScore, PairScores, Sample, SampleRequest, Task, TokenRatioView } from './protocol';

type Progress = (task: Task, label: string, fraction: number | null) => void;

/** The adapter to score or sample with, and the reference it is measured against. */
export interface ActivePolicy {
  label: string;
  policy: LoraAdapter | null;
  reference: LoraAdapter | null;
}

/**
 * Per-pair log-probs of the policy and the reference on the eval split (the first `count` of the
 * training pairs when there is none), with TRL's metrics over them.
 */
export async function scorePairs(
  session: ModelSession,
  pairs: PairSource,
  config: DPOConfig,
  count: number,
  active: ActivePolicy,
  backend: string,
  progress: Progress,
): Promise<PairScores> {
  const { train, eval: held } = splitPairSource(pairs, config.eval_split, config.seed);
  const split = held.length > 0 ? 'eval' : 'train';
  const from = held.length > 0 ? held : train;
  const chosen = await from.get(Array.from({ length: Math.min(count, from.length) }, (_, i) => i));
  if (chosen.length === 0) throw new Error('there are no pairs to score');
  const models = { model: session.model, policy: active.policy, reference: active.reference, ...kernelsFor(backend, 'auto') };
  const { pairs: scored, metrics } = await evaluatePairs(models, chosen, config, session.tokenizer.padTokenId!, {
    onBatch: (done, total) => progress('score', `scored ${done} of ${total} pairs`, done / total),
  });
  const scores: PairScore[] = scored.map((s) => ({
    line: s.pair.line,
    policyChosen: s.chosenLogps,
    policyRejected: s.rejectedLogps,
    referenceChosen: s.refChosenLogps,
    referenceRejected: s.refRejectedLogps,
    loss: s.loss,
  }));
  return { policy: active.label, split, pairs: scores, metrics };
}

/** One pair's completion tokens with their log-probs under the policy and its reference. */
export async function tokenRatioView(
  session: ModelSession,
  pair: TokenizedPair,
  config: DPOConfig,
  active: ActivePolicy,
  backend: string,
): Promise<TokenRatioView> {
  const models = { model: session.model, policy: active.policy, reference: active.reference, ...kernelsFor(backend, 'auto') };
  const r = await pairTokenRatios(models, pair, config, session.tokenizer.padTokenId!);
  const side = (s: typeof r.chosen) => ({
    tokens: viewTokens(s.ids, session.tokenizer),
    policy: s.policy,
    reference: s.reference,
  });
  return { policy: active.label, line: r.line, beta: config.beta, chosen: side(r.chosen), rejected: side(r.rejected) };
}

function promptLabel(prompt: Text): string {
  return typeof prompt === 'string' ? prompt : prompt.map((m) => `${m.role}: ${m.content}`).join('\n');
}

/** Policy and reference answers to the same prompts, with the same sampling seed. */
export async function generateSamples(
  session: ModelSession,
  rows: RowSource | null,
  request: SampleRequest,
  active: ActivePolicy,
  progress: Progress,
): Promise<Sample[]> {
  if (!rows && request.rowIndices.length > 0) throw new Error('load a preference dataset first, or type a prompt');
  const chosenRows = rows ? await rows.rows(request.rowIndices) : [];
  const prompts: { prompt: Text; line: number | null }[] = chosenRows.map((row) => ({ prompt: row.prompt, line: row.line }));
  if (request.freePrompt !== null && request.freePrompt.trim() !== '') prompts.push({ prompt: request.freePrompt, line: null });
  if (prompts.length === 0) throw new Error('choose at least one prompt');
  const stopIds = stopTokenIds(session.tokenizer, session.generationConfig);
  const options = {
    maxNewTokens: request.maxNewTokens,
    temperature: request.temperature,
    seed: request.seed,
    stopIds,
    lengthBucket: LENGTH_BUCKET,
  };
  const samples: Sample[] = [];
  for (const [i, { prompt, line }] of prompts.entries()) {
    progress('generate', `answering prompt ${i + 1} of ${prompts.length}`, i / prompts.length);
    const ids = promptIds(session.tokenizer, prompt, GENERATION_PROMPT);
    const policy = await generateIds(session.model, ids, { ...options, adapter: active.policy });
    const reference = await generateIds(session.model, ids, { ...options, adapter: active.reference });
    samples.push({
      prompt: promptLabel(prompt),
      line,
      policy: session.tokenizer.decode(policy, true),
      reference: session.tokenizer.decode(reference, true),
    });
  }
  progress('generate', 'done', 1);
  return samples;
}
