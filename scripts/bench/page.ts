/**
 * The bench page: runs in Chromium on tfjs's webgpu backend and exposes `window.bench` (protocol.ts)
 * to the driver, which asks for one measurement at a time.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { measureKernel } from './kernel-cases';
import { probeMatmul } from './matmul-probe';
import { guarded, watchDevice, webgpu } from './measure';
import type { BenchApi } from './protocol';
import { measureStep } from './step-cases';

const api: BenchApi = {
  async ready() {
    const ok = await tf.setBackend('webgpu');
    if (!ok) throw new Error('the webgpu backend could not start (no WebGPU adapter in this browser?)');
    await tf.ready();
    watchDevice();
    const { device } = webgpu();
    const info = device.adapterInfo;
    return {
      backend: tf.getBackend(),
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      description: info?.description ?? '',
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      userAgent: navigator.userAgent,
    };
  },
  matmulProbe: (c) => guarded(() => probeMatmul(c)),
  kernel: (c) => guarded(() => measureKernel(c)),
  step: (c) => guarded(() => measureStep(c)),
};

window.bench = api;
document.body.dataset.ready = 'true';
