import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD } from '../../../src/cli/backend';
import { dpo, tinyModelAndPairs } from './fixtures/webgpu-cli';

/**
 * The dpo command on WebGPU in Node (Dawn), on SwiftShader's Vulkan driver so that it runs the same on
 * any machine: the same numbers as the CPU backend, WebGPU's default limits on request, and a clear
 * message where Vulkan finds no adapter. Device failures: dpo-cli-webgpu-failures.slow.test.ts.
 */

let dir: string;
let modelDir: string;
let data: string;

interface EvalLine {
  policy_chosen_logps?: number;
  policy_rejected_logps?: number;
  metrics?: Record<string, number>;
}

function evalLines(stdout: string): EvalLine[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EvalLine);
}

beforeAll(async () => {
  ({ dir, modelDir, data } = await tinyModelAndPairs('dpo-cli-webgpu-'));
}, 120_000);

describe('dpo on WebGPU (Dawn)', () => {
  it("evaluates with WebGPU's default limits and gives the CPU backend's log-probs", async () => {
    const [gpu, cpu] = await Promise.all([
      dpo({}, 'eval', '--model', modelDir, '--data', data, '--backend', 'webgpu', '--webgpu_limits', 'default'),
      dpo({}, 'eval', '--model', modelDir, '--data', data),
    ]);
    expect(gpu.code, gpu.stderr).toBe(0);
    expect(cpu.code, cpu.stderr).toBe(0);
    expect(gpu.stderr).toMatch(
      /^backend: WebGPU on .*SwiftShader.* \(Dawn\), WebGPU's default limits: 128 MiB per binding, 256 MiB per buffer$/m,
    );
    expect(cpu.stderr).toContain("backend: tfjs's CPU backend");
    const [g, c] = [evalLines(gpu.stdout), evalLines(cpu.stdout)];
    expect(g).toHaveLength(9);
    for (let i = 0; i < 8; i++) {
      for (const key of ['policy_chosen_logps', 'policy_rejected_logps'] as const) {
        expect(Math.abs(g[i][key]! - c[i][key]!) / Math.abs(c[i][key]!)).toBeLessThan(1e-4);
      }
    }
    expect(g[8].metrics!.loss).toBeCloseTo(c[8].metrics!.loss, 5);
  }, 180_000);

  it('says how to get an adapter when Vulkan finds none', async () => {
    const r = await dpo(
      { VK_ICD_FILENAMES: join(dir, 'no-such-driver.json') },
      'eval',
      '--model',
      modelDir,
      '--data',
      data,
      '--backend',
      'webgpu',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dpo eval: WebGPU (Dawn) found no GPU adapter.');
    expect(r.stderr).toContain(`VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`);
    expect(r.stderr).toContain('--backend cpu');
  }, 60_000);
});
