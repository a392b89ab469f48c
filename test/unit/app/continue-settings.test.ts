import { describe, expect, it } from 'vitest';
import { applyChanges, changeOptions } from '../../../src/app/continue-settings';
import { DEFAULT_DPO_CONFIG } from '../../../src/core/dpo/config';

const config = {
  ...DEFAULT_DPO_CONFIG,
  per_device_train_batch_size: 4,
  gradient_accumulation_steps: 1,
  max_length: 256,
  gradient_checkpointing: false,
};

describe('continuing a failed run with less memory', () => {
  it('offers checkpointing, a split batch and a shorter max_length, ticking only those that keep the run the same', () => {
    const options = changeOptions(config);
    expect(options.map((o) => [o.id, o.sameRun])).toEqual([
      ['gradient_checkpointing', true],
      ['split_batch', true],
      ['shorter_max_length', false],
    ]);
    expect(options[1].label).toBe('Batch size 4 → 2, gradient accumulation 1 → 2');
    expect(options[2].label).toBe('Max length 256 → 128');
  });

  it('offers only what applies: no checkpointing when on, no split of an odd batch, no max_length below 32', () => {
    const options = changeOptions({ ...config, gradient_checkpointing: true, per_device_train_batch_size: 3, max_length: 48 });
    expect(options).toEqual([]);
    expect(changeOptions({ ...config, max_length: null }).map((o) => o.id)).toEqual(['gradient_checkpointing', 'split_batch']);
  });

  it('applies the picks and says what changed', () => {
    const { config: next, changes } = applyChanges(config, ['split_batch', 'gradient_checkpointing']);
    expect(next).toEqual({ ...config, per_device_train_batch_size: 2, gradient_accumulation_steps: 2, gradient_checkpointing: true });
    expect(changes).toEqual([
      'per_device_train_batch_size 4 → 2',
      'gradient_accumulation_steps 1 → 2',
      'gradient_checkpointing false → true',
    ]);
    expect(config.per_device_train_batch_size).toBe(4);
    expect(applyChanges(config, ['shorter_max_length']).config.max_length).toBe(128);
    expect(() => applyChanges({ ...config, per_device_train_batch_size: 1 }, ['split_batch'])).toThrow(
      /"split_batch" is not a change this run can make/,
    );
  });
});
