import * as tf from '@tensorflow/tfjs';

/**
 * The tensor memory a run really holds, and its peak within a step.
 *
 * tf.memory().numBytes counts every tensor object, so a reshape, a clone the gradient tape saves, or
 * a kept view counts its data again; the backward pass of a decoder holds hundreds of such views, and
 * the sum reads about twice what the device holds. This meter counts each data buffer once, from the
 * moment tfjs first tracks it to the moment the backend frees it, by wrapping the engine's two
 * book-keeping methods. It also records the highest value reached, which sampling between steps cannot
 * see: a training step's peak is inside the backward pass.
 *
 * Only tensors created after the meter is installed are counted: install it before loading a model.
 */

interface EngineBooks {
  state: { tensorInfo: WeakMap<object, { backend: unknown }> };
  trackTensor(a: tf.Tensor, backend: unknown): void;
  removeDataId(dataId: object, backend: unknown): void;
}

export interface MemoryMeter {
  /** Bytes of tensor data alive now. */
  readonly current: number;
  /** The most bytes alive at once since the meter was installed or its peak last reset. */
  readonly peak: number;
  /** Starts a new peak from what is alive now. */
  resetPeak(): void;
  /** The most bytes alive at once since the interval began (see startInterval); independent of `peak`. */
  readonly intervalPeak: number;
  /** Starts a new interval from what is alive now (e.g. at each logging step). */
  startInterval(): void;
}

let installed: MemoryMeter | null = null;

/** The engine's meter, installed on first call (later calls return the same one). */
export function tensorMemoryMeter(): MemoryMeter {
  if (installed) return installed;
  const engine = tf.engine() as unknown as EngineBooks;
  const live = new Map<object, number>();
  let current = 0;
  let peak = 0;
  let intervalPeak = 0;
  const track = engine.trackTensor.bind(engine);
  const remove = engine.removeDataId.bind(engine);
  engine.trackTensor = (a, backend) => {
    const fresh = !engine.state.tensorInfo.has(a.dataId);
    track(a, backend);
    if (!fresh || a.dtype === 'string' || a.dtype === 'complex64') return;
    const bytes = a.size * tf.util.bytesPerElement(a.dtype);
    live.set(a.dataId, bytes);
    current += bytes;
    if (current > peak) peak = current;
    if (current > intervalPeak) intervalPeak = current;
  };
  engine.removeDataId = (dataId, backend) => {
    remove(dataId, backend);
    const bytes = live.get(dataId);
    if (bytes === undefined || engine.state.tensorInfo.has(dataId)) return;
    live.delete(dataId);
    current -= bytes;
  };
  installed = {
    get current() {
      return current;
    },
    get peak() {
      return peak;
    },
    resetPeak() {
      peak = current;
    },
    get intervalPeak() {
      return intervalPeak;
    },
    startInterval() {
      intervalPeak = current;
    },
  };
  return installed;
}
