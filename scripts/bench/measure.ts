/**
 * Page-side measurement: time a computation on the webgpu backend, take its peak GPU bytes, and turn
 * anything that goes wrong (a WebGPU validation or out-of-memory error, a lost device, an exception)
 * into a Failure instead of a crash, so that one shape that cannot run leaves the rest of the run alone.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { Failure, Measured, Outcome } from './protocol';

/** A shape the adapter cannot hold, found before trying it. */
export class LimitError extends Error {}

/**
 * Errors of WebGPU or tfjs that mean "this shape is too big for this adapter", not "our code is wrong"
 * (a pipeline over a per-stage limit, say, is our code's fault and stays an error).
 */
const LIMIT_PATTERN =
  /out of memory|device (was )?lost|max(imum)? buffer size|maxBufferSize|maxStorageBufferBindingSize|storage buffer binding size|dispatch size exceeds|allocation failed|failed to allocate/i;

let deviceLost: string | null = null;
const uncaptured: string[] = [];

export function webgpu(): WebGPUBackend {
  return tf.backend() as WebGPUBackend;
}

/** Watches the device once the backend exists: a lost device fails every later measurement on this page. */
export function watchDevice(): void {
  const device = webgpu().device;
  void device.lost.then((info) => {
    deviceLost = `device lost (${info.reason}): ${info.message}`;
  });
  device.addEventListener('uncapturederror', (event) => {
    uncaptured.push((event as GPUUncapturedErrorEvent).error.message);
  });
}

/** Throws a LimitError when a tensor of this shape cannot exist as one buffer on the device. */
export function assertFits(name: string, shape: number[], bytesPerElement = 4): void {
  const bytes = shape.reduce((a, b) => a * b, 1) * bytesPerElement;
  const { maxBufferSize, maxStorageBufferBindingSize } = webgpu().device.limits;
  const limit = Math.min(maxBufferSize, maxStorageBufferBindingSize);
  if (bytes > limit) {
    throw new LimitError(
      `${name} [${shape.join(', ')}] needs ${bytes} bytes in one buffer; the device allows ${limit} ` +
        `(maxBufferSize ${maxBufferSize}, maxStorageBufferBindingSize ${maxStorageBufferBindingSize})`,
    );
  }
}

/** Only a LimitError, thrown before anything reached the device, leaves the page as it was. */
function failureOf(error: unknown): Failure {
  const reason = error instanceof Error ? error.message : String(error);
  const limit = error instanceof LimitError || LIMIT_PATTERN.test(reason);
  return { kind: limit ? 'limit' : 'error', reason: reason.split('\n')[0].slice(0, 300), tainted: !(error instanceof LimitError) };
}

/**
 * Runs a measurement inside WebGPU error scopes and a tfjs scope (every tensor it leaves behind is
 * freed, unless kept). A GPU error during the run wins over its result: a buffer that could not be
 * created makes tfjs compute garbage rather than throw.
 */
export async function guarded<T>(body: () => Promise<T>): Promise<Outcome<T>> {
  if (deviceLost) return { ok: false, failure: { kind: 'limit', reason: deviceLost, tainted: true } };
  const device = webgpu().device;
  const scopes: GPUErrorFilter[] = ['internal', 'out-of-memory', 'validation'];
  for (const filter of scopes) device.pushErrorScope(filter);
  uncaptured.length = 0;
  tf.engine().startScope();
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: await body() };
  } catch (error) {
    outcome = { ok: false, failure: failureOf(error) };
  } finally {
    tf.engine().endScope();
  }
  // Popped innermost first: validation, out-of-memory, internal. Running out of memory and internal
  // failures of the implementation count as limits of the adapter; a validation error counts as one
  // only when it names a size limit.
  const gpuFailures: Failure[] = [];
  for (const filter of [...scopes].reverse()) {
    const error = await device.popErrorScope();
    if (!error) continue;
    const reason = `WebGPU ${filter} error: ${error.message.split('\n')[0]}`.slice(0, 300);
    gpuFailures.push({ kind: filter !== 'validation' || LIMIT_PATTERN.test(reason) ? 'limit' : 'error', reason, tainted: true });
  }
  for (const message of uncaptured.splice(0)) {
    const reason = `WebGPU error: ${message.split('\n')[0]}`.slice(0, 300);
    gpuFailures.push({ kind: LIMIT_PATTERN.test(reason) ? 'limit' : 'error', reason, tainted: true });
  }
  if (deviceLost) return { ok: false, failure: { kind: 'limit', reason: deviceLost, tainted: true } };
  if (gpuFailures.length > 0) return { ok: false, failure: gpuFailures[0] };
  return outcome;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One run: encodes the work and returns a small tensor whose read-back waits for all of it. */
