import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  DEFAULT_DPO_CONFIG,
  DEFAULT_LORA_CONFIG,
  DEFAULT_SFT_CONFIG,
  DPO_OPTIONS,
  firstReleaseWithout,
  inVersionRange,
  LORA_OPTIONS,
  loraConfigOf,
  loraOptionsOf,
  optionHint,
  optionList,
  SFT_OPTIONS,
  validateDpoConfig,
  validateLoraConfig,
  validateSftConfig,
  type ConfigOption,
  type DPOConfig,
} from '../../../src/core/config';
import { DEMO_PRESET } from '../../../src/core/demo/preset';

const trlDefault = (o: ConfigOption) => (o.trlDefault === undefined ? o.default : o.trlDefault);

describe('the schema’s defaults are TRL’s', () => {
  // Read from huggingface/trl v1.9.0: trl/trainer/dpo_config.py (DPOConfig, over transformers'
  // TrainingArguments) and trl/trainer/model_config.py (ModelConfig's LoRA fields).
  const DPO_CONFIG_V1_9: Partial<Record<keyof DPOConfig, unknown>> = {
    beta: 0.1,
    loss_type: ['sigmoid'],
    loss_weights: null,
    label_smoothing: 0,
    f_divergence_type: 'reverse_kl',
    f_alpha_divergence_coef: 0.5,
    use_weighting: false,
    ld_alpha: null,
    discopop_tau: 0.05,
    max_length: 1024,
    truncation_mode: 'keep_start',
    precompute_ref_log_probs: false,
    disable_dropout: true,
    learning_rate: 1e-6,
    logging_steps: 10,
  };
  const TRAINING_ARGUMENTS: Partial<Record<keyof DPOConfig, unknown>> = {
    per_device_train_batch_size: 8,
    per_device_eval_batch_size: 8,
    gradient_accumulation_steps: 1,
    num_train_epochs: 3,
    max_steps: -1,
    warmup_ratio: 0,
    warmup_steps: 0,
    lr_scheduler_type: 'linear',
    weight_decay: 0,
    adam_beta1: 0.9,
    adam_beta2: 0.999,
    adam_epsilon: 1e-8,
    max_grad_norm: 1,
    seed: 42,
    eval_steps: null,
  };
  const MODEL_CONFIG = { use_peft: false, lora_r: 16, lora_alpha: 32, lora_dropout: 0.05, use_rslora: false };

  it.each(Object.entries({ ...DPO_CONFIG_V1_9, ...TRAINING_ARGUMENTS }))('DPOConfig %s', (name, value) => {
    expect(trlDefault(DPO_OPTIONS[name as keyof DPOConfig])).toEqual(value);
  });

  it.each(Object.entries(MODEL_CONFIG))('ModelConfig %s', (name, value) => {
    expect(trlDefault(LORA_OPTIONS[name as keyof typeof LORA_OPTIONS])).toEqual(value);
  });

  it('keeps TRL 0.28’s defaults for the options it removed', () => {
    // v0.28.0 dpo_config.py: max_prompt_length falls back to 512 when not given; reference_free is off.
    expect(trlDefault(DPO_OPTIONS.max_prompt_length)).toBe(512);
    expect(trlDefault(DPO_OPTIONS.reference_free)).toBe(false);
  });

  it('uses SFTConfig’s learning rate for SFT and the DPO table for the rest', () => {
    expect(SFT_OPTIONS.learning_rate.trlDefault).toBe(2e-5);
    expect(DEFAULT_SFT_CONFIG.learning_rate).toBe(2e-5);
    expect(SFT_OPTIONS.seed).toBe(DPO_OPTIONS.seed);
  });

  it('differs from TRL only where it says why: the LoRA learning rate and always-on PEFT', () => {
    const differing = [...optionList(DPO_OPTIONS), ...optionList(LORA_OPTIONS)]
      .filter((o) => o.trlDefault !== undefined && JSON.stringify(o.trlDefault) !== JSON.stringify(o.default))
      .map((o) => o.name);
    expect(differing.sort()).toEqual(['learning_rate', 'max_prompt_length', 'use_peft']);
  });
});

