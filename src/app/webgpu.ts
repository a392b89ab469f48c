/** What the browser offers for WebGPU, in words a person can act on. */
export interface AdapterInfo {
  available: boolean;
  vendor: string;
  architecture: string;
  reason?: string;
}

export async function probeWebGPU(): Promise<AdapterInfo> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return { available: false, vendor: '', architecture: '', reason: 'This browser does not expose WebGPU.' };
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    return { available: false, vendor: '', architecture: '', reason: 'WebGPU is present but no adapter was found.' };
  }
  const info = adapter.info;
  return { available: true, vendor: info.vendor || 'unknown', architecture: info.architecture || 'unknown' };
}
