import type { LoraConfig } from '../model/types';
import { DPO_OPTIONS, LORA_OPTIONS, optionList, SFT_OPTIONS, type OptionTable } from './schema';
import type { DPOConfig, LoraOptions, SFTConfig } from './types';

/** Each option's default, keyed by name (lists copied, so a caller's edit never reaches the schema). */
export function defaultsOf<C>(table: OptionTable<C>): C {
  const out: Record<string, unknown> = {};
  for (const option of optionList(table)) out[option.name] = Array.isArray(option.default) ? [...option.default] : option.default;
  return out as C;
}

/**
 * TRL's defaults, except the learning rate: 1e-6 suits full fine-tuning, LoRA wants about 1e-5 to 5e-5
 * (the schema's trlDefault keeps TRL's).
 */
export const DEFAULT_DPO_CONFIG: DPOConfig = defaultsOf(DPO_OPTIONS);

/** TRL SFTConfig's defaults (learning rate 2e-5, max_length 1024) and TrainingArguments' for the rest. */
export const DEFAULT_SFT_CONFIG: SFTConfig = defaultsOf(SFT_OPTIONS);

/** TRL's example scripts' LoRA (r 16, α 32, dropout 0.05) on PEFT's default modules of the architecture. */
export const DEFAULT_LORA_OPTIONS: LoraOptions = defaultsOf(LORA_OPTIONS);

/** PEFT's LoraConfig for the options ("all-linear" alone is PEFT's string form; [] is the architecture's default). */
export function loraConfigOf(o: LoraOptions): LoraConfig {
  const targets = o.lora_target_modules;
  return {
    r: o.lora_r,
    lora_alpha: o.lora_alpha,
    lora_dropout: o.lora_dropout,
    target_modules: targets.length === 1 && targets[0] === 'all-linear' ? 'all-linear' : [...targets],
    use_rslora: o.use_rslora,
  };
}

/** The options that give this LoraConfig (loraConfigOf's inverse). */
export function loraOptionsOf(c: LoraConfig): LoraOptions {
  return {
    use_peft: true,
    lora_r: c.r,
    lora_alpha: c.lora_alpha,
    lora_dropout: c.lora_dropout,
    lora_target_modules: c.target_modules === 'all-linear' ? ['all-linear'] : [...c.target_modules],
    use_rslora: c.use_rslora,
  };
}

/** PEFT's LoraConfig with the schema's defaults. */
export const DEFAULT_LORA_CONFIG: LoraConfig = loraConfigOf(DEFAULT_LORA_OPTIONS);
