import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubStandIn, type HubStandIn } from '../../hub-standin';

const run = promisify(execFile);
const FORMATS = 'test/fixtures/data/formats/';
/** Two logged steps of two pairs: enough to compare runs. */
const SHORT_RUN = ['--max_steps', '2', '--per_device_train_batch_size', '2', '--logging_steps', '1'];
const fixture = (name: string) => new Uint8Array(readFileSync(FORMATS + name));

let dir: string;
let modelDir: string;
let hub: HubStandIn;

/** The dpo command as a user runs it, against the stand-in Hub, with its own cache folder. */
async function dpo(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'src/cli/dpo.ts', ...args], {
      maxBuffer: 64 << 20,
      env: { ...process.env, HF_ENDPOINT: hub.url, HF_TOKEN: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const pairsOf = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpo-cli-hub-'));
  modelDir = join(dir, 'model');
  await run('npx', ['tsx', 'scripts/make-tiny-model.ts', modelDir, '--seed', '5']);
  // One split in two Parquet files (the same 14 rows twice), as the Hub shards a large one.
  hub = await startHubStandIn(
    {
      'test-org/prefs': {
        splits: {
          default: { train: [fixture('pairs.gzip.parquet'), fixture('pairs.gzip.parquet')], test: [fixture('pairs.gzip.parquet')] },
        },
      },
      'test-org/gated': { splits: { default: { train: [fixture('pairs.gzip.parquet')] } }, token: 'hf_secret' },
      'test-org/layouts': { splits: { shp: { train: [fixture('shp.parquet')] }, hh: { train: [fixture('hh-rlhf.parquet')] } } },
    },
    { breakAfter: 700 },
  );
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('npm run dpo with --dataset_name', () => {
  it('downloads a split by name with resumption after a dropped connection, and scores the rows of all its files', async () => {
    const cache = join(dir, 'hf-home');
    const r = await dpo({ HF_HOME: cache }, 'eval', '--model', modelDir, '--dataset_name', 'test-org/prefs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('test-org/prefs (default/train): 2 Parquet files');
    expect(r.stderr).toContain('test-org/prefs (default/train): 28 valid pairs (standard 28; columns: prompt/chosen/rejected), 0 problems');
    // Each file's first answer broke off after 700 bytes; the next asked for the rest.
    for (const n of ['0000', '0001']) {
      const path = `/datasets/test-org/prefs/resolve/refs/convert/parquet/default/train/${n}.parquet`;
      expect(hub.requests).toContain(`GET ${path}`);
      expect(hub.requests, hub.requests.join('\n')).toContain(`GET ${path} bytes=700-`);
    }
    const fromHub = pairsOf(r.stdout);
    const local = await dpo({}, 'eval', '--model', modelDir, '--data', FORMATS + 'pairs.jsonl');
    const fromFile = pairsOf(local.stdout);
    expect(fromHub).toHaveLength(28);
    const strip = ({ line: _line, index: _index, ...pair }: Record<string, unknown>) => pair;
    expect(fromHub.slice(0, 14).map(strip)).toEqual(fromFile.map(strip));
    expect(fromHub.slice(14).map(strip)).toEqual(fromFile.map(strip));
    expect(readdirSync(join(cache, 'dpo-studio', 'datasets', 'test-org--prefs', 'default', 'train')).sort()).toEqual([
      '0000.parquet',
      '0001.parquet',
      'files.json',
    ]);

    // Downloaded once: the next run reads the cache without asking the Hub.
    const before = hub.requests.length;
    const again = await dpo({ HF_HOME: cache }, 'eval', '--model', modelDir, '--dataset_name', 'test-org/prefs');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('as downloaded before');
    expect(hub.requests.length).toBe(before);
    expect(pairsOf(again.stdout)).toEqual(fromHub);

    const test = await dpo(
      { HF_HOME: cache },
      'eval',
      '--model',
      modelDir,
      '--dataset_name',
      'test-org/prefs',
      '--dataset_train_split',
      'test',
    );
    expect(test.code, test.stderr).toBe(0);
    expect(pairsOf(test.stdout).map(strip)).toEqual(fromFile.map(strip));
  }, 120_000);

  it('trains from --dataset_name, as from the file', async () => {
    const cache = join(dir, 'hf-home-train');
    const out = join(dir, 'run');
    const r = await dpo(
      { HF_HOME: cache },
      'train',
      '--model',
      modelDir,
      '--dataset_name',
      'test-org/prefs',
      '--dataset_train_split',
      'test',
      '--output_dir',
      out,
      ...SHORT_RUN,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    const file = join(dir, 'run-file');
    const local = await dpo({}, 'train', '--model', modelDir, '--data', FORMATS + 'pairs.jsonl', '--output_dir', file, ...SHORT_RUN);
    expect(local.code, local.stderr).toBe(0);
    const metrics = (p: string) =>
      readFileSync(join(p, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, number>)
        .map(({ loss, step }) => ({ loss, step }));
    expect(metrics(out)).toEqual(metrics(file));
  }, 180_000);

  it('configs: the one asked for, or a clear list; splits, gated and missing datasets say what to do', async () => {
    const env = { HF_HOME: join(dir, 'hf-home-errors') };
    const shp = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'test-org/layouts', '--dataset_config', 'shp');
    expect(shp.code, shp.stderr).toBe(0);
    expect(shp.stderr).toContain('test-org/layouts (shp/train): 2 valid pairs (standard 2; columns: SHP)');

    const which = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'test-org/layouts');
    expect(which.code).toBe(1);
    expect(which.stderr).toContain('dataset test-org/layouts has 2 configs ("shp", "hh"); name one of them as the config');
    const noConfig = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'test-org/layouts', '--dataset_config', 'x');
    expect(noConfig.stderr).toContain('dataset test-org/layouts has no config "x"; it has "shp", "hh"');
    const noSplit = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'test-org/prefs', '--dataset_train_split', 'dev');
    expect(noSplit.stderr).toContain('dataset test-org/prefs (config "default") has no split "dev"; it has "train", "test"');

    const gated = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'test-org/gated');
    expect(gated.code).toBe(1);
    expect(gated.stderr).toContain(
      'test-org/gated is gated (HTTP 401): the Hub needs a Hugging Face access token. Accept the license on huggingface.co/datasets/test-org/gated while signed in, create a read token at huggingface.co/settings/tokens, set it as HF_TOKEN, and download again.',
    );
    const withToken = await dpo({ ...env, HF_TOKEN: 'hf_secret' }, 'eval', '--model', modelDir, '--dataset_name', 'test-org/gated');
    expect(withToken.code, withToken.stderr).toBe(0);

    const missing = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'test-org/nothing');
    expect(missing.stderr).toContain('dataset test-org/nothing: not found on the Hub (HTTP 404); check the owner/name spelling');
    const notAnId = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'no-such-file.jsonl');
    expect(notAnId.code).toBe(2);
    expect(notAnId.stderr).toContain('--dataset_name: no-such-file.jsonl is neither a file here nor a Hub dataset id (owner/name)');
    const both = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', 'test-org/prefs', '--data', FORMATS + 'pairs.jsonl');
    expect(both.stderr).toContain('give --data or --dataset_name, not both');
    // A local file by --dataset_name, as TRL's scripts take one.
    const local = await dpo(env, 'eval', '--model', modelDir, '--dataset_name', FORMATS + 'pairs.csv');
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toContain('pairs.csv: 14 valid pairs');
  }, 180_000);
});
