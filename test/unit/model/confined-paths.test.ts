import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fileUrl } from '../../../src/app/hub';
import { fsSource } from '../../../src/cli/fs-source';
import { listModelTensors, readSafetensorsHeader, serializeSafetensors } from '../../../src/core/model/safetensors';
import { confinedPath, urlSource } from '../../../src/core/model/sources';

/**
 * Paths that model files name (an index's shards, a repo's files) stay inside the model folder or
 * repo, in Node and in the browser: what climbs out is refused before anything is read or fetched.
 */
const run = promisify(execFile);
const ESCAPES = [
  '../secret/x.safetensors',
  '../../../../etc/passwd',
  '/etc/passwd',
  'a/../../b',
  'a\\..\\b',
  'C:/x',
  '',
  'a//b',
  './a',
  'a/.',
];

describe('confinedPath', () => {
  it('keeps plain relative paths', () => {
    for (const p of ['model.safetensors', 'model-00001-of-00002.safetensors', 'onnx/model.onnx', 'a..b/c.d', '...']) {
      expect(confinedPath(p, 'here')).toBe(p);
    }
  });

  it.each(ESCAPES)('refuses %j, naming where it came from', (p) => {
    expect(() => confinedPath(p, 'index.json: weight_map entry for "w"')).toThrow(
      `index.json: weight_map entry for "w": the file path ${JSON.stringify(p)} is not a plain path inside the model folder`,
    );
  });
});

/** A model folder beside a secret, whose index sends one tensor's shard to `shard`. */
function folderWithIndex(shard: string): string {
  const root = mkdtempSync(join(tmpdir(), 'confined-'));
  const model = join(root, 'model');
  mkdirSync(model);
  mkdirSync(join(root, 'secret'));
  const tensor = { shape: [2], data: new Float32Array([1, 2]) };
  writeFileSync(join(root, 'secret', 'x.safetensors'), serializeSafetensors({ 'model.norm.weight': tensor }));
  writeFileSync(join(model, 'model-1.safetensors'), serializeSafetensors({ 'model.embed_tokens.weight': tensor }));
  writeFileSync(
    join(model, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: { 'model.embed_tokens.weight': 'model-1.safetensors', 'model.norm.weight': shard } }),
  );
  return model;
}

describe('a sharded index that names a file outside the model folder', () => {
  it.each(['../secret/x.safetensors', '../../../../etc/passwd', '/etc/passwd'])('%s is refused before it is read', async (shard) => {
    const model = folderWithIndex(shard);
    await expect(listModelTensors(fsSource(model))).rejects.toThrow(
      `weight_map entry for "model.norm.weight": the file path ${JSON.stringify(shard)} is not a plain path inside the model folder`,
    );
    // Reading through the folder source directly is refused too.
    await expect(fsSource(model).readBytes(shard)).rejects.toThrow('is not a plain path inside the model folder');
  });

  it('the dpo command says so and echoes nothing of the file', async () => {
    // The tiny model, its weight file listed by an index that sends the final norm to /etc/passwd.
    const model = join(mkdtempSync(join(tmpdir(), 'confined-cli-')), 'model');
    await run('npx', ['tsx', 'scripts/make-tiny-model.ts', model, '--seed', '5']);
    renameSync(join(model, 'model.safetensors'), join(model, 'model-1.safetensors'));
    const header = await readSafetensorsHeader(fsSource(model), 'model-1.safetensors');
    const weightMap = Object.fromEntries(header!.entries.map((e) => [e.name, 'model-1.safetensors']));
    weightMap['model.norm.weight'] = '../../../../etc/passwd';
    writeFileSync(join(model, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    const argv = ['tsx', 'src/cli/dpo.ts', 'eval', '--model', model, '--data', 'examples/shout-whisper.jsonl', '--backend', 'cpu'];
    const failed = await run('npx', argv).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(
      'weight_map entry for "model.norm.weight": the file path "../../../../etc/passwd" is not a plain path inside the model folder',
    );
    expect(failed?.stderr).not.toContain('root:');
  }, 60_000);
});

describe('in the browser', () => {
  it('a Hub file path with ".." cannot reach another repo', () => {
    expect(fileUrl('owner/model', 'model-1.safetensors')).toBe('https://huggingface.co/owner/model/resolve/main/model-1.safetensors');
    expect(() => fileUrl('owner/model', '../../other/repo/resolve/main/x.safetensors')).toThrow('owner/model: the file path');
  });

  it('a URL source refuses such a path before fetching', async () => {
    let fetched = 0;
    const original = globalThis.fetch;
    globalThis.fetch = (() => {
      fetched++;
      return Promise.resolve(new Response('{}'));
    }) as typeof fetch;
    try {
      await expect(urlSource('https://example.test/models/a').readText('../b/config.json')).rejects.toThrow('is not a plain path');
    } finally {
      globalThis.fetch = original;
    }
    expect(fetched).toBe(0);
  });
});
