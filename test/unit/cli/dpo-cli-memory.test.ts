import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

async function dpo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'src/cli/dpo.ts', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let dir: string;
let modelDir: string;
let dataFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpo-cli-memory-'));
  modelDir = join(dir, 'model');
  await run('npx', ['tsx', 'scripts/make-tiny-model.ts', modelDir, '--seed', '5']);
  dataFile = join(dir, 'pairs.jsonl');
  writeFileSync(dataFile, readFileSync('examples/shout-whisper.jsonl', 'utf8').trim().split('\n').slice(0, 4).join('\n') + '\n');
}, 120_000);

describe('dpo train plans its memory first', () => {
  it('refuses with exit 2 before loading the weights when the plan is over --memory_budget_gb, saying what to change', async () => {
    const out = join(dir, 'refused');
    const r = await dpo('train', '--model', modelDir, '--data', dataFile, '--output_dir', out, '--memory_budget_gb', '0.001');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^memory plan: about \d+ MiB \(weights \d+ KiB, adapter and AdamW \d+ KiB, activations \d+ MiB, LM head \d+ MiB; peak in the training step, 16 rows of \d+ tokens\), budget 1 MiB$/m,
    );
    expect(r.stderr).toMatch(
      /dpo train: not training: training needs about \d+ MiB \(.*\), over the 1 MiB memory budget: lower per_device_train_batch_size \(8\) or max_length \(1024; the longest pair has \d+ tokens\), or pass a larger --memory_budget_gb/,
    );
    // Nothing ran: no training line, no output folder.
    expect(r.stderr).not.toMatch(/^training \d+ pairs/m);
    expect(existsSync(out)).toBe(false);
    const bad = await dpo('train', '--model', modelDir, '--data', dataFile, '--output_dir', out, '--memory_budget_gb', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--memory_budget_gb must be a positive number, got 0/);
  }, 60_000);

  it('prints the plan at the start and the measured peak at the end, the peak within the plan', async () => {
    const r = await dpo(
      'train',
      '--model',
      modelDir,
      '--data',
      dataFile,
      '--output_dir',
      join(dir, 'ok'),
      '--max_steps',
      '1',
      '--per_device_train_batch_size',
      '2',
    );
    expect(r.code).toBe(0);
    const planned = /^memory plan: about (\d+) MiB/m.exec(r.stderr);
    const measured = /^memory: measured peak (\d+) MiB of tensors \(planned (\d+) MiB\)$/m.exec(r.stderr);
    expect(planned).not.toBeNull();
    expect(measured).not.toBeNull();
    expect(Number(measured![2])).toBe(Number(planned![1]));
    expect(Number(measured![1])).toBeGreaterThan(0);
    expect(Number(measured![1])).toBeLessThanOrEqual(Number(measured![2]));
  }, 60_000);
});
