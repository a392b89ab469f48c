import * as tf from '@tensorflow/tfjs';
import { collatePreference } from '../data/collate';
import type { PairSource } from '../data/pair-source';
import type { PreferenceBatch, TokenizedPair } from '../data/types';
import { Trainer, type LogEntry, type MicroBatch, type MicroBatchContext, type Objective } from '../train/trainer';
import { batchMetrics, policyLoss, readBatchResult, referenceLogps, type BatchResult, type DpoModels } from './batch';
import type { DPOConfig } from './config';
import { evaluatePairs } from './evaluate';
import { completionIndex } from './logps';

export { NonFiniteError, type LogEntry, type TrainerState } from '../train/trainer';

export interface TrainerInit {
  models: DpoModels;
  /** The training pairs, held in memory or read on demand (a file too large to hold). */
  train: TokenizedPair[] | PairSource;
  /** The held-out pairs, kept in memory. */
  eval?: TokenizedPair[];
  config: DPOConfig;
  padTokenId: number;
}

interface DpoMicroBatch extends MicroBatch {
  result: BatchResult;
}

/** Which split a reference log-prob belongs to: train and eval pairs may share an index. */
type Split = 't' | 'e';

/**
 * The DPO loss of a micro-batch against the reference (run live, or read from the precomputed cache),
 * divided by the step's micro-batch count so the summed gradient is the mean over the step.
 */
class DpoObjective implements Objective<TokenizedPair, DpoMicroBatch> {
  readonly items = 'the pairs on lines';
  /** num_tokens: the attention-mask totals of every training batch so far, prompts counted in both rows. */
  readonly logsTokensSeen = true;
  /** TRL's precompute_ref_log_probs: [chosen, rejected] per pair, filled by DPOTrainer.precomputeReference. */
  refCache: Map<number, [number, number]> | null = null;

  constructor(
    private readonly models: DpoModels,
    private readonly params: tf.Variable[],
    private readonly config: DPOConfig,
    private readonly padTokenId: number,
  ) {}

  collate(pairs: TokenizedPair[]): PreferenceBatch {
    return collatePreference(pairs, {
      max_length: this.config.max_length,
      max_prompt_length: this.config.max_prompt_length,
      truncation_mode: this.config.truncation_mode,
      pad_token_id: this.padTokenId,
    });
  }

  cacheKey(split: Split, p: TokenizedPair): number {
    return split === 't' ? p.index : -1 - p.index;
  }

  cachedRef(split: Split, pairs: TokenizedPair[]): Float32Array | undefined {
    const cache = this.refCache;
    if (!cache) return undefined;
    const out = new Float32Array(2 * pairs.length);
    pairs.forEach((p, j) => {
      const [c, r] = cache.get(this.cacheKey(split, p))!;
      out[j] = c;
      out[j + pairs.length] = r;
    });
    return out;
  }

  async microBatch(pairs: TokenizedPair[], ctx: MicroBatchContext): Promise<DpoMicroBatch> {
    const c = this.config;
    const batch = this.collate(pairs);
    const index = completionIndex(batch, c.ld_alpha);
    const ref = this.cachedRef('t', pairs) ?? (await referenceLogps(this.models, batch, index));
    let kept: Parameters<typeof readBatchResult>[1] | undefined;
    const forward = { dropout: !c.disable_dropout, dropoutSeed: ctx.rng.int(2 ** 31), gradientCheckpointing: c.gradient_checkpointing };
    const { value, grads } = tf.variableGrads(
      () =>
        tf.div(
          policyLoss(this.models, batch, index, ref, c, (x) => (kept = x), forward),
          ctx.microBatches,
        ) as tf.Scalar,
      this.params,
    );
    const loss = (await value.data())[0] * ctx.microBatches;
    value.dispose();
    const result = await readBatchResult(loss, kept!, batch, index, ref);
    return {
      loss,
      grads: this.params.map((p) => grads[p.name]),
      tokens: result.numTokens,
      ids: pairs.map((p) => p.line),
      result,
    };
  }

  /** TRL's per-batch metrics, one entry per micro-batch, then the step's throughput. */
  stepMetrics(batches: DpoMicroBatch[], seconds: number): Record<string, number>[] {
    const tokens = batches.reduce((sum, b) => sum + b.tokens, 0);
    return [...batches.map((b) => batchMetrics(b.result)), { tokens_per_second: tokens / seconds }];
  }
}

/**
 * DPO training of a LoRA adapter: TRL's DPOTrainer, the shared loop (AdamW on the adapter only) over the
 * DPO loss, with the reference pass (or its precomputed cache) and eval over the held-out pairs.
 */
export class DPOTrainer extends Trainer<TokenizedPair, DpoMicroBatch, DPOConfig> {
  private readonly dpo: DpoObjective;
  private readonly models: DpoModels;
  private readonly evalPairs: TokenizedPair[];
  private readonly padTokenId: number;

  constructor(init: TrainerInit) {
    if (init.train.length === 0) throw new Error('the training set has no pairs');
    if (!init.models.policy) throw new Error('training needs a LoRA adapter on the policy');
    const params = [...init.models.policy.modules.values()].flatMap((m) => [m.A, m.B]);
    const objective = new DpoObjective(init.models, params, init.config, init.padTokenId);
    const evalPairs = init.eval ?? [];
    super({ objective, params, train: init.train, config: init.config, evaluates: evalPairs.length > 0 });
    this.dpo = objective;
    this.models = init.models;
    this.evalPairs = evalPairs;
    this.padTokenId = init.padTokenId;
  }

  /**
   * One reference pass over the training (and eval) pairs, in order, kept per pair: TRL's
   * precompute_ref_log_probs. Later steps read the cache instead of running the reference.
   */
  async precomputeReference(onProgress?: (done: number, total: number) => void): Promise<void> {
    const cache = new Map<number, [number, number]>();
    const bs = this.config.per_device_eval_batch_size;
    const trainCount = this.train.length;
    const total = trainCount + this.evalPairs.length;
    for (let i = 0; i < total; i += bs) {
      const positions = Array.from({ length: Math.min(bs, total - i) }, (_, j) => i + j);
      const trainPart = await this.train.get(positions.filter((p) => p < trainCount));
      const chunk = [
        ...trainPart.map((p) => ['t', p] as const),
        ...positions.filter((p) => p >= trainCount).map((p) => ['e', this.evalPairs[p - trainCount]] as const),
      ];
      const batch = this.dpo.collate(chunk.map(([, p]) => p));
      const ref = await referenceLogps(this.models, batch, completionIndex(batch, this.config.ld_alpha));
      chunk.forEach(([split, p], j) => cache.set(this.dpo.cacheKey(split, p), [ref[j], ref[j + batch.B]]));
      onProgress?.(i + positions.length, total);
    }
    this.dpo.refCache = cache;
  }

  /** Eval metrics over the held-out pairs, eval_-prefixed (eval_num_tokens: the training tokens so far, as TRL). */
  async evaluate(): Promise<LogEntry> {
    const { metrics } = await evaluatePairs(this.models, this.evalPairs, this.config, this.padTokenId, {
      referenceLogps: (pairs) => this.dpo.cachedRef('e', pairs),
      trainTokens: this.tokensSeen ?? undefined,
    });
    const out: LogEntry = { step: this.globalStep, epoch: this.loggedEpoch };
    for (const [k, v] of Object.entries(metrics)) out[`eval_${k}`] = v;
    return out;
  }
}
