import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../src/core/model/safetensors';
import { SWIFTSHADER_ICD } from '../../../src/cli/backend';

const run = promisify(execFile);

/**
 * The dpo command on WebGPU in Node (Dawn), on SwiftShader's Vulkan driver so that it runs the same on
 * any machine: the same numbers as the CPU backend, WebGPU's default limits on request, and real
 * device failures (fixtures/inject-gpu-failure.ts destroys the device or asks it for a buffer over its
 * limits) during a load, a training step and generation, each ending the command with a message.
 */
async function dpo(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  const argv = ['tsx', '--import', './test/unit/cli/fixtures/inject-gpu-failure.ts', 'src/cli/dpo.ts', ...args];
  const options = { maxBuffer: 64 << 20, env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD, ...env } };
  try {
    const { stdout, stderr } = await run('npx', argv, options);
    return { code: 0, stdout, stderr, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr, seconds: (Date.now() - started) / 1000 };
  }
}

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

function adapterTensors(path: string): Map<string, Float32Array> {
  const { tensors } = parseSafetensors(new Uint8Array(readFileSync(path)), path);
  return new Map([...tensors].map(([name, t]) => [name, t.data as Float32Array]));
}

function trainArgs(outDir: string, ...more: string[]): string[] {
  return [
    'train',
    '--model',
    modelDir,
    '--data',
    data,
    '--output_dir',
    outDir,
    '--max_steps',
    '3',
    '--per_device_train_batch_size',
    '2',
    '--logging_steps',
    '1',
    '--lora_r',
    '4',
    '--learning_rate',
    '1e-2',
    '--backend',
    'webgpu',
    ...more,
  ];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpo-cli-webgpu-'));
  modelDir = join(dir, 'model');
  await run('npx', ['tsx', 'scripts/make-tiny-model.ts', modelDir, '--seed', '5']);
  data = join(dir, 'pairs.jsonl');
  const lines = readFileSync('examples/shout-whisper.jsonl', 'utf8').trim().split('\n');
  writeFileSync(data, lines.slice(0, 8).join('\n') + '\n');
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

describe('dpo on WebGPU when the device fails', () => {
  const failures = [
    ['destroy', /the GPU device was lost \(device was destroyed\)\. .*run the command again for a new device/],
    [
      'over-limit',
      /the GPU rejected a command \(a validation error\) \(Buffer size \(\d+\) exceeds the max buffer size limit[^]*The work asked for more than this device allows/,
    ],
  ] as const;

  for (const [mode, what] of failures) {
    it.concurrent(
      `${mode} while loading: the load ends, naming it, with a suggestion`,
      async () => {
        const r = await dpo(
          { DPO_TEST_INJECT: mode, DPO_TEST_INJECT_AT: 'load' },
          'eval',
          '--model',
          modelDir,
          '--data',
          data,
          '--backend',
          'webgpu',
        );
        expect(r.code, r.stderr).toBe(1);
        expect(r.seconds).toBeLessThan(60);
        // A buffer over the limits is pinned on the tensor being uploaded (its error scope); a loss on the load.
        const operation = mode === 'destroy' ? `Loading the model ${modelDir}` : /Loading tensor "model\.[\w.]+" \[\d+(, \d+)*\]/.source;
        expect(r.stderr).toMatch(new RegExp(`^dpo eval: ${operation} failed: ${what.source}.*a smaller model\\.$`, 'ms'));
      },
      120_000,
    );

    it.concurrent(
      `${mode} in a training step: exit 1, step 1's adapter kept, and training goes on from it`,
      async () => {
        const outDir = join(dir, `step-${mode}`);
        const r = await dpo({ DPO_TEST_INJECT: mode }, ...trainArgs(outDir));
        expect(r.code, r.stderr).toBe(1);
        expect(r.seconds).toBeLessThan(120);
        expect(r.stderr).toMatch(new RegExp(`^dpo train: Training step 2 of 3 \\(forward/backward\\) failed: ${what.source}`, 'm'));
        expect(r.stderr).toMatch(/a smaller batch size \(per_device_train_batch_size\), a shorter max length, or a smaller model/);
        expect(r.stderr).toContain(`The adapter of the last good step (1) is in ${join(outDir, 'adapter')}.`);
        const state = JSON.parse(readFileSync(join(outDir, 'trainer_state.json'), 'utf8')) as {
          global_step: number;
          log_history: { step: number }[];
        };
        expect(state.global_step).toBe(1);
        expect(state.log_history.map((h) => h.step)).toEqual([1]);

        // What was kept is step 1's adapter: a run that stops after one step ends with the same one.
        const clean = join(dir, `one-step-${mode}`);
        const one = await dpo({}, ...trainArgs(clean, '--max_steps', '1'));
        expect(one.code, one.stderr).toBe(0);
        const kept = adapterTensors(join(outDir, 'adapter', 'adapter_model.safetensors'));
        const reference = adapterTensors(join(clean, 'adapter', 'adapter_model.safetensors'));
        expect([...kept.keys()]).toEqual([...reference.keys()]);
        let moved = 0;
        for (const [name, values] of reference) {
          const got = kept.get(name)!;
          for (let i = 0; i < values.length; i++) {
            expect(Math.abs(got[i] - values[i])).toBeLessThan(1e-5 + 1e-4 * Math.abs(values[i]));
            if (name.includes('lora_B') && values[i] !== 0) moved++;
          }
        }
        // Step 1 changed B (zero at the start), so the comparison is of a trained adapter.
        expect(moved).toBeGreaterThan(0);

        const again = await dpo({}, ...trainArgs(join(dir, `again-${mode}`), '--adapter', join(outDir, 'adapter'), '--max_steps', '1'));
        expect(again.code, again.stderr).toBe(0);
        expect(existsSync(join(dir, `again-${mode}`, 'adapter', 'adapter_model.safetensors'))).toBe(true);
      },
      300_000,
    );

    it.concurrent(
      `${mode} during generation: generation ends, naming it, with a suggestion`,
      async () => {
        const r = await dpo(
          { DPO_TEST_INJECT: mode, DPO_TEST_INJECT_AT: 'dispatch' },
          'generate',
          '--model',
          modelDir,
          '--prompt',
          'hello',
          '--max_new_tokens',
          '3',
          '--backend',
          'webgpu',
        );
        expect(r.code, r.stderr).toBe(1);
        expect(r.seconds).toBeLessThan(60);
        expect(r.stderr).toMatch(
          new RegExp(`^dpo generate: Generation( \\(the first dispatch of \\w+\\))? failed: ${what.source}.*fewer new tokens`, 'ms'),
        );
      },
      120_000,
    );
  }
});
