/**
 * The DPO step measurement: reference forward (adapter off), then policy forward and backward to the
 * LoRA gradients, on a random Llama-family model and a synthetic batch, as the trainer runs a
 * micro-batch (the optimizer update is left out: it is the same with kernels on or off).
 */
import * as tf from '@tensorflow/tfjs';
import { policyLoss, referenceLogps, type DpoModels } from '../../src/core/dpo/batch';
import { DEFAULT_DPO_CONFIG } from '../../src/core/dpo/config';
import { completionIndex } from '../../src/core/dpo/logps';
import { kernelsFor, useAttentionKernel, useLinearKernels } from '../../src/core/kernels';
import { parseModelConfig } from '../../src/core/model/config';
import { createCausalLM } from '../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../src/core/model/lora';
import type { CausalLM, HostTensor, LoraAdapter } from '../../src/core/model/types';
import { assertFits, firstElement, measureRuns } from './measure';
import type { StepCase, StepMeasured } from './protocol';
import { stepBatch, stepCheckpoint } from './step-inputs';

interface BuiltModel {
  key: string;
  model: CausalLM;
  adapter: LoraAdapter;
}

/** The last model built: kernels on and off run on the same weights without building them twice. */
let built: BuiltModel | null = null;

function modelKey(c: StepCase): string {
  return JSON.stringify([c.dims, c.lora, c.seed]);
}

function buildModel(c: StepCase): BuiltModel {
  const key = modelKey(c);
  if (built?.key === key) return built;
  if (built) {
    built.model.dispose();
    disposeAdapter(built.adapter);
    built = null;
  }
  assertFits('embedding', [c.dims.vocab_size, c.dims.hidden_size]);
  const { configJson, tensors } = stepCheckpoint(c);
  const config = parseModelConfig(configJson, `random ${c.model}`);
  const host = new Map<string, HostTensor>([...tensors].map(([name, t]) => [name, { dtype: 'F32', shape: t.shape, data: t.data }]));
  // The weights are kept tensors and the adapter variables, so both outlive the measurement's scope.
  const model = createCausalLM(config, host, `random ${c.model}`);
  const adapter = createLoraAdapter(
    model,
    { r: c.lora.r, lora_alpha: c.lora.lora_alpha, lora_dropout: 0, target_modules: c.lora.target_modules, use_rslora: false },
    c.seed + 1,
  );
  built = { key, model, adapter };
  return built;
}

/**
 * The reference pass's completion log-probs, summed per row (chosen rows, then rejected): what another
 * implementation of the same step (the PyTorch script) must reproduce from the exported checkpoint.
 */
export async function stepLogps(c: StepCase): Promise<number[]> {
  const { models } = stepModels(c);
  const batch = stepBatch(c);
  return [...(await referenceLogps(models, batch, completionIndex(batch, null)))];
}

/** The case's model and adapter, with each kernel family on or off together: the LM head and loss, every frozen linear layer, attention. */
function stepModels(c: StepCase): { models: DpoModels; adapter: LoraAdapter } {
  const { model, adapter } = buildModel(c);
  const mode = c.kernels ? 'fused' : 'composed';
  useLinearKernels(mode);
  useAttentionKernel(mode);
  return { models: { model, policy: adapter, reference: null, ...kernelsFor(tf.getBackend(), mode) }, adapter };
}

export async function measureStep(c: StepCase): Promise<StepMeasured> {
  const { models, adapter } = stepModels(c);
  const fusedKernels = c.kernels ? ['lm_head_logps', 'dpo_loss'] : [];
  const batch = stepBatch(c);
  const index = completionIndex(batch, null);
  const params = [...adapter.modules.values()].flatMap((m) => [m.A, m.B]);
  const config = DEFAULT_DPO_CONFIG;
  assertFits('attention scores', [2 * c.pairs * c.dims.num_attention_heads, c.seqLen, c.seqLen]);

  // The reference pass reads its log-probs back before the policy pass starts, as in the trainer; the
  // policy's loss and squared gradient norm are read back at the end, so the run waits for all of it.
  const step = async () => {
    const ref = await referenceLogps(models, batch, index);
    const kept: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(
      () =>
        policyLoss(models, batch, index, ref, config, (k) => kept.push(...Object.values(k)), {
          gradientCheckpointing: c.gradientCheckpointing,
        }),
      params,
    );
    tf.dispose(kept);
    // Summed pairwise: tf.addN of many tensors binds more storage buffers than a stage may have.
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    return firstElement(squares.reduce<tf.Tensor>((sum, sq) => tf.add(sum, sq), value));
  };
  const measured = await measureRuns(step, c.warmupRuns, c.timedRuns, 'none');
  return { ...measured, tokens: 2 * c.pairs * c.seqLen, scoredTokens: index.positions.length, fusedKernels };
}
