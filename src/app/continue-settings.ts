/**
 * After a run fails on the GPU (out of memory, a buffer over the device's limits), the settings it can
 * continue with from its checkpoint that need less memory: gradient checkpointing (the same numbers),
 * half the batch with twice the accumulation (the same pairs in each optimizer step), or a shorter
 * max_length (which truncates the data more: a different experiment from there on).
 */
import type { DPOConfig } from '../core/dpo/config';

export type SettingsChange = 'gradient_checkpointing' | 'split_batch' | 'shorter_max_length';

export interface ChangeOption {
  id: SettingsChange;
  label: string;
  /** What it costs or changes. */
  detail: string;
  /** Whether the run stays the same experiment (the default picks). */
  sameRun: boolean;
}

/** The shortest max_length offered (halving stops there). */
const MIN_MAX_LENGTH = 32;

export function changeOptions(c: DPOConfig): ChangeOption[] {
  const options: ChangeOption[] = [];
  if (!c.gradient_checkpointing) {
    options.push({
      id: 'gradient_checkpointing',
      label: 'Gradient checkpointing on',
      detail: 'each layer is recomputed in the backward pass: less memory, about a third more time, the same numbers',
      sameRun: true,
    });
  }
  const b = c.per_device_train_batch_size;
  if (b > 1 && b % 2 === 0) {
    options.push({
      id: 'split_batch',
      label: `Batch size ${b} → ${b / 2}, gradient accumulation ${c.gradient_accumulation_steps} → ${2 * c.gradient_accumulation_steps}`,
      detail: 'half the activations at a time; each optimizer step still sees the same pairs',
      sameRun: true,
    });
  }
  if (c.max_length !== null && c.max_length >= 2 * MIN_MAX_LENGTH) {
    options.push({
      id: 'shorter_max_length',
      label: `Max length ${c.max_length} → ${Math.floor(c.max_length / 2)}`,
      detail: 'shorter rows; longer pairs are truncated more, so the run trains on different text from here',
      sameRun: false,
    });
  }
  return options;
}

/** The config with the picked changes, and each change as "name old → new". */
export function applyChanges(c: DPOConfig, picked: readonly SettingsChange[]): { config: DPOConfig; changes: string[] } {
  const config = { ...c };
  const changes: string[] = [];
  const set = <K extends keyof DPOConfig>(key: K, value: DPOConfig[K]) => {
    changes.push(`${key} ${String(config[key])} → ${String(value)}`);
    config[key] = value;
  };
  const available = new Set(changeOptions(c).map((o) => o.id));
  for (const id of picked) {
    if (!available.has(id)) throw new Error(`"${id}" is not a change this run can make`);
    if (id === 'gradient_checkpointing') set('gradient_checkpointing', true);
    if (id === 'split_batch') {
      set('per_device_train_batch_size', c.per_device_train_batch_size / 2);
      set('gradient_accumulation_steps', 2 * c.gradient_accumulation_steps);
    }
    if (id === 'shorter_max_length') set('max_length', Math.floor(c.max_length! / 2));
  }
  return { config, changes };
}