describe('derived defaults', () => {
  it('DEFAULT_DPO_CONFIG is the config the code has always started from', () => {
    expect(DEFAULT_DPO_CONFIG).toEqual({
      beta: 0.1,
      loss_type: ['sigmoid'],
      loss_weights: null,
      label_smoothing: 0,
      f_divergence_type: 'reverse_kl',
      f_alpha_divergence_coef: 0.5,
      use_weighting: false,
      ld_alpha: null,
      reference_free: false,
      discopop_tau: 0.05,
      max_length: 1024,
      max_prompt_length: null,
      truncation_mode: 'keep_start',
      learning_rate: 5e-5,
      per_device_train_batch_size: 8,
      per_device_eval_batch_size: 8,
      gradient_accumulation_steps: 1,
      max_steps: -1,
      num_train_epochs: 3,
      warmup_ratio: 0,
      warmup_steps: 0,
      lr_scheduler_type: 'linear',
      weight_decay: 0,
      adam_beta1: 0.9,
      adam_beta2: 0.999,
      adam_epsilon: 1e-8,
      max_grad_norm: 1.0,
      logging_steps: 10,
      eval_steps: null,
      eval_split: 0,
      seed: 42,
      precompute_ref_log_probs: false,
      disable_dropout: true,
      gradient_checkpointing: true,
    });
  });

  it('DEFAULT_SFT_CONFIG (TRL SFTConfig and TrainingArguments) and the LoRA defaults', () => {
    expect(DEFAULT_SFT_CONFIG).toEqual({
      learning_rate: 2e-5,
      per_device_train_batch_size: 8,
      gradient_accumulation_steps: 1,
      max_steps: -1,
      num_train_epochs: 3,
      warmup_ratio: 0,
      warmup_steps: 0,
      lr_scheduler_type: 'linear',
      weight_decay: 0,
      adam_beta1: 0.9,
      adam_beta2: 0.999,
      adam_epsilon: 1e-8,
      max_grad_norm: 1.0,
      logging_steps: 10,
      seed: 42,
      max_length: 1024,
    });
    expect(DEFAULT_LORA_CONFIG).toEqual({ r: 16, lora_alpha: 32, lora_dropout: 0.05, target_modules: [], use_rslora: false });
  });

  it('hands out copies of list defaults', () => {
    DEFAULT_DPO_CONFIG.loss_type.push('sft');
    try {
      expect(DPO_OPTIONS.loss_type.default).toEqual(['sigmoid']);
    } finally {
      DEFAULT_DPO_CONFIG.loss_type.pop();
    }
  });

  it('converts LoRA options to PEFT’s LoraConfig and back', () => {
    const all = loraConfigOf({ ...loraOptionsOf(DEFAULT_LORA_CONFIG), lora_target_modules: ['all-linear'] });
    expect(all.target_modules).toBe('all-linear');
    expect(loraOptionsOf(all).lora_target_modules).toEqual(['all-linear']);
    const some = { ...DEFAULT_LORA_CONFIG, r: 4, target_modules: ['q_proj'] };
    expect(loraConfigOf(loraOptionsOf(some))).toEqual(some);
  });
});

describe('TRL versions', () => {
  it('knows the options TRL 0.29 removed and the ones later releases added', () => {
    const removed = optionList(DPO_OPTIONS).filter((o) => o.trl !== false && !inVersionRange(o.trl, '0.29'));
    expect(removed.map((o) => o.name)).toEqual(['reference_free', 'max_prompt_length']);
    expect(inVersionRange(DPO_OPTIONS.max_prompt_length.trl as object, '0.28')).toBe(true);
    // First DPOConfig releases with them (v0.18.0 for ld_alpha, v0.20.0 for loss_weights).
    expect(inVersionRange(DPO_OPTIONS.ld_alpha.trl as object, '0.17')).toBe(false);
    expect(inVersionRange(DPO_OPTIONS.ld_alpha.trl as object, '0.28')).toBe(true);
    expect(inVersionRange(DPO_OPTIONS.loss_weights.trl as object, '0.19')).toBe(false);
    expect(inVersionRange(DPO_OPTIONS.loss_weights.trl as object, '1.9')).toBe(true);
    expect(DPO_OPTIONS.eval_split.trl).toBe(false);
  });

  it('compares release lines numerically, a bare major covering its line', () => {
    expect(compareVersions('0.9', '0.28')).toBeLessThan(0);
    expect(compareVersions('1.0', '0.29')).toBeGreaterThan(0);
    expect(compareVersions('4.57.1', '4')).toBe(0);
    expect(inVersionRange({ until: '4' }, '5.1')).toBe(false);
    expect(firstReleaseWithout('0.28')).toBe('0.29');
    expect(firstReleaseWithout('4')).toBe('5');
    expect(() => compareVersions('v1', '1.0')).toThrow(/major/);
  });
});

