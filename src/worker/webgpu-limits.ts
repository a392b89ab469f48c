/**
 * Which limits the WebGPU device is asked for. tfjs's WebGPU backend asks for the adapter's own
 * (on a desktop GPU often 2 GiB or more per binding); `default` asks for none, so the device has
 * WebGPU's default limits (128 MiB per storage binding, 256 MiB per buffer), as many laptops do. The
 * studio takes it from `?webgpu-limits=default`, so the paths that keep large weights in row blocks are
 * exercised on any machine.
 */
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/**
 * Replaces tfjs's 'webgpu' backend factory with one whose device has WebGPU's default limits. Call
 * before the first setBackend('webgpu').
 */
export function requestDefaultLimits(): void {
  tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('WebGPU found no adapter');
      const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
      // No requiredLimits: the device gets the defaults, whatever the adapter could offer.
      const device = await adapter.requestDevice({ requiredFeatures });
      return new WebGPUBackend(device, adapter.info);
    },
    3,
  );
}

/** The limits the backend's device actually has (not the adapter's). */
export function deviceLimits(): { maxStorageBufferBindingSize: number; maxBufferSize: number } | null {
  const device = (tf.backend() as Partial<WebGPUBackend>).device;
  if (!device) return null;
  return { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
}
