/**
 * The supported architectures, one line each. Every lookup by architecture name goes through here;
 * adding an architecture is a file in this folder exporting its ArchitectureSpec, plus its line below.
 */
import type { ModelConfig } from '../types';
import { gemma3 } from './gemma3';
import { gpt2 } from './gpt2';
import { llama, mistral, qwen2, qwen3 } from './llama';
import type { ArchitectureSpec } from './spec';

const REGISTRY = {
  LlamaForCausalLM: llama,
  MistralForCausalLM: mistral,
  Qwen2ForCausalLM: qwen2,
  Qwen3ForCausalLM: qwen3,
  Gemma3ForCausalLM: gemma3,
  GPT2LMHeadModel: gpt2,
} satisfies Record<string, ArchitectureSpec>;

/** The config.json `architectures[0]` names the registry holds. */
export type Architecture = keyof typeof REGISTRY;

/** Every supported architecture, in the registry's order. */
export const ARCHITECTURES: readonly ArchitectureSpec[] = Object.values(REGISTRY);

/** The names of the supported architectures, in the registry's order. */
export const ARCHITECTURE_NAMES = Object.keys(REGISTRY) as Architecture[];

export function isSupportedArchitecture(name: string): name is Architecture {
  return Object.hasOwn(REGISTRY, name);
}

/**
 * The spec of an architecture by its config.json name. Throws, naming the supported ones, for any
 * other; `source` (a file or model name) leads the message when given.
 */
export function getArchitecture(name: string, source?: string): ArchitectureSpec {
  if (isSupportedArchitecture(name)) return REGISTRY[name];
  const where = source === undefined ? '' : `${source}: `;
  throw new Error(`${where}architecture "${name}" is not supported; supported: ${ARCHITECTURE_NAMES.join(', ')}`);
}

/** The spec of a parsed config's architecture. */
export function architectureOf(config: Pick<ModelConfig, 'architecture'>): ArchitectureSpec {
  return getArchitecture(config.architecture);
}

/** The architecture whose config.json model_type this is, if one is supported. */
export function architectureForModelType(modelType: string): ArchitectureSpec | undefined {
  return ARCHITECTURES.find((spec) => spec.modelType === modelType);
}

/**
 * Whether a module path names a weight stored [in, out] (PEFT's fan_in_fan_out) in the architecture
 * it belongs to. For adapters, which do not name their base architecture: the supported architectures'
 * module paths do not overlap.
 */
export function isFanInFanOutModule(modulePath: string): boolean {
  return ARCHITECTURES.some((spec) => spec.isFanInFanOut(modulePath));
}
