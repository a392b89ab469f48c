/** Settings: changes, fields that do not parse, and every reason the settings cannot train. */
import { validateDpoConfig, validateLoraConfig } from '../../core/config';
import { DEFAULT_STUDIO_CONFIG, get, set, type StudioConfig } from '../store';
import { scheduleTokenStats } from './dataset';
import { fitMaxLength } from './preset';

export function updateConfig(change: (c: StudioConfig) => StudioConfig): void {
  const before = get().config.dpo;
  set((s) => ({ config: change(s.config) }));
  const after = get().config.dpo;
  if (
    before.max_length !== after.max_length ||
    before.max_prompt_length !== after.max_prompt_length ||
    before.truncation_mode !== after.truncation_mode
  )
    scheduleTokenStats();
}

export function setParseError(field: string, error: string | null): void {
  set((s) => {
    const parseErrors = { ...s.parseErrors };
    if (error) parseErrors[field] = error;
    else delete parseErrors[field];
    return { parseErrors };
  });
}

export function resetConfig(): void {
  set({ config: DEFAULT_STUDIO_CONFIG, parseErrors: {}, draftRunId: null, presetSwitch: null });
  fitMaxLength();
  scheduleTokenStats();
}

/**
 * Every reason the current settings cannot train, by field: the schema's (the same messages the CLI
 * prints), then the studio's own (checkpoint interval, the loaded model's length), then text that is no number.
 */
export function configProblems(state = get()): Record<string, string> {
  const problems: Record<string, string> = {};
  const { lora, saveSteps, dpo } = state.config;
  for (const p of [...validateDpoConfig(dpo), ...validateLoraConfig(lora)]) problems[p.field] ??= p.message;
  if (!(Number.isInteger(saveSteps) && saveSteps >= 1)) problems.save_steps = 'checkpoint interval must be a whole number ≥ 1';
  if (state.model && dpo.max_length !== null && dpo.max_length > state.model.maxPositions) {
    problems.max_length = `max_length ${dpo.max_length} is longer than the model's ${state.model.maxPositions} positions`;
  }
  for (const [field, error] of Object.entries(state.parseErrors)) problems[field] = error;
  return problems;
}
