import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../../src/core/model/safetensors';

const run = promisify(execFile);

/**
 * The dpo command when a run fails: a step made to fail as a GPU's would (fixtures/inject-gpu-failure.ts,
 * inert unless DPO_TEST_INJECT is set), or an update that overflows the weights. Returns its exit code,
 * output and how long it took.
 */
async function dpo(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stderr: string; seconds: number }> {
  const started = Date.now();
  const argv = ['tsx', '--import', './test/unit/cli/fixtures/inject-gpu-failure.ts', 'src/cli/dpo.ts', ...args];
  try {
    const { stderr } = await run('npx', argv, { maxBuffer: 64 << 20, env: { ...process.env, ...env } });
    return { code: 0, stderr, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr, seconds: (Date.now() - started) / 1000 };
  }
}

let dir: string;
let modelDir: string;

function trainArgs(outDir: string, ...more: string[]): string[] {
  return [
    'train',
    '--model',
    modelDir,
    '--data',
    'examples/shout-whisper.jsonl',
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
    ...more,
  ];
}

function loggedSteps(outDir: string): number[] {
  return readFileSync(join(outDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpo-cli-gpu-'));
  modelDir = join(dir, 'model');
  await run('npx', ['tsx', 'scripts/make-tiny-model.ts', modelDir, '--seed', '5']);
}, 120_000);

describe('dpo train when the GPU fails mid-run', () => {
  it('a step whose wait never settles ends at the watchdog: exit 1, the operation and a suggestion, step 1 kept', async () => {
    const outDir = join(dir, 'stall');
    const r = await dpo({ DPO_TEST_INJECT: 'stall', DPO_WATCHDOG_MS: '3000' }, ...trainArgs(outDir));
    expect(r.code, r.stderr).toBe(1);
    // Bounded: the watchdog's 3 s plus start-up and one real step, far from "forever".
    expect(r.seconds).toBeLessThan(90);
    expect(r.stderr).toContain(
      'dpo train: Training step 2 of 3 (forward/backward) failed: it made no progress (the operation did not finish in 3 s).',
    );
    expect(r.stderr).toMatch(/try a smaller batch size \(per_device_train_batch_size\), a shorter max length, or a smaller model/);
    expect(r.stderr).toContain(`The adapter of the last good step (1) is in ${join(outDir, 'adapter')}`);
    expect(loggedSteps(outDir)).toEqual([1]);
    expect(existsSync(join(outDir, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    const state = JSON.parse(readFileSync(join(outDir, 'trainer_state.json'), 'utf8')) as { global_step: number; stopped_early: string };
    expect(state.global_step).toBe(1);
    expect(state.stopped_early).toContain('Training step 2 of 3');
  }, 180_000);

  it('an out-of-memory failure exits 1 with the device message; training continues from the saved adapter', async () => {
    const outDir = join(dir, 'oom');
    const r = await dpo({ DPO_TEST_INJECT: 'oom' }, ...trainArgs(outDir));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      'Training step 2 of 3 (forward/backward) failed: the GPU ran out of memory (Failed to allocate a buffer of 268435456 bytes)',
    );
    expect(r.stderr).toMatch(/Try a smaller batch size .* close other tabs or programs that use the GPU/);
    expect(loggedSteps(outDir)).toEqual([1]);
    // Training goes on from what was kept: the saved adapter, with settings that fit.
    const again = await dpo({}, ...trainArgs(join(dir, 'again'), '--adapter', join(outDir, 'adapter'), '--max_steps', '2'));
    expect(again.code, again.stderr).toBe(0);
    expect(loggedSteps(join(dir, 'again'))).toEqual([1, 2]);
  }, 180_000);

  it('generation and eval whose read-backs never resolve end at the watchdog, naming the operation', async () => {
    const env = { DPO_TEST_INJECT: 'readback', DPO_WATCHDOG_MS: '3000' };
    const generate = await dpo(env, 'generate', '--model', modelDir, '--prompt', 'hello', '--max_new_tokens', '3');
    expect(generate.code, generate.stderr).toBe(1);
    expect(generate.seconds).toBeLessThan(60);
    expect(generate.stderr).toMatch(
      /^dpo generate: Generation failed: it made no progress \(the operation did not finish in 3 s\)\. .*fewer new tokens/m,
    );
    const evaluate = await dpo(env, 'eval', '--model', modelDir, '--data', 'examples/shout-whisper.jsonl');
    expect(evaluate.code, evaluate.stderr).toBe(1);
    expect(evaluate.seconds).toBeLessThan(60);
    expect(evaluate.stderr).toMatch(
      /^dpo eval: The eval of 48 pairs failed: it made no progress \(the operation did not finish in 3 s\)\. .*batch size/m,
    );
  }, 180_000);
});

/** An adapter file's tensors by name. */
function adapterTensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const { tensors } = parseSafetensors(new Uint8Array(readFileSync(path)), path);
  return new Map([...tensors].map(([name, t]) => [name, { shape: t.shape, data: t.data as Float32Array }]));
}

describe('dpo train when an update would overflow the weights', () => {
  for (const [what, option] of [
    ['a learning rate of 1e38', ['--learning_rate', '1e38']],
    ['adam_epsilon 0 (0 / 0 where a gradient is zero)', ['--adam_epsilon', '0']],
  ] as const) {
    it(`${what}: exit 1 naming the update, and the adapter kept is the finite one before it`, async () => {
      const outDir = join(dir, `overflow-${option[0].slice(2)}`);
      const r = await dpo({}, ...trainArgs(outDir, ...option));
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(
        /^dpo train: the update at step 1 would make the weights non-finite \(is the learning rate or adam_epsilon out of range\?\)/m,
      );
      expect(r.stderr).toContain(`The adapter of the last good step (0) is in ${join(outDir, 'adapter')}`);
      const kept = adapterTensors(join(outDir, 'adapter', 'adapter_model.safetensors'));
      expect(kept.size).toBeGreaterThan(0);
      for (const [name, { data }] of kept) {
        expect(data.every(Number.isFinite), name).toBe(true);
        // Step 0's adapter: B as PEFT initialises it (zero), A random.
        if (name.includes('lora_B')) expect(data.every((x) => x === 0)).toBe(true);
        else expect(data.some((x) => x !== 0)).toBe(true);
      }
      // What was kept evaluates: a usable adapter, not a NaN one that prints "loss": null.
      const evaluated = await dpo(
        {},
        'eval',
        '--model',
        modelDir,
        '--data',
        'examples/shout-whisper.jsonl',
        '--adapter',
        join(outDir, 'adapter'),
      );
      expect(evaluated.code, evaluated.stderr).toBe(0);
    }, 180_000);
  }

  it('eval refuses an adapter with a NaN weight, naming the file and the module', async () => {
    const good = join(dir, 'overflow-learning_rate', 'adapter');
    const bad = join(dir, 'nan-adapter');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'adapter_config.json'), readFileSync(join(good, 'adapter_config.json')));
    const tensors = adapterTensors(join(good, 'adapter_model.safetensors'));
    const [name, first] = [...tensors].find(([n]) => n.includes('lora_A'))!;
    first.data[3] = NaN;
    writeFileSync(join(bad, 'adapter_model.safetensors'), serializeSafetensors(tensors));
    const r = await dpo({}, 'eval', '--model', modelDir, '--data', 'examples/shout-whisper.jsonl', '--adapter', bad);
    expect(r.code, r.stderr).toBe(1);
    const module = name.replace(/^base_model\.model\./, '').replace(/\.lora_A\.weight$/, '');
    expect(r.stderr).toContain(
      `${join(bad, 'adapter_model.safetensors')}: tensor of module "${module}" (lora_A) has a non-finite value (NaN at index 3)`,
    );
  }, 180_000);
});

