import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetJsonl } from '../../../src/core/export/dataset-jsonl';
import { trlScript, type TrlScriptOptions } from '../../../src/core/export/trl-script';
import { DEFAULT_DPO_CONFIG, type DPOConfig } from '../../../src/core/dpo/config';
import type { PreferenceRow } from '../../../src/core/data/types';
import type { LoraConfig } from '../../../src/core/model/types';

const LORA: LoraConfig = { r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'], use_rslora: false };

/** The interpreter itself, not a version-manager shim that costs a few hundred ms per start; null without Python. */
const PYTHON: string | null = (() => {
  const probe = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : null;
})();

/**
 * Stand-ins for torch, transformers, trl, datasets, peft and packaging that record every call, so the
 * generated script really runs under Python and its arguments are read back as Python parsed them.
 * Like the real libraries, trl >= 0.29 rejects reference_free / max_prompt_length, transformers >= 5
 * rejects warmup_ratio, and transformers 4 rejects a fractional warmup_steps.
 */
const STUBS: Record<string, string> = {
  '_record.py': `
import atexit, json, os
calls = []
atexit.register(lambda: open(os.environ["RECORD_FILE"], "w").write(json.dumps(calls)))
def record(fn, **kwargs):
    calls.append({"fn": fn, "kwargs": kwargs})
`,
  'torch.py': 'float32 = "torch.float32"\n',
  'packaging/__init__.py': '',
  'packaging/version.py': `
class Version:
    def __init__(self, text):
        self.parts = tuple(int(p) for p in text.split(".")[:3])
        self.major = self.parts[0]
    def __lt__(self, other):
        return self.parts < other.parts
`,
  'transformers/__init__.py': `
import os
from _record import record
__version__ = os.environ["STUB_TRANSFORMERS"]
class AutoModelForCausalLM:
    @staticmethod
    def from_pretrained(name, **kwargs):
        record("AutoModelForCausalLM.from_pretrained", name=name, **kwargs)
        return "model"
class AutoTokenizer:
    @staticmethod
    def from_pretrained(name, **kwargs):
        record("AutoTokenizer.from_pretrained", name=name, **kwargs)
        return "tokenizer"
`,
  'trl/__init__.py': `
import os, transformers
from _record import record
__version__ = os.environ["STUB_TRL"]
def _version(text):
    return tuple(int(p) for p in text.split(".")[:3])
def DPOConfig(**kwargs):
    if _version(__version__) >= (0, 29, 0):
        for name in ("reference_free", "max_prompt_length"):
            if name in kwargs:
                raise TypeError(f"DPOConfig.__init__() got an unexpected keyword argument '{name}'")
    if _version(transformers.__version__) >= (5, 0, 0) and "warmup_ratio" in kwargs:
        raise TypeError("DPOConfig.__init__() got an unexpected keyword argument 'warmup_ratio'")
    if _version(transformers.__version__) < (5, 0, 0) and not isinstance(kwargs.get("warmup_steps", 0), int):
        raise ValueError("warmup_steps must be an integer")
    record("DPOConfig", **kwargs)
    return "args"
class DPOTrainer:
    def __init__(self, **kwargs):
        record("DPOTrainer", **{k: v if isinstance(v, str) else type(v).__name__ for k, v in kwargs.items()})
    def train(self):
        record("train")
    def evaluate(self):
        record("evaluate")
        return {}
    def save_model(self, path):
        record("save_model", path=path)
`,
  'datasets/__init__.py': `
import json
from _record import record
def load_dataset(kind, data_files, split):
    with open(data_files) as f:
        rows = [json.loads(line) for line in f]
    record("load_dataset", kind=kind, data_files=data_files, split=split, rows=rows)
    return rows
`,
  'peft/__init__.py': `
from _record import record
def LoraConfig(**kwargs):
    record("LoraConfig", **kwargs)
    return "peft_config"
`,
};

interface Call {
  fn: string;
  kwargs: Record<string, unknown>;
}

const workDirs: string[] = [];
afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes the script and its files into a fresh folder and runs it under the stubs; returns the calls and stderr. */
function runScript(script: string, files: Record<string, string>, versions: { trl: string; transformers: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'trl-script-'));
  workDirs.push(dir);
  for (const [path, text] of Object.entries(STUBS)) {
    mkdirSync(join(dir, 'stubs', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'stubs', path), text);
  }
  mkdirSync(join(dir, 'experiment'));
  writeFileSync(join(dir, 'experiment', 'train_dpo.py'), script);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'experiment', name), text);
  const recordFile = join(dir, 'calls.json');
  const result = spawnSync(PYTHON!, [join(dir, 'experiment', 'train_dpo.py')], {
    cwd: dir, // not the script's folder: dataset paths must resolve beside the script
    env: {
      ...process.env,
      PYTHONPATH: join(dir, 'stubs'),
      RECORD_FILE: recordFile,
      STUB_TRL: versions.trl,
      STUB_TRANSFORMERS: versions.transformers,
    },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`the script failed:\n${result.stderr}`);
  const calls = JSON.parse(readFileSync(recordFile, 'utf8')) as Call[];
  const one = (fn: string) => {
    const found = calls.filter((c) => c.fn === fn);
    expect(found, fn).toHaveLength(1);
    return found[0].kwargs;
  };
  return { calls, one, stderr: result.stderr, experimentDir: join(dir, 'experiment') };
}

