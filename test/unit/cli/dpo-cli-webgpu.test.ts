import { readFileSync } from 'node:fs';
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
  it("evaluates with WebGPU's default limits, and WebGPU and WASM give the CPU backend's log-probs", async () => {
    const evalOn = (...args: string[]) => dpo({}, 'eval', '--model', modelDir, '--data', data, ...args);
    const [gpu, wasm, cpu, auto] = await Promise.all([
      evalOn('--backend', 'webgpu', '--webgpu_limits', 'default'),
      evalOn('--backend', 'wasm'),
      evalOn('--backend', 'cpu'),
      evalOn(),
    ]);
    for (const r of [gpu, wasm, cpu, auto]) expect(r.code, r.stderr).toBe(0);
    expect(gpu.stderr).toMatch(
      /^backend: WebGPU on .*SwiftShader.* \(Dawn\), WebGPU's default limits: 128 MiB per binding, 256 MiB per buffer$/m,
    );
    expect(wasm.stderr).toMatch(/^backend: tfjs's WASM backend \(SIMD, one thread\)$/m);
    expect(cpu.stderr).toContain("backend: tfjs's CPU backend");
    // auto takes the adapter Dawn finds (here SwiftShader's, as VK_ICD_FILENAMES says).
    expect(auto.stderr).toMatch(/^backend: WebGPU on .*SwiftShader.* \(Dawn\), the adapter's limits/m);
    const c = evalLines(cpu.stdout);
    for (const other of [gpu, wasm]) {
      const g = evalLines(other.stdout);
      expect(g).toHaveLength(9);
      for (let i = 0; i < 8; i++) {
        for (const key of ['policy_chosen_logps', 'policy_rejected_logps'] as const) {
          expect(Math.abs(g[i][key]! - c[i][key]!) / Math.abs(c[i][key]!)).toBeLessThan(1e-4);
        }
      }
      expect(g[8].metrics!.loss).toBeCloseTo(c[8].metrics!.loss, 5);
    }
  }, 180_000);

  it('says how to get an adapter when Vulkan finds none; auto then runs on WASM and says why', async () => {
    const noDriver = { VK_ICD_FILENAMES: join(dir, 'no-such-driver.json') };
    const [r, auto] = await Promise.all([
      dpo(noDriver, 'eval', '--model', modelDir, '--data', data, '--backend', 'webgpu'),
      dpo(noDriver, 'eval', '--model', modelDir, '--data', data),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dpo eval: WebGPU (Dawn) found no GPU adapter.');
    expect(r.stderr).toContain(`VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`);
    expect(r.stderr).toContain('--backend wasm');
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/^backend: tfjs's WASM backend \(SIMD, one thread\) \(no WebGPU adapter found; .*\)$/m);
    expect(evalLines(auto.stdout)).toHaveLength(9);
  }, 60_000);
});

describe('dpo on WebGPU is deterministic', () => {
  // The ops themselves, at sizes where tfjs's atomics changed bits: test/unit/gpu/deterministic.test.ts.
  it("a fresh adapter's first step logs rewards exactly 0, and two runs give the same bits", async () => {
    const pairs = data;
    const train = (out: string) =>
      dpo(
        {},
        'train',
        '--model',
        modelDir,
        '--data',
        pairs,
        '--backend',
        'webgpu',
        '--output_dir',
        join(dir, out),
        '--max_steps',
        '2',
        '--logging_steps',
        '1',
        '--per_device_train_batch_size',
        '8',
        '--learning_rate',
        '1e-2',
      );
    const runs = [await train('det-a'), await train('det-b')];
    const metrics = runs.map((r, i) => {
      expect(r.code, r.stderr).toBe(0);
      return readFileSync(join(dir, i ? 'det-b' : 'det-a', 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, number>);
    });
    const first = metrics[0][0];
    expect(first.step).toBe(1);
    // Policy = reference (LoRA B = 0): TRL logs exact zeros, and a tie scores 0.
    for (const key of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies']) expect(first[key], key).toBe(0);
    expect(first.loss).toBeCloseTo(Math.LN2, 6);
    // Step 2 follows an update: the same bits both times.
    const drop = ({ tokens_per_second: _t, ...rest }: Record<string, number>) => rest;
    expect(metrics[1].map(drop)).toEqual(metrics[0].map(drop));
    expect(metrics[0][1]['rewards/margins']).not.toBe(0);
    expect(readFileSync(join(dir, 'det-b', 'adapter', 'adapter_model.safetensors'))).toEqual(
      readFileSync(join(dir, 'det-a', 'adapter', 'adapter_model.safetensors')),
    );

    const evalOf = async () => {
      const r = await dpo(
        {},
        'eval',
        '--model',
        modelDir,
        '--adapter',
        join(dir, 'det-a', 'adapter'),
        '--data',
        pairs,
        '--backend',
        'webgpu',
      );
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const [e1, e2] = [await evalOf(), await evalOf()];
    expect(e1.trim().split('\n')).toHaveLength(9);
    expect(e2).toBe(e1);
  }, 400_000);
});
