import type { ConfigKeys } from '../config-keys';
import type { Architecture, CausalLM, ModelConfig } from '../types';
import type { ModelWeights } from '../weights';

/**
 * Everything the studio knows about one architecture (a config.json "architectures" name). Code outside
 * ./architectures never branches on an architecture's name: it looks the spec up in ./registry
 * (getArchitecture, architectureOf) and asks it. Adding an architecture is one file here that exports
 * its spec, and one line in the registry.
 */
export interface ArchitectureSpec {
  /** The class name config.json lists under "architectures" ("LlamaForCausalLM"). */
  name: Architecture;
  /** config.json's model_type; finds the architecture when a config has no "architectures" list. */
  modelType: string;
  /** The transformers config class's default context length (max_position_embeddings, n_positions). */
  defaultContext: number;
  /** config.json → ModelConfig, with the defaults the transformers config class applies to absent keys. */
  parseConfig(keys: ConfigKeys): ModelConfig;
  /** Every tensor the model reads, by canonical name, with the shape the config implies. */
  tensorShapes(config: ModelConfig): Map<string, number[]>;
  /**
   * The canonical spelling of a checkpoint tensor name or module path (original OpenAI GPT-2
   * checkpoints leave out "transformer."); the identity where checkpoints agree.
   */
  canonicalName(name: string): string;
  /**
   * Builds the model over checked weights (names and shapes as tensorShapes): frozen tensors (2-D ones
   * possibly in row blocks, read through ../weights' WeightReader), or tf.variables when the base
   * weights train. The model owns them and disposes them.
   */
  build(config: ModelConfig, weights: ModelWeights): CausalLM;
  /** PEFT's default target modules (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
  defaultLoraTargets: readonly string[];
  /**
   * The names of the linear modules "all-linear" adapts (every linear layer but the LM head), in the
   * order a block runs them: what target_modules may name.
   */
  linearModuleNames: readonly string[];
  /**
   * Whether the module at this (canonical) path stores its weight [in, out] rather than nn.Linear's
   * [out, in]: GPT-2's Conv1D, PEFT's fan_in_fan_out. A merged LoRA delta is then transposed.
   */
  isFanInFanOut(modulePath: string): boolean;
  /** Whether num_key_value_heads may be fewer than num_attention_heads (grouped-query attention). */
  groupedQueryAttention: boolean;
  /**
   * A complete config.json as transformers writes it for a model of these sizes (random checkpoints
   * for tests, make-tiny-model and the benchmark). Throws on sizes the architecture cannot have.
   */
  randomConfigJson(dims: RandomCheckpointDims): Record<string, unknown>;
}

/** The sizes of a random checkpoint, in Llama's config.json names (mapped to n_embd etc. for GPT-2). */
export interface RandomCheckpointDims {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Where the architecture has one, a head width other than hidden_size / num_attention_heads (Qwen3, Gemma 3). */
  head_dim?: number;
  max_position_embeddings?: number;
  tie_word_embeddings?: boolean;
}

/** The transformers version random checkpoints' config.json files claim. */
export const RANDOM_CONFIG_TRANSFORMERS_VERSION = '4.57.1';
