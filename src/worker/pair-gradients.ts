import { tokenizePairs } from '../core/data/tokenize';
import { pairGradients } from '../core/dpo/pair-gradients';
import { kernelsFor } from '../core/kernels';
import { createLoraAdapter, disposeAdapter } from '../core/model/lora';
import type { LoraAdapter } from '../core/model/types';
import type { ActivePolicy } from './evaluation';
import { cloneAdapterTrainable, type ModelSession } from './model-session';
import type { PairGradientRequest, PairGradientTable, Task } from './protocol';

type Progress = (task: Task, label: string, fraction: number | null) => void;

/**
 * Per-pair slope and LoRA gradient of the given rows under the active policy (the latest run's adapter,
 * a loaded adapter, or, before any run, a fresh adapter as training would create it at step 0).
 * Gradients need trainable variables, so a loaded adapter is measured through a trainable copy.
 */
export async function measurePairGradients(
  session: ModelSession,
  request: PairGradientRequest,
  active: ActivePolicy,
  backend: string,
  progress: Progress,
): Promise<PairGradientTable> {
  const { config } = request;
  if (request.rows.length === 0) throw new Error('choose at least one pair to measure');
  const report = tokenizePairs(request.rows, session.tokenizer, { max_length: config.max_length, truncation_mode: config.truncation_mode });
  const lost = [...report.failed, ...report.dropped];
  if (lost.length > 0) throw new Error(`these pairs cannot be measured: ${lost.map((i) => `line ${i.line}: ${i.reason}`).join('; ')}`);

  let owned: LoraAdapter | null = null;
  let policy = active.policy;
  let label = active.label;
  if (!policy) {
    owned = policy = createLoraAdapter(session.model, request.lora, config.seed);
    label = `${active.label} + a fresh LoRA adapter (step 0)`;
  } else if ([...policy.modules.values()].some((m) => !m.A.trainable || !m.B.trainable)) {
    owned = policy = cloneAdapterTrainable(policy);
  }
  try {
    const models = { model: session.model, policy, reference: active.reference, ...kernelsFor(backend, 'auto') };
    const pairs = await pairGradients(models, report.pairs, config, session.tokenizer.padTokenId!, (done, total) =>
      progress('score', `measured ${done} of ${total} pairs`, done / total),
    );
    return { policy: label, pairs };
  } finally {
    if (owned) disposeAdapter(owned);
  }
}