describe('validation', () => {
  const problems = (over: Partial<DPOConfig>) => validateDpoConfig({ ...DEFAULT_DPO_CONFIG, ...over });

  it('passes the defaults and the demo preset', () => {
    expect(validateDpoConfig(DEFAULT_DPO_CONFIG)).toEqual([]);
    expect(validateDpoConfig(DEMO_PRESET.dpo)).toEqual([]);
    expect(validateLoraConfig(DEMO_PRESET.lora)).toEqual([]);
    expect(validateSftConfig(DEFAULT_SFT_CONFIG)).toEqual([]);
  });

  it.each<[Partial<DPOConfig>, string, string]>([
    [{ beta: 0 }, 'beta', 'beta must be greater than 0, got 0'],
    [{ beta: Number.NaN }, 'beta', 'beta must be greater than 0, got NaN'],
    [{ learning_rate: -1 }, 'learning_rate', 'learning_rate must be greater than 0, got -1'],
    [{ per_device_train_batch_size: 0 }, 'per_device_train_batch_size', 'per_device_train_batch_size must be a whole number ≥ 1, got 0'],
    [
      { gradient_accumulation_steps: 1.5 },
      'gradient_accumulation_steps',
      'gradient_accumulation_steps must be a whole number ≥ 1, got 1.5',
    ],
    [{ label_smoothing: 0.5 }, 'label_smoothing', 'label_smoothing must be in [0, 0.5), got 0.5'],
    [{ ld_alpha: 2 }, 'ld_alpha', 'ld_alpha must be in [0, 1] or none, got 2'],
    [{ max_length: 1 }, 'max_length', 'max_length must be a whole number ≥ 2 or none, got 1'],
    [{ warmup_steps: -1 }, 'warmup_steps', 'warmup_steps must be a whole number ≥ 0, got -1'],
    [{ max_grad_norm: -1 }, 'max_grad_norm', 'max_grad_norm must be ≥ 0, got -1'],
    [{ adam_beta2: 1 }, 'adam_beta2', 'adam_beta2 must be in [0, 1), got 1'],
    [{ loss_type: [] }, 'loss_type', 'loss_type must name at least one value, got none'],
    [
      { f_divergence_type: 'kl' as never },
      'f_divergence_type',
      'f_divergence_type must be one of reverse_kl, forward_kl, js_divergence, alpha_divergence, got "kl"',
    ],
    [{ beta: null as never }, 'beta', 'beta must be greater than 0, got none'],
  ])('%o → %s: %s', (over, field, message) => {
    expect(problems(over)).toEqual([{ field, message }]);
  });

  it('names an unknown loss among the known ones', () => {
    expect(problems({ loss_type: ['sigmoid', 'dpo' as never] })).toEqual([
      { field: 'loss_type', message: expect.stringMatching(/^loss_type must hold only sigmoid, hinge, .*, sft, got "dpo"$/) },
    ]);
  });

  it('checks the rules across options', () => {
    expect(problems({ loss_type: ['sigmoid', 'sft'], loss_weights: [1] })).toEqual([
      { field: 'loss_weights', message: 'loss_weights must hold one weight per loss_type (2), got 1' },
    ]);
    expect(problems({ loss_type: ['exo_pair'] })).toEqual([
      { field: 'label_smoothing', message: 'exo_pair needs label_smoothing > 0 (e.g. 1e-3)' },
    ]);
    expect(problems({ loss_type: ['aot'], use_weighting: true })).toEqual([
      { field: 'use_weighting', message: 'use_weighting (WPO) cannot be combined with aot or aot_unpaired' },
    ]);
    expect(problems({ max_steps: -1, num_train_epochs: 0 })).toEqual([
      { field: 'max_steps', message: 'set max_steps > 0 or num_train_epochs > 0' },
    ]);
  });

  it('checks eval_steps only when pairs are held out', () => {
    expect(problems({ eval_steps: 0 })).toEqual([]);
    expect(problems({ eval_steps: 0, eval_split: 0.1 })).toEqual([
      { field: 'eval_steps', message: 'eval_steps must be a whole number ≥ 1 or none, got 0' },
    ]);
    expect(problems({ eval_steps: null, eval_split: 0.1 })).toEqual([]);
  });

  it('checks LoRA and SFT settings by the same table', () => {
    expect(validateLoraConfig({ ...DEFAULT_LORA_CONFIG, r: 0, lora_dropout: 1 })).toEqual([
      { field: 'lora_r', message: 'lora_r must be a whole number ≥ 1, got 0' },
      { field: 'lora_dropout', message: 'lora_dropout must be in [0, 1), got 1' },
    ]);
    expect(validateSftConfig({ ...DEFAULT_SFT_CONFIG, learning_rate: -1, max_steps: 0, num_train_epochs: 0 })).toEqual([
      { field: 'learning_rate', message: 'learning_rate must be greater than 0, got -1' },
      { field: 'max_steps', message: 'set max_steps > 0 or num_train_epochs > 0' },
    ]);
  });
});

describe('what people read', () => {
  it('gives every option help, and the studio a hint with TRL’s default', () => {
    for (const o of [...optionList(DPO_OPTIONS), ...optionList(LORA_OPTIONS)]) expect(o.help.length, o.name).toBeGreaterThan(5);
    expect(optionHint(DPO_OPTIONS.learning_rate)).toBe('Peak AdamW learning rate; LoRA wants about 1e-5 to 1e-4. TRL: 1e-6');
    expect(optionHint(DPO_OPTIONS.beta)).toMatch(/^How far .*\. TRL: 0\.1$/);
    // A Greek letter stays itself: capitalising ε would show as a Latin-looking Ε.
    expect(optionHint(DPO_OPTIONS.label_smoothing)).toMatch(/^ε: conservative DPO/);
    expect(optionHint(DPO_OPTIONS.eval_split)).not.toContain('TRL:');
  });
});
