import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parseSafetensors } from '../../../src/core/model/safetensors';

/**
 * dpo train's checkpoints: a run killed at a random step (kill -9) or interrupted (SIGINT, SIGTERM)
 * continues with --resume_from_checkpoint to the uninterrupted run's adapter and metrics.
 */
const run = promisify(execFile);
let dir: string;
let modelDir: string;
let full: string;

const STEPS = 6;
function trainArgs(outDir: string, ...more: string[]): string[] {
  // LoRA dropout on: the random stream must be restored too.
  return [
    'train',
    ...['--model', modelDir, '--data', 'examples/shout-whisper.jsonl', '--output_dir', outDir],
    ...['--max_steps', String(STEPS), '--per_device_train_batch_size', '2', '--logging_steps', '1', '--lora_r', '4'],
    ...['--learning_rate', '1e-2', '--lora_dropout', '0.1', '--backend', 'cpu', '--save_steps', '1'],
    ...more,
  ];
}

/** The command in one Node process (no launcher between), stopped by `signal` once step `at` is logged. */
function interrupted(
  outDir: string,
  signal: NodeJS.Signals,
  at: number,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/dpo.ts', ...trainArgs(outDir)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!sent && new RegExp(`^step ${at}/${STEPS} `, 'm').test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('exit', (code, sig) => resolve({ code, signal: sig, stderr }));
  });
}

function adapter(outDir: string): Map<string, Float32Array> {
  const path = join(outDir, 'adapter', 'adapter_model.safetensors');
  return new Map([...parseSafetensors(new Uint8Array(readFileSync(path)), path).tensors].map(([n, t]) => [n, t.data as Float32Array]));
}

