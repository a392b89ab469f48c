import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/**
 * True on adapters that run compute shaders on the CPU (SwiftShader, lavapipe), which the kernels size
 * their work for differently: such an adapter runs a workgroup's invocations one SIMD group after
 * another, so every barrier of a tree reduction costs a switch through all of them (the selective
 * log-softmax reduces a row over 8 invocations there, 64 on a GPU), and it has no register file to
 * outgrow (flash attention takes more rows per invocation there).
 */
export function isCpuAdapter(backend: WebGPUBackend): boolean {
  const info = backend.adapterInfo as unknown as { architecture?: string; vendor?: string } | undefined;
  const name = `${info?.vendor ?? ''} ${info?.architecture ?? ''}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe/.test(name);
}
