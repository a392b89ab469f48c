/**
 * How tests and the benchmark start Chromium: Debian's build (Playwright's own browser download needs
 * hosts we cannot reach), WebGPU on (SwiftShader where there is no GPU), nothing reaching outside.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