describe('bad setups refused before any weight loads or any step runs', () => {
  it('a tokenizer whose ids reach past config.json vocab_size, naming both numbers', async () => {
    const model = join(dir, 'small-vocab');
    mkdirSync(model);
    for (const file of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      writeFileSync(join(model, file), readFileSync(join(modelDir, file)));
    }
    const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, vocab_size: 100 }));
    const r = await dpo({}, 'eval', '--model', model, '--data', 'examples/shout-whisper.jsonl', '--backend', 'cpu');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      `dpo eval: ${model}: the tokenizer has token ids up to 256, but the model's vocab_size is 100 (ids 0–99): the tokenizer and config.json are not of the same model`,
    );
  }, 60_000);

  it('an output_dir whose "adapter" is a file, before training', async () => {
    const outDir = join(dir, 'adapter-is-a-file');
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'adapter'), 'not a folder');
    const r = await dpo({}, ...trainArgs(outDir, '--backend', 'cpu'));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`--output_dir: ${join(outDir, 'adapter')} exists and is not a folder, but train writes its adapter there`);
    expect(r.stderr).not.toMatch(/^step \d/m);
    expect(existsSync(join(outDir, 'metrics.jsonl'))).toBe(false);
  }, 60_000);
});

describe('every row accounted for', () => {
  it('a conversational row the chat template cannot render is reported with its line, and the counts add up', async () => {
    const model = join(dir, 'strict-template');
    mkdirSync(model);
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json'])
      writeFileSync(join(model, file), readFileSync(join(modelDir, file)));
    const tokenizerConfig = JSON.parse(readFileSync(join(modelDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    tokenizerConfig.chat_template =
      "{% for m in messages %}{% if 'FORBIDDEN' in m['content'] %}{{ raise_exception('this template refuses FORBIDDEN') }}{% endif %}" +
      "{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
    writeFileSync(join(model, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
    const row = (prompt: string) => ({
      prompt: [{ role: 'user', content: prompt }],
      chosen: [{ role: 'assistant', content: 'YES' }],
      rejected: [{ role: 'assistant', content: 'no' }],
    });
    const data = join(dir, 'conversations.jsonl');
    writeFileSync(data, [row('one'), row('a FORBIDDEN word'), row('three'), row('four')].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = await dpo({}, 'eval', '--model', model, '--data', data, '--backend', 'cpu');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${data}: 4 valid pairs (conversational 4; columns: prompt/chosen/rejected), 0 problems`);
    expect(r.stderr).toContain('skipped: the chat template could not render them (1):');
    expect(r.stderr).toMatch(new RegExp(`  ${data.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: .*this template refuses FORBIDDEN`));
    expect(r.stderr).toContain(`${data}: 3 pairs to use of 4 valid, 1 the chat template could not render`);
  }, 60_000);
});
