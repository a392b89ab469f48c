import { DEFAULT_DPO_CONFIG, type DPOConfig } from '../dpo/config';
import type { LoraConfig } from '../model/types';

/**
 * The settings the lab trains the demo model with on the colour task: a learning rate and step count
 * sized to the tiny demo model (a real model would want 5e-5 or less), LoRA on every linear layer, an
 * eval split of held-out-like pairs, logging every step so the charts fill as it runs, and activations
 * kept rather than recomputed (gradient checkpointing off).
 */
export const DEMO_PRESET: { dpo: DPOConfig; lora: LoraConfig } = {
  dpo: {
    ...DEFAULT_DPO_CONFIG,
    beta: 0.1,
    learning_rate: 1e-3,
    per_device_train_batch_size: 8,
    per_device_eval_batch_size: 8,
    max_steps: 40,
    max_length: 128,
    logging_steps: 1,
    eval_steps: 10,
    eval_split: 32,
    seed: 42,
    // The demo model's activations are a few MB: recomputing them would only cost time.
    gradient_checkpointing: false,
  },
  lora: { r: 16, lora_alpha: 32, lora_dropout: 0, target_modules: [], use_rslora: false },
};
