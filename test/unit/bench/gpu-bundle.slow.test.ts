import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD } from '../../../src/cli/backend';

/**
 * The GPU bundle (`npm run bench:gpu-bundle`) built into a temporary folder, far from this checkout's
 * node_modules, and run from there on SwiftShader with a PATH that has no Node: the bench measures,
 * and the exported step is the one the PyTorch script reproduces (where this machine has torch).
 */
const run = promisify(execFile);
let dir: string;
let bundle: string;
let env: Record<string, string>;

/** The few commands run.sh uses, and nothing else (no node, no npm). */
function barePath(): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['sh', 'dirname', 'cksum', 'cut', 'xz', 'chmod', 'mv']) {
    const path = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    symlinkSync(path, join(bin, tool));
  }
  return bin;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gpu-bundle-'));
  bundle = join(dir, 'bundle');
  await run('npx', ['tsx', 'scripts/bench/gpu-bundle.ts', '--out', bundle]);
  env = { PATH: barePath(), HOME: dir, TMPDIR: dir, VK_ICD_FILENAMES: SWIFTSHADER_ICD };
}, 300_000);

describe('the GPU bundle', () => {
  it('is at most 60 MiB and carries Node, dawn.node, the Vulkan loader and the PyTorch script', async () => {
    const { stdout } = await run('du', ['-sb', bundle]);
    expect(Number(stdout.split('\t')[0])).toBeLessThanOrEqual(60 * 2 ** 20);
    for (const file of [
      'run.sh',
      'compare.sh',
      'bench.mjs',
      'node.xz',
      'lib/libvulkan.so.1',
      'lib/webgpu/dist/linux-x64/dawn.node',
      'torch_dpo_step.py',
    ]) {
      expect(existsSync(join(bundle, file)), file).toBe(true);
    }
    expect(existsSync(join(bundle, 'node_modules'))).toBe(false);
  });

  it('runs the bench from its own folder with no Node on the PATH', async () => {
    const { stdout, stderr } = await run(join(bundle, 'run.sh'), ['--quick', '--json', '--only', 'step tiny'], {
      env,
      maxBuffer: 64 << 20,
    });
    const report = JSON.parse(stdout) as {
      host: string;
      adapter: { architecture: string };
      steps: { model: string; kernels: boolean; tokens_per_second: number | null }[];
    };
    expect(report.host, stderr).toMatch(/^Node 20\.\d+\.\d+ \(Dawn\)$/);
    expect(report.adapter.architecture).toBe('swiftshader');
    const tiny = report.steps.filter((s) => s.model === 'tiny');
    expect(tiny.length).toBe(3);
    for (const s of tiny) expect(s.tokens_per_second).toBeGreaterThan(0);
    // Every other case was left out by --only, and says so.
    expect(stderr).toContain('skipped: not selected (--only step tiny)');
  }, 600_000);

  it("exports the step with this engine's log-probs, which PyTorch eager reproduces in float32", async () => {
    const step = join(dir, 'step');
    await run(join(bundle, 'run.sh'), ['export-step', step, '--quick'], { env, maxBuffer: 64 << 20 });
    const batch = JSON.parse(readFileSync(join(step, 'batch.json'), 'utf8')) as { pairs: number; input_ids: number[][] };
    const { logps } = JSON.parse(readFileSync(join(step, 'logps.json'), 'utf8')) as { logps: number[] };
    expect(logps.length).toBe(2 * batch.pairs);
    for (const v of logps) expect(v).toBeLessThan(0);
    // Debian's python3-torch where it is installed; the device machine brings its own.
    const python = ['/usr/bin/python3', 'python3'].find((p) => {
      try {
        execFileSync(p, ['-c', 'import torch'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!python) return;
    const { stdout } = await run(python, [join(bundle, 'torch_dpo_step.py'), step, '--runs', '1', '--device', 'cpu']);
    const rows = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { dtype: string; logps_max_rel_error: number; tokens_per_s: number });
    expect(rows.map((r) => r.dtype)).toEqual(['float32', 'bfloat16']);
    expect(rows[0].logps_max_rel_error).toBeLessThan(1e-5);
    expect(rows[1].logps_max_rel_error).toBeLessThan(1e-2);
    for (const r of rows) expect(r.tokens_per_s).toBeGreaterThan(0);
  }, 300_000);
});
