import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CONFIG = resolve('.dependency-cruiser.cjs');
const DEPCRUISE = resolve('node_modules/.bin/depcruise');

/**
 * Runs the lint's layering check (the same config `npm run lint` uses) over a made-up tree of src/
 * files, as they would sit in this repository.
 */
async function cruise(files: Record<string, string>): Promise<{ ok: boolean; output: string }> {
  const root = mkdtempSync(join(tmpdir(), 'layering-'));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'esnext', moduleResolution: 'bundler' } }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  try {
    const { stdout } = await run(DEPCRUISE, ['src', '--config', CONFIG], { cwd: root });
    return { ok: true, output: stdout };
  } catch (e) {
    const err = e as { stdout: string; stderr: string };
    return { ok: false, output: err.stdout + err.stderr };
  }
}

const leaf = 'export const x = 1;\n';

describe('the layering lint', () => {
  it('passes a tree whose arrows point down', async () => {
    const result = await cruise({
      'src/core/math.ts': leaf,
      'src/storage/runs.ts': "import { x } from '../core/math';\nexport const y = x;\n",
      'src/worker/protocol.ts': "import { y } from '../storage/runs';\nexport const z = y;\n",
      'src/worker/session.ts': "import { z } from './protocol';\nexport const w = z;\n",
      'src/app/panel.ts': "import { z } from '../worker/protocol';\nimport { y } from '../storage/runs';\nexport const v = z + y;\n",
      'src/cli/dpo.ts': "import { x } from '../core/math';\nexport const u = x;\n",
    });
    expect(result.output).toContain('no dependency violations');
    expect(result.ok).toBe(true);
  });

  it('fails each arrow that points up, and modules that import each other, naming the rule and the file', async () => {
    const violations: [rule: string, path: string, text: string][] = [
      ['core-is-the-floor', 'src/core/model.ts', "import { v } from '../app/panel';\nexport const a = v;\n"],
      ['core-is-the-floor', 'src/core/data.ts', "import { y } from '../storage/runs';\nexport const a = y;\n"],
      ['storage-above-core-only', 'src/storage/extra.ts', "import { w } from '../worker/session';\nexport const a = w;\n"],
      ['worker-never-imports-app', 'src/worker/extra.ts', "import { v } from '../app/panel';\nexport const a = v;\n"],
      ['app-talks-to-the-worker-protocol-only', 'src/app/extra.ts', "import { w } from '../worker/session';\nexport const a = w;\n"],
      ['cli-uses-core-only', 'src/cli/extra.ts', "import { y } from '../storage/runs';\nexport const a = y;\n"],
    ];
    const result = await cruise({
      'src/app/panel.ts': leaf.replace('x', 'v'),
      'src/storage/runs.ts': leaf.replace('x', 'y'),
      'src/worker/session.ts': leaf.replace('x', 'w'),
      'src/worker/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
      'src/worker/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
      ...Object.fromEntries(violations.map(([, path, text]) => [path, text])),
    });
    expect(result.ok).toBe(false);
    const lines = result.output.split('\n');
    for (const [rule, path] of violations) {
      expect(
        lines.some((line) => line.includes(`${rule}:`) && line.includes(path)),
        `${rule} on ${path}`,
      ).toBe(true);
    }
    expect(lines.some((line) => /no-circular: src\/worker\/[ab]\.ts/.test(line))).toBe(true);
  });
});
