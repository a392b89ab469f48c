/**
 * WebGPU in Node: the `webgpu` package's Dawn (dawn.node) as `navigator.gpu`, where tfjs's WebGPU
 * backend looks for it, and our WGSL kernels loadable from source.
 */
import { register } from 'node:module';

/** Sets navigator.gpu to a Dawn instance and returns it; `forget` drops it again (so Node may exit). */
export async function installDawn(): Promise<{ gpu: GPU; forget: () => void }> {
  // From source (tsx), the kernels' WGSL files are imported as text (`?raw`) through our module hooks,
  // as Vite does for the browser build; a bundle already holds them as strings.
  if (import.meta.url.endsWith('.ts')) register('./raw-text-hooks.mjs', import.meta.url);
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  // tfjs's WebGPU backend looks for navigator.gpu (Node 20 has no navigator; later ones have no gpu).
  const g = globalThis as { navigator?: object };
  if (!g.navigator) g.navigator = {};
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  return { gpu, forget: () => delete (g.navigator as { gpu?: GPU }).gpu };
}