function metrics(outDir: string): Record<string, number>[] {
  return readFileSync(join(outDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
}

/** The resumed run ends where the uninterrupted one did: its adapter and every logged metric, to 1e-5. */
function expectSameAsFull(outDir: string): void {
  const want = adapter(full);
  const got = adapter(outDir);
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, values] of want) {
    got.get(name)!.forEach((x, i) => expect(Math.abs(x - values[i]), name).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(values[i]))));
  }
  const a = metrics(full);
  const b = metrics(outDir);
  expect(b.map((m) => m.step)).toEqual(a.map((m) => m.step));
  a.forEach((entry, k) => {
    for (const [key, value] of Object.entries(entry)) {
      if (key === 'train_runtime' || key.endsWith('per_second') || key === 'step_seconds') continue;
      expect(Math.abs(b[k][key] - value), `step ${entry.step} ${key}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(value)));
    }
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpo-resume-'));
  modelDir = join(dir, 'model');
  await run('npx', ['tsx', 'scripts/make-tiny-model.ts', modelDir, '--seed', '5']);
  full = join(dir, 'full');
  await run('npx', ['tsx', 'src/cli/dpo.ts', ...trainArgs(full)]);
}, 120_000);

describe('dpo train checkpoints', () => {
  it("kill -9 at a random step, then --resume_from_checkpoint true: the uninterrupted run's adapter and metrics", async () => {
    const at = 2 + Math.floor(Math.random() * (STEPS - 2));
    const outDir = join(dir, `killed-at-${at}`);
    const killed = await interrupted(outDir, 'SIGKILL', at);
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(outDir, 'adapter'))).toBe(false);
    const resumed = await run('npx', ['tsx', 'src/cli/dpo.ts', ...trainArgs(outDir, '--resume_from_checkpoint', 'true')]);
    expect(resumed.stderr).toMatch(new RegExp(`resuming from ${outDir}/checkpoint-(\\d+) at step \\1 of ${STEPS}`));
    expectSameAsFull(outDir);
  }, 120_000);

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} saves a checkpoint of the step it ends at and exits ${code}; resuming finishes the same run`, async () => {
      const outDir = join(dir, signal);
      const stopped = await interrupted(outDir, signal, 2);
      expect(stopped.code, stopped.stderr).toBe(code);
      const step = Number(/interrupted by \w+ after step (\d+): checkpoint-\1 is in/.exec(stopped.stderr)?.[1]);
      expect(step).toBeGreaterThanOrEqual(2);
      expect(step).toBeLessThan(STEPS);
      // What it left is whole: the adapter of that step, and its metrics so far.
      expect(metrics(outDir).map((m) => m.step)).toEqual(Array.from({ length: step }, (_, i) => i + 1));
      const state = JSON.parse(readFileSync(join(outDir, 'trainer_state.json'), 'utf8')) as { global_step: number; stopped_early: string };
      expect(state).toMatchObject({ global_step: step, stopped_early: `interrupted by ${signal}` });
      await run('npx', ['tsx', 'src/cli/dpo.ts', ...trainArgs(outDir, '--resume_from_checkpoint', join(outDir, `checkpoint-${step}`))]);
      expectSameAsFull(outDir);
    }, 120_000);
  }

  it('Ctrl-C under npm run dpo (SIGINT to the whole process group, forwarded by npm too) checkpoints once and exits 130', async () => {
    const outDir = join(dir, 'ctrl-c');
    const child = spawn('npm', ['run', '--silent', 'dpo', '--', ...trainArgs(outDir)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!sent && /^step 2\/\d+ /m.test(stderr)) {
        sent = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted by SIGINT after step (\d+): checkpoint-\1 is in/);
    expect(existsSync(join(outDir, 'adapter', 'adapter_model.safetensors'))).toBe(true);
  }, 120_000);

  it('npm killed with -9 (no signal reaches the command): the command sees its parent gone, checkpoints and exits', async () => {
    const outDir = join(dir, 'orphaned');
    const npm = spawn('npm', ['run', '--silent', 'dpo', '--', ...trainArgs(outDir)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    npm.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await vi.waitFor(() => expect(stderr).toMatch(/^step 2\/\d+ /m), { timeout: 60_000, interval: 50 });
    // npm's script runs through `sh -c exec node …`: the command is npm's only child.
    const children = readFileSync(`/proc/${npm.pid}/task/${npm.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    expect(children).toHaveLength(1);
    const command = children[0];
    npm.kill('SIGKILL');
    const alive = () => {
      try {
        process.kill(command, 0);
        return true;
      } catch {
        return false;
      }
    };
    await vi.waitFor(() => expect(alive()).toBe(false), { timeout: 60_000, interval: 100 });
    expect(stderr).toMatch(/the process that started this command \(pid \d+\) has ended/);
    const step = Number(/interrupted by SIGHUP after step (\d+): checkpoint-\1 is in/.exec(stderr)?.[1]);
    expect(step).toBeLessThan(STEPS);
    const state = JSON.parse(readFileSync(join(outDir, 'trainer_state.json'), 'utf8')) as { global_step: number; stopped_early: string };
    expect(state).toMatchObject({ global_step: step, stopped_early: 'interrupted by SIGHUP' });
    expect(existsSync(join(outDir, `checkpoint-${step}`, 'adapter_model.safetensors'))).toBe(true);
  }, 120_000);

  it('--save_total_limit keeps the newest checkpoints; a folder that is not a checkpoint is refused by name', async () => {
    const outDir = join(dir, 'limited');
    await run('npx', ['tsx', 'src/cli/dpo.ts', ...trainArgs(outDir, '--save_total_limit', '2')]);
    expect(existsSync(join(outDir, `checkpoint-${STEPS}`))).toBe(true);
    expect(existsSync(join(outDir, `checkpoint-${STEPS - 1}`))).toBe(true);
    expect(existsSync(join(outDir, `checkpoint-${STEPS - 2}`))).toBe(false);
    const bad = await run('npx', ['tsx', 'src/cli/dpo.ts', ...trainArgs(join(dir, 'x'), '--resume_from_checkpoint', modelDir)]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain(`--resume_from_checkpoint: cannot read ${join(modelDir, 'training_state.json')}`);
  }, 120_000);
});
