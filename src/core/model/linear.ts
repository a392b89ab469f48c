import * as tf from '@tensorflow/tfjs';
import type { ForwardOptions } from './types';
import { matMulRows, matMulTransposed, type RowWeight } from './weights';

/**
 * The linear layer every architecture builds on: the base projection plus, when an adapter is active
 * and adapts this module, its LoRA term. Kept apart from ./lora so architecture files import it
 * without importing the registry lookups there.
 */

/**
 * The LoRA term of one linear module for inputs x [n, in]: scaling · dropout(x) Aᵀ Bᵀ, or null when
 * no adapter is active or it does not adapt this module. PEFT applies dropout to the LoRA branch only.
 * Each module draws its own mask (a seed per module path), as each PEFT layer owns its nn.Dropout.
 */
export function loraDelta(x: tf.Tensor2D, modulePath: string, options: ForwardOptions): tf.Tensor2D | null {
  const adapter = options.adapter;
  const pair = adapter?.modules.get(modulePath);
  if (!adapter || !pair) return null;
  const rate = adapter.config.lora_dropout;
  const input: tf.Tensor2D =
    options.dropout && rate > 0 ? (tf.dropout(x, rate, undefined, `${options.dropoutSeed ?? 0}:${modulePath}`) as tf.Tensor2D) : x;
  const down: tf.Tensor2D = tf.mul(tf.matMul(input, pair.A, false, true), adapter.scaling);
  return tf.matMul<tf.Tensor2D>(down, pair.B, false, true);
}

/** A frozen linear layer of the base model. */
export interface FrozenLinear {
  /** Hugging Face module path, the key of its LoRA pair. */
  path: string;
  /** nn.Linear stores [out, in]; GPT-2's Conv1D stores [in, out] (PEFT's fan_in_fan_out). Whole or in row blocks. */
  weight: RowWeight;
  bias: tf.Tensor1D | null;
  fanInFanOut: boolean;
}

/** y = x W (+ b) + the LoRA term, for x [n, in]. */
export function linearForward(x: tf.Tensor2D, layer: FrozenLinear, options: ForwardOptions): tf.Tensor2D {
  let y: tf.Tensor2D = layer.fanInFanOut ? matMulRows(x, layer.weight) : matMulTransposed(x, layer.weight);
  if (layer.bias) y = tf.add(y, layer.bias);
  const delta = loraDelta(x, layer.path, options);
  return delta ? tf.add(y, delta) : y;
}
