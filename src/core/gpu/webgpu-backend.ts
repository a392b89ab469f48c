/**
 * tfjs's WebGPU backend on a given `GPU` (the browser's navigator.gpu, or Dawn's in Node), with the
 * device limits asked for, and the monitor hooked into its device: the one start-up the studio's
 * worker and the headless engine share.
 *
 * Limits: `adapter` asks for the adapter's own (on a desktop GPU often 1 GiB or more per binding),
 * as tfjs does; `default` asks for none, so the device has WebGPU's default limits (128 MiB per
 * storage binding, 256 MiB per buffer), as many laptops do, and the paths that keep large weights in
 * row blocks run on any machine.
 */
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { installDeterministicMatMul } from './deterministic';
import type { Restart } from './failure';
import {
  GpuMonitor,
  watchFirstDispatches,
  watchReadBacks,
  type DispatchBackend,
  type GpuGuard,
  type MonitoredDevice,
  type ReadBackBackend,
} from './monitor';

export type WebGpuLimits = 'adapter' | 'default';

let started: WebGpuAdapterInfo | null = null;

/** The adapter tfjs's backend runs on, as a person would name it. */
export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
}

/**
 * Registers the 'webgpu' backend factory (replacing tfjs's, which only registers where a window or a
 * worker global exists) on `gpu`, with `limits`. Call before the first setBackend('webgpu').
 */
export function registerWebGpuBackend(gpu: GPU, limits: WebGpuLimits): void {
  installDeterministicMatMul();
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('WebGPU found no adapter');
      const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
      const a = adapter.limits;
      // The limits tfjs's own factory asks for; `default` asks for none.
      const requiredLimits =
        limits === 'default'
          ? undefined
          : {
              maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
              maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
              maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
              maxBufferSize: a.maxBufferSize,
              maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
              maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
            };
      const device = await adapter.requestDevice({ requiredFeatures, ...(requiredLimits ? { requiredLimits } : {}) });
      const info = adapter.info;
      started = { vendor: info.vendor || 'unknown', architecture: info.architecture || 'unknown', description: info.description || '' };
      return new WebGPUBackend(device, adapter.info);
    },
    3,
  );
}

/** The limits the backend's device actually has (not the adapter's); null off WebGPU. */
export function deviceLimits(): { maxStorageBufferBindingSize: number; maxBufferSize: number } | null {
  const device = (tf.backend() as Partial<WebGPUBackend>).device;
  if (!device) return null;
  return { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize };
}

/** The adapter the registered backend started on; null before it started. */
export function adapterInfo(): WebGpuAdapterInfo | null {
  return started;
}

/**
 * Hooks a GpuMonitor into the current tfjs WebGPU backend: its device's errors and loss, its
 * programs' first dispatches, its one read-back path. `timeoutMs` is the watchdog of an operation
 * run without its own.
 */
export function monitorWebGpuBackend(timeoutMs: () => number, restart: Restart = 'page'): GpuGuard {
  const backend = tf.backend() as unknown as ReadBackBackend & DispatchBackend & { device: MonitoredDevice };
  const monitor = new GpuMonitor(backend.device, timeoutMs(), restart);
  watchReadBacks(backend, monitor);
  watchFirstDispatches(backend, monitor);
  return {
    run: (operation, work, ms) => monitor.run(operation, work, ms ?? timeoutMs()),
    scoped: (operation, allocate) => monitor.scoped(operation, allocate, timeoutMs()),
    get lost() {
      return monitor.lost;
    },
  };
}
