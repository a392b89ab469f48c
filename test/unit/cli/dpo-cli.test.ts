import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const LN2 = Math.log(2);

/** Runs the dpo command as a user would (through tsx), returning exit code and output. */
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
  dir = mkdtempSync(join(tmpdir(), 'dpo-cli-'));
  modelDir = join(dir, 'model');
  await run('npx', ['tsx', 'scripts/make-tiny-model.ts', modelDir, '--seed', '5']);
  const good = readFileSync('examples/shout-whisper.jsonl', 'utf8').trim().split('\n').slice(0, 6);
  // Line 3 is broken JSON and line 5 lacks "rejected": both must be reported, the rest kept.
  const lines = [good[0], good[1], '{"prompt": "x", "chosen": ', good[2], '{"prompt": "p", "chosen": "c"}', good[3], good[4], good[5]];
  dataFile = join(dir, 'pairs.jsonl');
  writeFileSync(dataFile, lines.join('\n') + '\n');
}, 120_000);

describe('npm run dpo', () => {
  it('explains itself: --help per command, unknown options and bad values are clear errors', async () => {
    const help = await dpo('train', '--help');
    expect(help.code).toBe(0);
    for (const flag of [
      '--beta',
      '--loss_type',
      '--learning_rate',
      '--per_device_train_batch_size',
      '--lora_r',
      '--output_dir',
      '--precompute_ref_log_probs',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    const unknown = await dpo('eval', '--model', modelDir, '--data', dataFile, '--betta', '0.1');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option --betta \(did you mean --beta\?\)/);
    const bad = await dpo('eval', '--model', modelDir, '--data', dataFile, '--loss_type', 'dpo');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"dpo" is not one of/);
    const invalid = await dpo('eval', '--model', modelDir, '--data', dataFile, '--beta', '0');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/--beta: beta must be greater than 0/);
  });

  it('eval writes a JSON object per valid pair and the metrics last; bad lines go to stderr with their numbers', async () => {
    const r = await dpo('eval', '--model', modelDir, '--data', dataFile, '--beta', '0.1', '--per_device_eval_batch_size', '4');
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(out).toHaveLength(7);
    expect(r.stderr).toMatch(/pairs\.jsonl:3\b/);
    expect(r.stderr).toMatch(/pairs\.jsonl:5\b.*rejected/);
    const pairs = out.slice(0, 6);
    expect(pairs.map((p) => p.line)).toEqual([1, 2, 4, 6, 7, 8]);
    for (const p of pairs) {
      expect(p.chosen_ids.length).toBeGreaterThan(0);
      expect(p.prompt_ids.length).toBeGreaterThan(0);
      // No adapter: the policy is the reference, so every pair sits at ln 2 with zero rewards.
      expect(p.policy_chosen_logps).toBe(p.ref_chosen_logps);
      expect(p.loss).toBeCloseTo(LN2, 6);
      expect(p.chosen_reward).toBe(0);
      expect(p.policy_chosen_logps).toBeLessThan(0);
    }
    const { metrics } = out[6];
    expect(metrics.loss).toBeCloseTo(LN2, 6);
    expect(metrics['rewards/accuracies']).toBe(0);
    for (const k of [
      'rewards/chosen',
      'rewards/rejected',
      'rewards/margins',
      'logps/chosen',
      'logps/rejected',
      'logits/chosen',
      'logits/rejected',
      'entropy',
      'mean_token_accuracy',
    ]) {
      expect(Number.isFinite(metrics[k]), k).toBe(true);
    }
    // Nothing trained yet: TRL's evaluate() logs num_tokens 0.
    expect(metrics.num_tokens).toBe(0);
  });

  it('drops rows whose prompt reaches max_length under keep_start only, as TRL does; keep_end keeps them', async () => {
    const keepStart = await dpo('eval', '--model', modelDir, '--data', dataFile, '--max_length', '8');
    expect(keepStart.code, keepStart.stderr).toBe(1);
    expect(keepStart.stderr).toMatch(/0 pairs to use of 6 valid, 6 dropped for length\n.*no pairs left to use/);
    const keepEnd = await dpo('eval', '--model', modelDir, '--data', dataFile, '--max_length', '8', '--truncation_mode', 'keep_end');
    expect(keepEnd.code, keepEnd.stderr).toBe(0);
    expect(keepEnd.stderr).toMatch(/6 pairs to use of 6 valid\n/);
    const pairs = keepEnd.stdout
      .trim()
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l));
    expect(pairs.map((p) => p.line)).toEqual([1, 2, 4, 6, 7, 8]);
  });

  it('reads Parquet, CSV, TSV and compressed JSON Lines: the same token ids and log-probs as the JSON Lines file', async () => {
    const formats = 'test/fixtures/data/formats/';
    const evalOf = async (file: string, ...more: string[]) => {
      const r = await dpo('eval', '--model', modelDir, '--data', formats + file, ...more);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      return { stderr: r.stderr, pairs: lines.slice(0, -1).map(({ line: _line, ...pair }) => pair) };
    };
    const reference = await evalOf('pairs.jsonl');
    expect(reference.pairs).toHaveLength(14);
    for (const file of ['pairs.gzip.parquet', 'pairs.csv', 'pairs.tsv', 'pairs.jsonl.gz', 'pairs.jsonl.zst']) {
      const other = await evalOf(file);
      expect(other.stderr).toContain(`${formats}${file}: 14 valid pairs (standard 14; columns: prompt/chosen/rejected), 0 problems`);
      expect(other.pairs, file).toEqual(reference.pairs);
    }
    const mapped = await evalOf(
      'stack-exchange-paired.parquet',
      '--dataset_columns',
      'prompt=question,chosen=response_k,rejected=response_j',
    );
    const known = await evalOf('stack-exchange-paired.parquet');
    expect(known.stderr).toContain('2 valid pairs (standard 2; columns: stack-exchange-paired)');
    expect(mapped.pairs.map((p) => p.chosen_ids)).toEqual(known.pairs.map((p) => p.rejected_ids));
    const unmapped = await dpo('eval', '--model', modelDir, '--data', formats + 'pairs.csv', '--dataset_columns', 'chosen=a,rejected=b');
    expect(unmapped.code).toBe(1);
    expect(unmapped.stderr).toMatch(/pairs\.csv:2: the column mapping names columns this row lacks \(chosen=a, rejected=b\)/);
    const unsupported = await dpo('eval', '--model', modelDir, '--data', 'index.html');
    expect(unsupported.code).toBe(2);
    expect(unsupported.stderr).toMatch(/index\.html: \.html files are not read\. DPO Studio reads JSON Lines/);
  }, 120_000);

  it('--prompt_split: the common prefix cuts a word in an HH-RLHF row and says so; the last-turn split keeps it whole', async () => {
    const file = 'test/fixtures/data/formats/hh-rlhf.parquet';
    const prefix = await dpo('eval', '--model', modelDir, '--data', file);
    expect(prefix.code, prefix.stderr).toBe(0);
    expect(prefix.stderr).toContain(
      `${file}: 1 implicit prompt ends in the middle of a word (line 2): chosen and rejected start with the same letters, ` +
        'so the common prefix took them; --prompt_split last_turn splits at the last assistant turn instead',
    );
    const turn = await dpo('eval', '--model', modelDir, '--data', file, '--prompt_split', 'last_turn');
    expect(turn.code, turn.stderr).toBe(0);
    expect(turn.stderr).not.toContain('middle of a word');
    const pairsOf = (stdout: string) =>
      stdout
        .trim()
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as { prompt_ids: number[]; chosen_ids: number[] });
    const [a, b] = [pairsOf(prefix.stdout), pairsOf(turn.stdout)];
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(2);
    // The same sequences, cut elsewhere: the last-turn prompts are shorter and their completions longer.
    for (let i = 0; i < 2; i++) {
      expect(b[i].prompt_ids.length).toBeLessThan(a[i].prompt_ids.length);
      expect([...b[i].prompt_ids, ...b[i].chosen_ids]).toEqual([...a[i].prompt_ids, ...a[i].chosen_ids]);
    }
    const bad = await dpo('eval', '--model', modelDir, '--data', file, '--prompt_split', 'first_turn');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--prompt_split: expected one of common_prefix, last_turn, got "first_turn"');
  }, 60_000);

  it('--min_rating_margin keeps the rows whose ratings differ enough and lists the others', async () => {
    const file = 'test/fixtures/data/formats/argilla-dpo-mix.parquet';
    const r = await dpo('eval', '--model', modelDir, '--data', file, '--min_rating_margin', '3.25');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${file}: 1 valid pairs`);
    expect(r.stderr).toContain(
      `${file}:1 [chosen_rating]: rating margin 3 (chosen_rating 5 − rejected_rating 2) is below the minimum 3.25`,
    );
    const bad = await dpo('eval', '--model', modelDir, '--data', file, '--min_rating_margin', 'much');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--min_rating_margin');
  }, 60_000);

  it('train writes metrics.jsonl, a PEFT adapter and trainer_state.json; eval with the adapter sees the change', async () => {
    const outDir = join(dir, 'run');
    const r = await dpo(
      'train',
      '--model',
      modelDir,
      '--data',
      'examples/shout-whisper.jsonl',
      '--output-dir',
      outDir,
      '--max_steps',
      '4',
      '--per_device_train_batch_size',
      '4',
      '--learning_rate',
      '1e-2',
      '--logging_steps',
      '2',
      '--lora_r',
      '4',
      '--lora_target_modules',
      'q_proj,v_proj',
      '--eval_split',
      '0.25',
      '--eval_steps',
      '2',
    );
    expect(r.code, r.stderr).toBe(0);
    const logs = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const train = logs.filter((l) => 'loss' in l);
    const evals = logs.filter((l) => 'eval_loss' in l);
    expect(train.map((l) => l.step)).toEqual([2, 4]);
    expect(evals.map((l) => l.step)).toEqual([2, 4]);
    for (const k of [
      'loss',
      'rewards/chosen',
      'rewards/rejected',
      'rewards/accuracies',
      'rewards/margins',
      'logps/chosen',
      'logps/rejected',
      'logits/chosen',
      'logits/rejected',
      'entropy',
      'mean_token_accuracy',
      'num_tokens',
      'grad_norm',
      'learning_rate',
      'tokens_per_second',
      'epoch',
    ]) {
      expect(train[0], k).toHaveProperty([k]);
    }
    expect(evals[0]).toHaveProperty(['eval_rewards/accuracies']);
    // TRL's eval logs the training tokens counted so far as eval_num_tokens.
    expect(evals.map((l) => l.eval_num_tokens)).toEqual(train.map((l) => l.num_tokens));
    expect(evals[0]).toHaveProperty(['eval_entropy']);
    expect(evals[0]).toHaveProperty(['eval_mean_token_accuracy']);
    const config = JSON.parse(readFileSync(join(outDir, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, target_modules: expect.arrayContaining(['q_proj', 'v_proj']) });
    expect(existsSync(join(outDir, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    const state = JSON.parse(readFileSync(join(outDir, 'trainer_state.json'), 'utf8'));
    expect(state.global_step).toBe(4);
    expect(state.log_history).toHaveLength(logs.length);

    const evalAfter = await dpo(
      'eval',
      '--model',
      modelDir,
      '--adapter',
      join(outDir, 'adapter'),
      '--data',
      'examples/shout-whisper.jsonl',
    );
    expect(evalAfter.code, evalAfter.stderr).toBe(0);
    const first = JSON.parse(evalAfter.stdout.split('\n')[0]);
    expect(first.policy_chosen_logps).not.toBe(first.ref_chosen_logps);
  });

  it('generate answers a prompt', async () => {
    const r = await dpo('generate', '--model', modelDir, '--prompt', 'Shout: hello', '--max_new_tokens', '5');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
  });
});
