import { beforeEach, describe, expect, it } from 'vitest';
import { DEMO_PRESET } from '../../../src/core/demo/preset';
import { FIRST_VISIT_CONFIG, isDemoPreset, leaveDemoPreset } from '../../../src/app/actions/preset';
import { DEFAULT_STUDIO_CONFIG, get, set } from '../../../src/app/store';

describe('the demo preset as a first visit sees it', () => {
  beforeEach(() => set({ config: FIRST_VISIT_CONFIG, presetSwitch: null, model: null }));

  it('a first visit starts on the preset', () => {
    expect(isDemoPreset(get().config)).toBe(true);
    expect(get().config.dpo).toEqual(DEMO_PRESET.dpo);
    expect(isDemoPreset(DEFAULT_STUDIO_CONFIG)).toBe(false);
  });

  it('another model or dataset turns untouched preset settings into TRL defaults, keeping the checkpoint interval, and says from what', () => {
    set((s) => ({ config: { ...s.config, saveSteps: 7 } }));
    leaveDemoPreset('mine.jsonl');
    expect(get().config).toEqual({ ...DEFAULT_STUDIO_CONFIG, saveSteps: 7 });
    expect(get().presetSwitch).toEqual({ from: 'mine.jsonl' });
  });

  it("TRL's max_length follows a model with fewer positions", () => {
    set({ model: { maxPositions: 256 } as never });
    leaveDemoPreset('tiny');
    expect(get().config.dpo.max_length).toBe(256);
  });

  it('settings the person changed are left alone', () => {
    set((s) => ({ config: { ...s.config, dpo: { ...s.config.dpo, beta: 0.2 } } }));
    const before = get().config;
    leaveDemoPreset('mine.jsonl');
    expect(get().config).toBe(before);
    expect(get().presetSwitch).toBeNull();
  });
});
