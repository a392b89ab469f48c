/**
 * The headless engine's tfjs backend: WebGPU through Dawn (the `webgpu` package's dawn.node) with the
 * same WGSL kernels and the same GPU monitor as the studio's worker; tfjs's WASM backend (SIMD; its
 * threads need a browser's workers, tfjs runs it single-threaded in Node); or the CPU backend (pure
 * JavaScript, the reference). `auto` takes WebGPU where Dawn finds an adapter, else WASM.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TokenScorer } from '../core/dpo/logps';
import type { dpoLoss } from '../core/dpo/losses';
import { WATCHDOG_GUARD, type GpuGuard } from '../core/gpu';
import type { WebGpuAdapterInfo, WebGpuLimits } from '../core/gpu/webgpu-backend';
import { NO_DEVICE_LIMITS, type DeviceLimits } from '../core/train/memory-plan';
import { installDawn } from './dawn';

export type CliBackendName = 'cpu' | 'wasm' | 'webgpu';
export const CLI_BACKENDS: readonly CliBackendName[] = ['cpu', 'wasm', 'webgpu'];
export type CliBackendChoice = CliBackendName | 'auto';

export interface CliBackend {
  name: CliBackendName;
  /** Every GPU operation runs through it: the device's errors and loss (WebGPU), and a watchdog. */
  guard: GpuGuard;
  /** Our fused LM-head scorer and loss on WebGPU; none (the composed ops) on the CPU. */
  kernels: { scorer?: TokenScorer; loss?: typeof dpoLoss };
  /** The device's buffer limits (none on the CPU: its tensors live in this machine's memory). */
  limits: DeviceLimits;
  /** One line for the log: the backend, the adapter and its binding limit. */
  description: string;
  /**
   * Lets the device go before the process exits. Dawn's native teardown at exit can crash (SIGSEGV)
   * while a device that reported an error still holds work, so the device is destroyed and its
   * loss awaited first.
   */
  close(): Promise<void>;
}

/** Where Chromium keeps SwiftShader's Vulkan driver on Debian: a CPU that WebGPU can use. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const NO_ADAPTER =
  'WebGPU (Dawn) found no GPU adapter. On Linux Dawn uses Vulkan: install the Vulkan loader (Debian: apt-get install libvulkan1) ' +
  `and your GPU's Vulkan driver. Without a GPU, VK_ICD_FILENAMES=${SWIFTSHADER_ICD} runs it on Chromium's SwiftShader (a CPU). ` +
  "Or pass --backend wasm (tfjs's WASM backend) or --backend cpu.";

/**
 * Starts the backend. `otherMs`: the watchdog of a GPU wait outside training steps. `auto`: WebGPU
 * where Dawn finds an adapter, else WASM (the description says why).
 */
export async function startBackend(choice: CliBackendChoice, limits: WebGpuLimits, otherMs: () => number): Promise<CliBackend> {
  if (choice === 'cpu') {
    await tf.setBackend('cpu');
    // The CPU backend's first write prints an advert for tfjs-node, whose native download cannot be
    // part of this project; mark the backend as used so the terminal shows only our own output.
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    return {
      name: 'cpu',
      guard: WATCHDOG_GUARD,
      kernels: {},
      limits: NO_DEVICE_LIMITS,
      description: "tfjs's CPU backend",
      close: async () => undefined,
    };
  }
  if (choice === 'wasm') return startWasm('');
  if (choice === 'auto') {
    try {
      return await startWebGpu(limits, otherMs);
    } catch (e) {
      if (!(e instanceof NoAdapterError)) throw e;
      return startWasm(' (no WebGPU adapter found; --backend webgpu says how to get one)');
    }
  }
  return startWebGpu(limits, otherMs);
}

class NoAdapterError extends Error {}

/** Where the package keeps its .wasm binaries: beside its Node entry point (also in a bundle). */
function wasmDirectory(): string {
  return dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + '/';
}

async function startWasm(why: string): Promise<CliBackend> {
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  setWasmPaths(wasmDirectory());
  if (!(await tf.setBackend('wasm'))) throw new Error(`tfjs's WASM backend could not start from ${wasmDirectory()}`);
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return {
    name: 'wasm',
    guard: WATCHDOG_GUARD,
    kernels: {},
    limits: NO_DEVICE_LIMITS,
    description: `tfjs's WASM backend (${simd ? 'SIMD' : 'no SIMD'}, one thread)${why}`,
    close: async () => undefined,
  };
}

async function startWebGpu(limits: WebGpuLimits, otherMs: () => number): Promise<CliBackend> {
  const { gpu, forget } = await installDawn();
  const { adapterInfo, deviceLimits, monitorWebGpuBackend, registerWebGpuBackend } = await import('../core/gpu/webgpu-backend');
  registerWebGpuBackend(gpu, limits);
  if (!(await gpu.requestAdapter())) throw new NoAdapterError(NO_ADAPTER);
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not start its WebGPU backend on Dawn's adapter");
  await tf.ready();
  const guard = monitorWebGpuBackend(otherMs, 'command');
  const { kernelsFor, useAttentionKernel, useLinearKernels } = await import('../core/kernels');
  useLinearKernels('auto');
  useAttentionKernel('auto');
  const device = deviceLimits()!;
  return {
    name: 'webgpu',
    guard,
    kernels: kernelsFor('webgpu', 'auto'),
    limits: device,
    description: `WebGPU on ${describeAdapter(adapterInfo())} (Dawn), ${limits === 'default' ? "WebGPU's default limits" : "the adapter's limits"}: ${mib(device.maxStorageBufferBindingSize)} per binding, ${mib(device.maxBufferSize)} per buffer`,
    close: async () => {
      const gpuDevice = (tf.backend() as unknown as { device?: GPUDevice }).device;
      if (gpuDevice) {
        gpuDevice.destroy();
        await gpuDevice.lost;
      }
      forget();
    },
  };
}

function describeAdapter(info: WebGpuAdapterInfo | null): string {
  if (!info) return 'an unknown adapter';
  return [info.vendor, info.architecture, info.description].filter((s) => s && s !== 'unknown').join(' ') || 'an unnamed adapter';
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}
