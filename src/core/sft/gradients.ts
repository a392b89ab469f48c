import * as tf from '@tensorflow/tfjs';
import type { CausalLM, LoraAdapter } from '../model/types';
import { collateSft, sftTokenIndex, type SftCollateOptions } from './batch';
import { withScatterGatherGradient } from './gather-gradient';
import { sftLoss } from './loss';
import type { TokenizedSftExample } from './tokenize';

/** The summed completion-token loss of some examples and its gradient, so shards of a batch add up. */
export interface SummedGradients {
  /** Σ −log p over the completion tokens. */
  lossSum: number;
  /** Completion tokens scored. */
  tokens: number;
  /** ∂lossSum/∂param, one per trainable variable in order; the caller disposes them. */
  grads: tf.Tensor[];
}

/** Where a batch's gradient is computed: in this thread, or split across workers by a script. */
export type GradientSource = (examples: TokenizedSftExample[]) => Promise<SummedGradients>;

/** Computes the gradient in this thread with the model's own forward pass. */
export function localGradients(
  model: CausalLM,
  params: tf.Variable[],
  adapter: LoraAdapter | null,
  collate: SftCollateOptions,
): GradientSource {
  return async (examples) => {
    const batch = collateSft(examples, collate);
    const index = sftTokenIndex(batch);
    const { value, grads } = withScatterGatherGradient(() =>
      tf.variableGrads(() => sftLoss(model, batch, index, adapter, { reduction: 'sum' }), params),
    );
    const lossSum = (await value.data())[0];
    value.dispose();
    return { lossSum, tokens: index.labels.length, grads: params.map((p) => grads[p.name]) };
  };
}
