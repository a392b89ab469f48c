/**
 * Node module hooks for the headless engine: `import text from './file.wgsl?raw'` gives the file's
 * text, as Vite does for the browser build, so our WGSL kernels load in Node too. Registered by
 * src/cli/dawn.ts (the CLI on WebGPU, the bench in Node) before the kernels are imported.
 */
import { readFile } from 'node:fs/promises';

const RAW = '?raw';

export async function resolve(specifier, context, next) {
  if (!specifier.endsWith(RAW)) return next(specifier, context);
  const url = new URL(specifier.slice(0, -RAW.length), context.parentURL);
  return { url: `${url.href}${RAW}`, shortCircuit: true };
}

export async function load(url, context, next) {
  if (!url.endsWith(RAW)) return next(url, context);
  const text = await readFile(new URL(url.slice(0, -RAW.length)), 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
}
