/**
 * Run-to-run determinism on tfjs's WebGPU backend: the same inputs give the same bits every time.
 *
 * tfjs picks a split-K program for a matrix product with a long inner dimension and a small output
 * (batch 1, K ≥ 2000, few 32 × 32 tiles: the LoRA gradients dA and dB, whose inner dimension is the
 * batch's token count); it adds the K slices' partial sums with atomics, in whatever order the GPU
 * finishes them, so one step's gradients, and a fresh adapter's rewards, change in the last bits from
 * run to run. Those products run here on tfjs's small-output program instead, which tiles the output
 * finer and sums K in one fixed order. Every other choice tfjs makes is kept.
 *
 * The other atomic op tfjs has on our path, unsortedSegmentSum, is replaced by ../dpo/logps' segmentSum.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/** tfjs-backend-webgpu's MatMulProgramType values (webgpu_util.ts), which the package does not export. */
const SMALL_OUTPUT_SIZE_PROGRAM = 2;
/** tfjs's own rule: below this many output values the reduce program (deterministic) is used. */
const REDUCE_PROGRAM_MAX_OUTPUT = 128;
/** tfjs's own rule: split-K only for a single batch with at least this long an inner dimension. */
const SPLIT_K_MIN_INNER = 2000;

interface MatMulShapes {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Whether tfjs's automatic choice (BatchMatMul_impl.ts) would take the split-K program for this
 * product on a backend with this threshold.
 */
export function wouldSplitK({ a, b, transposeA, transposeB }: MatMulShapes, threshold: number): boolean {
  const outerA = transposeA ? a[a.length - 1] : a[a.length - 2];
  const outerB = transposeB ? b[b.length - 2] : b[b.length - 1];
  const inner = transposeB ? b[b.length - 1] : b[b.length - 2];
  const batch = Math.max(
    a.slice(0, -2).reduce((n, d) => n * d, 1),
    b.slice(0, -2).reduce((n, d) => n * d, 1),
  );
  const tiles = batch * Math.ceil(outerA / 32) * Math.ceil(outerB / 32);
  const fewTiles = tiles <= threshold || (outerA <= 8 && tiles <= threshold * 2);
  return fewTiles && batch * outerA * outerB > REDUCE_PROGRAM_MAX_OUTPUT && batch === 1 && inner >= SPLIT_K_MIN_INNER;
}

let installed = false;

/**
 * Wraps the WebGPU backend's BatchMatMul and _FusedMatMul kernels so that no product runs split-K.
 * Idempotent; does nothing where a program type was forced through WEBGPU_MATMUL_PROGRAM_TYPE.
 */
export function installDeterministicMatMul(): void {
  if (installed) return;
  installed = true;
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const original = tf.getKernel(name, 'webgpu');
    if (!original) throw new Error(`installDeterministicMatMul: tfjs's WebGPU backend has no ${name} kernel`);
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => {
        const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
        const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
        const backend = args.backend as WebGPUBackend;
        const env = tf.env();
        const forced = env.getNumber('WEBGPU_MATMUL_PROGRAM_TYPE');
        if (forced >= 0 || !wouldSplitK({ a: a.shape, b: b.shape, transposeA, transposeB }, backend.thresholdToIncreaseWorkgroups)) {
          return original.kernelFunc(args);
        }
        env.set('WEBGPU_MATMUL_PROGRAM_TYPE', SMALL_OUTPUT_SIZE_PROGRAM);
        try {
          return original.kernelFunc(args);
        } finally {
          env.set('WEBGPU_MATMUL_PROGRAM_TYPE', forced);
        }
      },
    });
  }
}
