/** Settings: changes, fields that do not parse, and every reason the settings cannot train. */
import { validateDpoConfig } from '../../core/dpo/config';
import { DEFAULT_STUDIO_CONFIG, get, set, type StudioConfig } from '../store';
import { scheduleTokenStats } from './dataset';

export function updateConfig(change: (c: StudioConfig) => StudioConfig): void {
  const before = get().config.dpo;
  set((s) => ({ config: change(s.config) }));
  const after = get().config.dpo;
  if (before.max_length !== after.max_length || before.truncation_mode !== after.truncation_mode) scheduleTokenStats();
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
  set({ config: DEFAULT_STUDIO_CONFIG, parseErrors: {}, draftRunId: null });
  scheduleTokenStats();
}

/** Every reason the current settings cannot train, by field (validateDpoConfig's, and the studio's own). */
export function configProblems(state = get()): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const p of validateDpoConfig(state.config.dpo)) problems[p.field] ??= p.message;
  const { lora, saveSteps, dpo } = state.config;
  if (!(Number.isInteger(lora.r) && lora.r >= 1)) problems.lora_r = 'LoRA r must be a whole number ≥ 1';
  if (!(lora.lora_alpha > 0)) problems.lora_alpha = 'LoRA alpha must be greater than 0';
  if (!(lora.lora_dropout >= 0 && lora.lora_dropout < 1)) problems.lora_dropout = 'LoRA dropout must be in [0, 1)';
  if (!(Number.isInteger(saveSteps) && saveSteps >= 1)) problems.save_steps = 'checkpoint interval must be a whole number ≥ 1';
  if (!(dpo.warmup_steps >= 0 && Number.isInteger(dpo.warmup_steps))) problems.warmup_steps = 'warmup steps must be a whole number ≥ 0';
  if (state.model && dpo.max_length !== null && dpo.max_length > state.model.maxPositions) {
    problems.max_length = `max_length ${dpo.max_length} is longer than the model's ${state.model.maxPositions} positions`;
  }
  if (dpo.eval_split > 0 && dpo.eval_steps !== null && !(Number.isInteger(dpo.eval_steps) && dpo.eval_steps >= 1)) {
    problems.eval_steps = 'eval steps must be a whole number ≥ 1, or empty for the end of the run only';
  }
  for (const [field, error] of Object.entries(state.parseErrors)) problems[field] = error;
  return problems;
}
