/**
 * The headless engine's tfjs backend: the CPU (pure JavaScript), or WebGPU through Dawn (the `webgpu`
 * package's dawn.node) with the same WGSL kernels and the same GPU monitor as the studio's worker.
 */
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import type { TokenScorer } from '../core/dpo/logps';
import type { dpoLoss } from '../core/dpo/losses';
import { WATCHDOG_GUARD, type GpuGuard } from '../core/gpu';
import type { WebGpuAdapterInfo, WebGpuLimits } from '../core/gpu/webgpu-backend';
import { NO_DEVICE_LIMITS, type DeviceLimits } from '../core/train/memory-plan';

export type CliBackendName = 'cpu' | 'webgpu';
export const CLI_BACKENDS: readonly CliBackendName[] = ['cpu', 'webgpu'];

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
}

/** Where Chromium keeps SwiftShader's Vulkan driver on Debian: a CPU that WebGPU can use. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const NO_ADAPTER =
  'WebGPU (Dawn) found no GPU adapter. On Linux Dawn uses Vulkan: install the Vulkan loader (Debian: apt-get install libvulkan1) ' +
  `and your GPU's Vulkan driver. Without a GPU, VK_ICD_FILENAMES=${SWIFTSHADER_ICD} runs it on Chromium's SwiftShader (a CPU). ` +
  'Or pass --backend cpu.';

/** Starts the backend. `otherMs`: the watchdog of a GPU wait outside training steps. */
export async function startBackend(name: CliBackendName, limits: WebGpuLimits, otherMs: () => number): Promise<CliBackend> {
  if (name === 'cpu') {
    await tf.setBackend('cpu');
    // The CPU backend's first write prints an advert for tfjs-node, whose native download cannot be
    // part of this project; mark the backend as used so the terminal shows only our own output.
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    return { name, guard: WATCHDOG_GUARD, kernels: {}, limits: NO_DEVICE_LIMITS, description: "tfjs's CPU backend" };
  }
  // The kernels' WGSL files are imported as text (`?raw`), as the browser build does.
  register('./raw-text-hooks.mjs', import.meta.url);
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  // tfjs's WebGPU backend looks for navigator.gpu (Node 20 has no navigator; later ones have no gpu).
  const g = globalThis as { navigator?: object };
  if (!g.navigator) g.navigator = {};
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const { adapterInfo, deviceLimits, monitorWebGpuBackend, registerWebGpuBackend } = await import('../core/gpu/webgpu-backend');
  registerWebGpuBackend(gpu, limits);
  if (!(await gpu.requestAdapter())) throw new Error(NO_ADAPTER);
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not start its WebGPU backend on Dawn's adapter");
  await tf.ready();
  const guard = monitorWebGpuBackend(otherMs, 'command');
  const { kernelsFor } = await import('../core/kernels');
  const device = deviceLimits()!;
  return {
    name,
    guard,
    kernels: kernelsFor('webgpu', 'auto'),
    limits: device,
    description: `WebGPU on ${describeAdapter(adapterInfo())} (Dawn), ${limits === 'default' ? "WebGPU's default limits" : "the adapter's limits"}: ${mib(device.maxStorageBufferBindingSize)} per binding, ${mib(device.maxBufferSize)} per buffer`,
  };
}

function describeAdapter(info: WebGpuAdapterInfo | null): string {
  if (!info) return 'an unknown adapter';
  return [info.vendor, info.architecture, info.description].filter((s) => s && s !== 'unknown').join(' ') || 'an unnamed adapter';
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}