const ROWS: Pick<PreferenceRow, 'prompt' | 'chosen' | 'rejected'>[] = [
  { prompt: 'Capital of France?', chosen: ' Paris.', rejected: ' Lyon.' },
  { prompt: 'Say "hi"\nthen stop', chosen: ' hi', rejected: ' hello, there' },
];

const CURRENT = { trl: '1.9.0', transformers: '5.1.0' };
const LEGACY = { trl: '0.28.0', transformers: '4.57.1' };

function options(config: Partial<DPOConfig>, extra: Partial<TrlScriptOptions> = {}): TrlScriptOptions {
  return {
    config: { ...DEFAULT_DPO_CONFIG, ...config },
    lora: LORA,
    modelId: 'HuggingFaceTB/SmolLM2-135M',
    datasetFile: 'pairs.jsonl',
    ...extra,
  };
}

describe.skipIf(PYTHON === null)('trlScript runs under Python with the studio’s hyperparameters', () => {
  it('passes every hyperparameter to DPOConfig under TRL’s name, as Python reads it', () => {
    const config: DPOConfig = {
      ...DEFAULT_DPO_CONFIG,
      beta: 0.25,
      loss_type: ['sigmoid', 'bco_pair', 'sft'],
      loss_weights: [0.8, 0.2, 1],
      label_smoothing: 0,
      f_divergence_type: 'alpha_divergence',
      f_alpha_divergence_coef: 0.3,
      use_weighting: true,
      ld_alpha: 0.5,
      discopop_tau: 0.07,
      max_length: 256,
      truncation_mode: 'keep_end',
      learning_rate: 2e-5,
      per_device_train_batch_size: 4,
      per_device_eval_batch_size: 2,
      gradient_accumulation_steps: 3,
      max_steps: 40,
      num_train_epochs: 2,
      warmup_steps: 5,
      lr_scheduler_type: 'cosine',
      weight_decay: 0.01,
      adam_beta1: 0.8,
      adam_beta2: 0.99,
      adam_epsilon: 1e-7,
      max_grad_norm: 0.5,
      logging_steps: 2,
      seed: 1234,
      precompute_ref_log_probs: true,
      disable_dropout: false,
      gradient_checkpointing: false,
    };
    const { one, calls, stderr } = runScript(trlScript(options(config)), { 'pairs.jsonl': datasetJsonl(ROWS) }, CURRENT);
    expect(one('DPOConfig')).toEqual({
      output_dir: expect.stringMatching(/experiment\/dpo-output$/),
      beta: 0.25,
      loss_type: ['sigmoid', 'bco_pair', 'sft'],
      loss_weights: [0.8, 0.2, 1],
      label_smoothing: 0,
      f_divergence_type: 'alpha_divergence',
      f_alpha_divergence_coef: 0.3,
      use_weighting: true,
      ld_alpha: 0.5,
      discopop_tau: 0.07,
      max_length: 256,
      truncation_mode: 'keep_end',
      precompute_ref_log_probs: true,
      disable_dropout: false,
      gradient_checkpointing: false,
      learning_rate: 2e-5,
      per_device_train_batch_size: 4,
      per_device_eval_batch_size: 2,
      gradient_accumulation_steps: 3,
      num_train_epochs: 2,
      max_steps: 40,
      warmup_steps: 5,
      lr_scheduler_type: 'cosine',
      optim: 'adamw_torch',
      weight_decay: 0.01,
      adam_beta1: 0.8,
      adam_beta2: 0.99,
      adam_epsilon: 1e-7,
      max_grad_norm: 0.5,
      seed: 1234,
      logging_steps: 2,
      bf16: false,
      report_to: 'none',
    });
    expect(one('LoraConfig')).toEqual({
      r: 8,
      lora_alpha: 16,
      lora_dropout: 0.05,
      target_modules: ['q_proj', 'v_proj'],
      use_rslora: false,
      bias: 'none',
      task_type: 'CAUSAL_LM',
    });
    expect(one('AutoModelForCausalLM.from_pretrained')).toEqual({ name: 'HuggingFaceTB/SmolLM2-135M', dtype: 'torch.float32' });
    expect(one('AutoTokenizer.from_pretrained')).toEqual({ name: 'HuggingFaceTB/SmolLM2-135M' });
    expect(one('load_dataset')).toMatchObject({
      kind: 'json',
      data_files: expect.stringMatching(/experiment\/pairs\.jsonl$/),
      split: 'train',
      rows: ROWS,
    });
    expect(one('DPOTrainer')).toEqual({
      model: 'model',
      args: 'args',
      train_dataset: 'list',
      processing_class: 'tokenizer',
      peft_config: 'peft_config',
    });
    expect(calls.map((c) => c.fn).slice(-2)).toEqual(['train', 'save_model']);
    expect(stderr).not.toContain('Warning');
  });

  it('gives epochs, null limits, rsLoRA and all-linear their Python forms', () => {
    const lora: LoraConfig = { r: 4, lora_alpha: 6.5, lora_dropout: 0, target_modules: 'all-linear', use_rslora: true };
    const script = trlScript(options({ max_length: null, max_steps: -1, num_train_epochs: 1.5 }, { lora }));
    const { one } = runScript(script, { 'pairs.jsonl': datasetJsonl(ROWS) }, CURRENT);
    expect(one('DPOConfig')).toMatchObject({ max_length: null, max_steps: -1, num_train_epochs: 1.5, ld_alpha: null, loss_weights: null });
    expect(one('LoraConfig')).toMatchObject({ r: 4, lora_alpha: 6.5, lora_dropout: 0, target_modules: 'all-linear', use_rslora: true });
  });

  it('leaves PEFT’s default targets to PEFT when the studio used them (no target list)', () => {
    const { one } = runScript(
      trlScript(options({}, { lora: { ...LORA, target_modules: [] } })),
      { 'pairs.jsonl': datasetJsonl(ROWS) },
      CURRENT,
    );
    expect(one('LoraConfig').target_modules).toBeNull();
  });

  it('expresses a warmup ratio for transformers 5 and for transformers 4', () => {
    const script = trlScript(options({ warmup_ratio: 0.1, warmup_steps: 0 }));
    const files = { 'pairs.jsonl': datasetJsonl(ROWS) };
    expect(runScript(script, files, CURRENT).one('DPOConfig')).toMatchObject({ warmup_steps: 0.1 });
    const legacy = runScript(script, files, LEGACY).one('DPOConfig');
    expect(legacy).toMatchObject({ warmup_ratio: 0.1 });
    expect(legacy).not.toHaveProperty('warmup_steps');
  });

  it('evaluates on the held-out file the studio used', () => {
    const script = trlScript(options({ eval_split: 0.5, eval_steps: 10 }, { datasetFile: 'train.jsonl', evalDatasetFile: 'eval.jsonl' }));
    const { calls, one } = runScript(script, { 'train.jsonl': datasetJsonl([ROWS[0]]), 'eval.jsonl': datasetJsonl([ROWS[1]]) }, CURRENT);
    const loads = calls.filter((c) => c.fn === 'load_dataset').map((c) => c.kwargs);
    expect(loads.map((l) => [String(l.data_files).split('/').pop(), l.rows])).toEqual([
      ['train.jsonl', [ROWS[0]]],
      ['eval.jsonl', [ROWS[1]]],
    ]);
    expect(one('DPOConfig')).toMatchObject({ eval_strategy: 'steps', eval_steps: 10 });
    expect(one('DPOTrainer')).toMatchObject({ train_dataset: 'list', eval_dataset: 'list' });
    expect(calls.map((c) => c.fn).slice(-3)).toEqual(['train', 'evaluate', 'save_model']);
  });

  describe('options TRL removed in 0.29', () => {
    const legacyConfig = options({ label_smoothing: 0.1, reference_free: true, max_prompt_length: 64 });

    it('are passed to TRL 0.28, which still has them', () => {
      const { one, stderr } = runScript(trlScript(legacyConfig), { 'pairs.jsonl': datasetJsonl(ROWS) }, LEGACY);
      expect(one('DPOConfig')).toMatchObject({ label_smoothing: 0.1, reference_free: true, max_prompt_length: 64 });
      expect(stderr).not.toContain('does not support');
    });

    it('are left out on newer TRL with a warning naming each of them', () => {
      const { one, stderr } = runScript(trlScript(legacyConfig), { 'pairs.jsonl': datasetJsonl(ROWS) }, CURRENT);
      const args = one('DPOConfig');
      expect(args).not.toHaveProperty('reference_free');
      expect(args).not.toHaveProperty('max_prompt_length');
      expect(stderr).toContain('TRL 1.9.0 does not support settings this run used');
      expect(stderr).toContain("label_smoothing=0.1 with loss_type 'sigmoid'");
      expect(stderr).toContain('reference_free=True');
      expect(stderr).toContain('max_prompt_length=64');
    });

    it('keep TRL 0.28 from applying its old 512-token prompt limit when the studio had none', () => {
      const { one } = runScript(trlScript(options({})), { 'pairs.jsonl': datasetJsonl(ROWS) }, LEGACY);
      expect(one('DPOConfig')).toMatchObject({ max_prompt_length: null });
    });

    it('label_smoothing is not a legacy setting for robust, which current TRL applies', () => {
      const { stderr, one } = runScript(
        trlScript(options({ loss_type: ['robust'], label_smoothing: 0.1 })),
        { 'pairs.jsonl': datasetJsonl(ROWS) },
        CURRENT,
      );
      expect(one('DPOConfig')).toMatchObject({ loss_type: ['robust'], label_smoothing: 0.1 });
      expect(stderr).not.toContain('does not support');
    });
  });

  it('quotes a model id and file names that need escaping', () => {
    const script = trlScript(options({}, { modelId: 'my "odd"\\model', datasetFile: 'pairs (1).jsonl' }));
    const { one } = runScript(script, { 'pairs (1).jsonl': datasetJsonl(ROWS) }, CURRENT);
    expect(one('AutoModelForCausalLM.from_pretrained').name).toBe('my "odd"\\model');
  });
});

describe('trlScript without Python', () => {
  it('asks for the held-out file when the run held pairs out', () => {
    expect(() => trlScript(options({ eval_split: 0.1 }))).toThrow('config.eval_split is 0.1, so pass evalDatasetFile');
  });

  it('refuses values with no Python literal, naming the field', () => {
    expect(() => trlScript(options({ beta: Number.NaN }))).toThrow('beta: NaN has no Python literal');
    expect(() => trlScript(options({ per_device_train_batch_size: 2.5 }))).toThrow(
      'per_device_train_batch_size: expected a whole number, got 2.5',
    );
  });

  it('writes Python literals, not JavaScript ones', () => {
    const script = trlScript(options({ ld_alpha: null, use_weighting: true, learning_rate: 5e-5 }));
    expect(script).toContain('    ld_alpha=None,\n');
    expect(script).toContain('    use_weighting=True,\n');
    expect(script).toContain('    learning_rate=5e-5,\n');
    expect(script).toContain('    beta=0.1,\n');
    expect(script).not.toMatch(/\b(null|true|false|undefined)\b/);
  });
});
