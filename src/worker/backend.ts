import * as tf from '@tensorflow/tfjs';
import type { BackendPreference, EngineInfo, WebGpuInfo } from './protocol';

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
 * Picks the tfjs backend: WebGPU when the browser has an adapter and the user did not ask for the
 * CPU, else the CPU backend. The kernels module registers the webgpu backend as a side effect, so it
 * is imported only here, before the first setBackend.
 */
export async function initBackend(preference: BackendPreference): Promise<EngineInfo> {
  const webgpu = await probeWebGpu();
  if (preference !== 'cpu' && webgpu.available) {
    await import('@tensorflow/tfjs-backend-webgpu');
    try {
      if (await tf.setBackend('webgpu')) {
        await tf.ready();
        return { backend: 'webgpu', webgpu, kernels: 'fused' };
      }
      webgpu.reason = 'tfjs could not start its WebGPU backend on this adapter.';
    } catch (e) {
      webgpu.reason = `tfjs could not start its WebGPU backend: ${e instanceof Error ? e.message : String(e)}`;
    }
  } else if (preference === 'cpu' && webgpu.available) {
    webgpu.reason = 'The CPU backend was chosen.';
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { backend: 'cpu', webgpu, kernels: 'composed' };
}
