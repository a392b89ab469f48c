import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { demoDatasetContents } from '../../../src/core/demo/datasets';

const run = promisify(execFile);

describe('npm run make-demo-model', () => {
  it('is a script: --datasets-only writes the committed demo datasets, byte for byte', async () => {
    const out = mkdtempSync(join(tmpdir(), 'demo-datasets-'));
    await run('npm', ['run', '--silent', 'make-demo-model', '--', '--datasets-only', '--datasets', out]);
    const written = readdirSync(out).sort();
    expect(written).toEqual(Object.keys(demoDatasetContents()).sort());
    for (const file of written)
      expect(readFileSync(join(out, file), 'utf8'), file).toBe(readFileSync(join('public/datasets', file), 'utf8'));
  });
});