export type Run = () => tf.Tensor | Promise<tf.Tensor>;

async function timedRun(run: Run): Promise<number> {
  tf.engine().startScope();
  try {
    const started = performance.now();
    const probe = await run();
    const values = await probe.data();
    const elapsed = performance.now() - started;
    for (const v of values) if (!Number.isFinite(v)) throw new Error(`the run produced a non-finite value (${v})`);
    return elapsed;
  } finally {
    tf.engine().endScope();
  }
}

/**
 * Runs `body` while recording the peak of tf.memory().numBytesInGPU: the bytes of GPU buffers held by
 * live tensors and by work queued but not yet submitted. tfjs counts tf.memory().numBytes per tensor
 * object, so views sharing one buffer (a reshape, a tensor saved for the gradient) would count twice;
 * the buffer manager counts what the device actually holds.
 */
async function withGpuPeak<T>(body: () => Promise<T>): Promise<{ result: T; peak: number }> {
  const manager = webgpu().bufferManager;
  const acquire = manager.acquireBuffer;
  let peak = manager.numBytesUsed;
  manager.acquireBuffer = function (this: typeof manager, ...args: Parameters<typeof acquire>) {
    const buffer = acquire.apply(this, args);
    peak = Math.max(peak, this.numBytesUsed);
    return buffer;
  };
  try {
    const result = await body();
    return { result, peak };
  } finally {
    manager.acquireBuffer = acquire;
  }
}

/**
 * Submits whatever tfjs has queued: buffers of tensors disposed while queued work still used them are
 * released only at the next submit, and must not count towards the next measurement's peak.
 */
async function settleQueue(): Promise<void> {
  const probe = tf.zeros([1]);
  await probe.data();
  probe.dispose();
}

/**
 * Median wall time of `timed` runs after `warmup` runs, and the peak GPU bytes during the first run
 * (a warm-up run, or with no warm-up the first timed run, whose time then includes compiling the
 * shaders); with baseline 'inputs', minus the bytes held before it (the run's inputs, which exist
 * before the op in a real step too).
 */
export async function measureRuns(run: Run, warmup: number, timed: number, baseline: 'inputs' | 'none'): Promise<Measured> {
  if (warmup < 0 || timed < 1)
    throw new Error(`measureRuns: need at least one timed run and no negative warm-up, got ${warmup} and ${timed}`);
  await settleQueue();
  const before = webgpu().bufferManager.numBytesUsed;
  const first = await withGpuPeak(() => timedRun(run));
  const peak = first.peak;
  for (let i = 1; i < warmup; i++) await timedRun(run);
  const times: number[] = warmup === 0 ? [first.result] : [];
  for (let i = times.length; i < timed; i++) times.push(await timedRun(run));
  return { medianMs: median(times), peakBytes: baseline === 'inputs' ? peak - before : peak };
}

/** The end-to-end read of a tensor that waits for everything queued before it: its first element. */
export function firstElement(t: tf.Tensor): tf.Tensor {
  return tf.slice(tf.reshape(t, [-1]), [0], [1]);
}
