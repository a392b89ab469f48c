/**
 * The bench's measurements on tfjs's webgpu backend, wherever that backend runs: the bench page in
 * Chromium (page.ts) or a Node process on Dawn (node-child.ts). The driver asks for one at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { installDeterministicMatMul } from '../../src/core/gpu/deterministic';
import { measureKernel } from './kernel-cases';
import { probeMatmul } from './matmul-probe';
import { guarded, watchDevice, webgpu } from './measure';
import type { BenchApi, DeviceLimits } from './protocol';
import { measureStep, stepLogps } from './step-cases';

/**
 * tfjs asks the adapter for its largest buffers; with 'webgpu-default' the device gets WebGPU's default
 * limits instead, as many GPUs' browsers give (128 MiB per binding, 256 MiB per buffer).
 */
function useDefaultLimits(): void {
  tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('no WebGPU adapter');
      return new WebGPUBackend(await adapter.requestDevice(), adapter.info);
    },
    3,
  );
}

/** `host`: what runs the backend, for the report (the browser's user agent, or Node and Dawn). */
export function benchApi(limits: DeviceLimits, host: string): BenchApi {
  return {
    async ready() {
      if (limits === 'webgpu-default') useDefaultLimits();
      // As the studio and the CLI run it: no product runs tfjs's atomic split-K program.
      installDeterministicMatMul();
      const ok = await tf.setBackend('webgpu');
      if (!ok) throw new Error('the webgpu backend could not start (no WebGPU adapter found)');
      await tf.ready();
      watchDevice();
      const { device } = webgpu();
      const info = device.adapterInfo;
      return {
        backend: tf.getBackend(),
        limits,
        vendor: info?.vendor ?? '',
        architecture: info?.architecture ?? '',
        description: info?.description ?? '',
        maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
        maxBufferSize: device.limits.maxBufferSize,
        userAgent: host,
      };
    },
    matmulProbe: (c) => guarded(() => probeMatmul(c)),
    kernel: (c) => guarded(() => measureKernel(c)),
    step: (c) => guarded(() => measureStep(c)),
    logps: (c) => guarded(() => stepLogps(c)),
  };
}
