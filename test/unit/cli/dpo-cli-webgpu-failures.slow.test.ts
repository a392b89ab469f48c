import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { adapterTensors, dpo, tinyModelAndPairs } from './fixtures/webgpu-cli';

/**
 * The dpo command on WebGPU in Node (Dawn, on SwiftShader) when the device fails for real:
 * fixtures/inject-gpu-failure.ts destroys it or asks it for a buffer over its limits during a load, a
 * training step and generation. Each ends the command with exit 1 and a message naming the operation
 * and what to change; a failed step leaves the last good adapter, from which training goes on.
 */

let dir: string;
let modelDir: string;
let data: string;

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
  ({ dir, modelDir, data } = await tinyModelAndPairs('dpo-cli-webgpu-'));
}, 120_000);

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
