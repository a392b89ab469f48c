/**
 * Gradient checkpointing (transformers' gradient_checkpointing, TRL's default): a decoder layer's
 * forward pass keeps nothing for the backward pass but its input; the backward pass runs the layer
 * again, this time on a gradient tape, and back-propagates through that. Training memory then holds
 * one layer's activations at a time instead of every layer's, for about one more forward pass of
 * compute. The recomputation is the same arithmetic on the same inputs (LoRA dropout masks are seeded
 * per module), so the gradients are the ones without checkpointing.
 */
import * as tf from '@tensorflow/tfjs';
import { RowSlices, type RowWeight } from './weights';
import type { ForwardOptions, LoraAdapter } from './types';

/**
 * The trainable variables a layer reads: the LoRA factors of its modules, and its base weights where
 * they are variables (full fine-tuning). Gradients flow back to these through the checkpoint.
 */
export function layerVariables(
  modulePaths: readonly string[],
  adapter: LoraAdapter | null,
  weights: readonly (tf.Tensor | RowWeight | null)[],
): tf.Variable[] {
  const out: tf.Variable[] = [];
  for (const path of modulePaths) {
    const pair = adapter?.modules.get(path);
    if (pair) out.push(pair.A, pair.B);
  }
  for (const w of weights) {
    if (w instanceof tf.Variable) out.push(w);
    else if (w instanceof RowSlices) for (const s of w.slices) if (s instanceof tf.Variable) out.push(s);
  }
  return out.filter((v) => v.trainable);
}

interface TapeState {
  state: { activeTape: unknown };
}

/**
 * Runs `layer` on x [n, d]. With checkpointing on and variables to train, the layer's intermediate
 * tensors are dropped after the forward pass and recomputed in the backward pass; otherwise it is a
 * plain call.
 */
export function checkpointed(
  layer: (x: tf.Tensor2D) => tf.Tensor2D,
  x: tf.Tensor2D,
  variables: readonly tf.Variable[],
  options: ForwardOptions,
): tf.Tensor2D {
  if (!options.gradientCheckpointing || variables.length === 0) return layer(x);
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor2D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([input]);
    return {
      // Run inside the custom op, nothing of the layer goes on the outer tape.
      value: layer(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => recompute(layer, saved[0] as tf.Tensor2D, variables, dy),
    };
  });
  return run(x, ...variables) as tf.Tensor2D;
}

/**
 * The next layer's output from x, which it consumes (disposes): the layer's intermediate tensors are
 * freed as soon as it is done, rather than when the whole forward pass ends, so a pass without a
 * gradient tape (the reference, eval) holds one layer's activations at a time. Under a tape, what the
 * backward pass needs is kept by the tape itself.
 */
export function nextLayer(
  layer: (x: tf.Tensor2D) => tf.Tensor2D,
  x: tf.Tensor2D,
  variables: readonly tf.Variable[],
  options: ForwardOptions,
): tf.Tensor2D {
  const out = tf.tidy(() => checkpointed(layer, x, variables, options));
  x.dispose();
  return out;
}

/** The layer again, on its own tape: gradients of Σ dy·layer(x) with respect to x and the variables. */
function recompute(layer: (x: tf.Tensor2D) => tf.Tensor2D, x: tf.Tensor2D, variables: readonly tf.Variable[], dy: tf.Tensor): tf.Tensor[] {
  // tfjs keeps one tape per engine: a gradient taken while another is being back-propagated replaces
  // the outer tape and clears it when done. The outer back-propagation walks its own copy of the tape,
  // but cleans up through the engine's reference afterwards, so that reference is put back.
  const engine = tf.engine() as unknown as TapeState;
  const outer = engine.state.activeTape;
  try {
    return tf.grads((input: tf.Tensor) => layer(input as tf.Tensor2D))([x, ...variables], dy);
  } finally {
    engine.state.activeTape = outer;
  }
}

/**
 * Tensors that depend only on the sequence length (causal masks, RoPE tables), built once per length
 * and kept: a checkpointed layer reads them again in the backward pass, after the forward pass's tidy
 * has ended. The few most recent lengths are kept (batches are bucketed to a few lengths).
 */
export class LengthCache<T> {
  private readonly entries = new Map<number, T>();

  constructor(
    private readonly build: (seq: number) => T,
    private readonly tensors: (value: T) => tf.Tensor[],
    private readonly capacity = 4,
  ) {}

  get(seq: number): T {
    const hit = this.entries.get(seq);
    if (hit !== undefined) {
      this.entries.delete(seq);
      this.entries.set(seq, hit);
      return hit;
    }
    const value = this.build(seq);
    for (const t of this.tensors(value)) tf.keep(t);
    this.entries.set(seq, value);
    if (this.entries.size > this.capacity) {
      const [oldest, evicted] = this.entries.entries().next().value as [number, T];
      this.entries.delete(oldest);
      for (const t of this.tensors(evicted)) t.dispose();
    }
    return value;
  }

  dispose(): void {
    for (const value of this.entries.values()) for (const t of this.tensors(value)) t.dispose();
    this.entries.clear();
  }
}
