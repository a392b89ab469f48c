import * as tf from '@tensorflow/tfjs';
import { DEFAULT_STEP_WATCHDOG, NO_GPU_GUARD, type GpuGuard, type StepWatchdog } from '../core/gpu';
import type { BackendPreference, EngineInfo, WasmInfo, WebGpuInfo, WebGpuLimits } from './protocol';

/** How long GPU waits may take: a training step's (scaled to the steps so far), and any other operation's. */
export interface WatchdogSettings extends StepWatchdog {
  /** Loading, scoring, generation, exports: one read-back may take this long. */
  otherMs: number;
}

const DEFAULT_WATCHDOG: WatchdogSettings = { ...DEFAULT_STEP_WATCHDOG, otherMs: 10 * 60_000 };

/**
 * The watchdog's times. Tests shorten them by setting `__dpoStudioWatchdog` on the worker's global
 * (a partial WatchdogSettings) before the operation; nothing else sets it.
 */
export function watchdogSettings(): WatchdogSettings {
  const override = (globalThis as { __dpoStudioWatchdog?: Partial<WatchdogSettings> }).__dpoStudioWatchdog;
  return { ...DEFAULT_WATCHDOG, ...override };
}

let guard: GpuGuard = NO_GPU_GUARD;

/** Every GPU operation of the worker runs through this: a watchdog on its waits, and the device's errors and loss. */
export function gpu(): GpuGuard {
  return guard;
}

/** What this worker's WebGPU offers, without touching tfjs. */
async function probeWebGpu(): Promise<WebGpuInfo> {
  const none = (reason: string): WebGpuInfo => ({ available: false, vendor: '', architecture: '', description: '', reason });
  const gpu = (self.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return none('This browser does not expose WebGPU (navigator.gpu is missing).');
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return none(`WebGPU refused an adapter: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!adapter) return none('WebGPU is present but found no adapter (the GPU may be blocklisted or disabled).');
  const info = adapter.info;
  return {
    available: true,
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    description: info.description || '',
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/**
 * Picks the tfjs backend: WebGPU when the browser has an adapter and the person did not ask for
 * WebAssembly, else tfjs's WebAssembly backend (SIMD; threads where the page is cross-origin
 * isolated), and the pure-JavaScript CPU backend only if WebAssembly cannot start. Each backend's
 * package loads only here, when it is used.
 */
export async function initBackend(preference: BackendPreference, limits: WebGpuLimits = 'adapter'): Promise<EngineInfo> {
  const webgpu = await probeWebGpu();
  if (preference !== 'wasm' && webgpu.available) {
    const { deviceLimits, monitorWebGpuBackend, registerWebGpuBackend } = await import('../core/gpu/webgpu-backend');
    registerWebGpuBackend(self.navigator.gpu, limits);
    try {
      if (await tf.setBackend('webgpu')) {
        await tf.ready();
        guard = monitorWebGpuBackend(() => watchdogSettings().otherMs);
        const { useAttentionKernel, useLinearKernels } = await import('../core/kernels');
        useLinearKernels('auto');
        useAttentionKernel('auto');
        return { backend: 'webgpu', webgpu: { ...webgpu, ...deviceLimits(), limits }, kernels: 'fused' };
      }
      webgpu.reason = 'tfjs could not start its WebGPU backend on this adapter.';
    } catch (e) {
      webgpu.reason = `tfjs could not start its WebGPU backend: ${e instanceof Error ? e.message : String(e)}`;
    }
  } else if (preference === 'wasm' && webgpu.available) {
    webgpu.reason = 'WebAssembly was chosen.';
  }
  try {
    const wasm = await startWasm();
    return { backend: 'wasm', webgpu, wasm, kernels: 'composed' };
  } catch (e) {
    console.warn(`tfjs's WebAssembly backend did not start (${e instanceof Error ? e.message : String(e)}); using the CPU backend`);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { backend: 'cpu', webgpu, kernels: 'composed' };
}

/** tfjs's WebAssembly backend, its binaries served by the build beside the worker. */
async function startWasm(): Promise<WasmInfo> {
  const [{ getThreadsCount, setWasmPaths }, plain, simd, threadedSimd] = await Promise.all([
    import('@tensorflow/tfjs-backend-wasm'),
    import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url'),
    import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url'),
    import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url'),
  ]);
  setWasmPaths({
    'tfjs-backend-wasm.wasm': plain.default,
    'tfjs-backend-wasm-simd.wasm': simd.default,
    'tfjs-backend-wasm-threaded-simd.wasm': threadedSimd.default,
  });
  // Threads need shared memory, which only a cross-origin isolated page has. tfjs takes one per two
  // logical cores (for hyper-threading), at most 8.
  if (!(await tf.setBackend('wasm'))) throw new Error('setBackend refused it');
  await tf.ready();
  return {
    simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean,
    threads: getThreadsCount(),
    isolated: self.crossOriginIsolated,
  };
}
