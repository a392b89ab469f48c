/** The demo preset as the settings a first visit starts from, and leaving it when other work loads. */
import { deepEqual } from '../../core/data/extract-prompt';
import { DEMO_PRESET } from '../../core/demo/preset';
import { DEFAULT_STUDIO_CONFIG, get, set, type StudioConfig } from '../store';

/**
 * The settings a first visit starts from: the studio opens on the demo model and its colour task, so
 * Train runs the demo preset there (the README's figures are that run's).
 */
export const FIRST_VISIT_CONFIG: StudioConfig = {
  dpo: { ...DEMO_PRESET.dpo },
  lora: { ...DEMO_PRESET.lora },
  saveSteps: DEFAULT_STUDIO_CONFIG.saveSteps,
};

/** Whether the training settings are the demo preset's, untouched. */
export function isDemoPreset(config: StudioConfig): boolean {
  return deepEqual(config.dpo, DEMO_PRESET.dpo) && deepEqual(config.lora, DEMO_PRESET.lora);
}

/**
 * The demo preset is sized to the demo model on its colour task: when another model or dataset loads
 * while the settings are still the preset, they become TRL's defaults, and Configure says so with a
 * way back. Settings the person changed are left alone. (The caller refreshes the token statistics.)
 */
export function leaveDemoPreset(from: string): void {
  if (!isDemoPreset(get().config)) return;
  set((s) => ({ config: { ...DEFAULT_STUDIO_CONFIG, saveSteps: s.config.saveSteps }, parseErrors: {}, presetSwitch: { from } }));
  fitMaxLength();
}

/**
 * TRL's max_length of 1024 cannot run on a model with fewer positions (the demo has 256): while the
 * setting is still the default, it follows the loaded model's context instead of blocking Train.
 */
export function fitMaxLength(maxPositions = get().model?.maxPositions): void {
  const current = get().config.dpo.max_length;
  if (maxPositions !== undefined && current === DEFAULT_STUDIO_CONFIG.dpo.max_length && current !== null && current > maxPositions) {
    set((s) => ({ config: { ...s.config, dpo: { ...s.config.dpo, max_length: maxPositions } } }));
  }
}
