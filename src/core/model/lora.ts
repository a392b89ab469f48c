import * as tf from '@tensorflow/tfjs';
import { Rng } from '../random';
import { architectureOf } from './architectures/registry';
import type { CausalLM, LoraAdapter, LoraConfig, LoraPair } from './types';

/** LoRA scaling: lora_alpha / r, or lora_alpha / sqrt(r) with rank-stabilised LoRA. */
export function loraScaling(config: Pick<LoraConfig, 'r' | 'lora_alpha' | 'use_rslora'>): number {
  return config.use_rslora ? config.lora_alpha / Math.sqrt(config.r) : config.lora_alpha / config.r;
}

/** Throws unless r, lora_alpha and lora_dropout are usable; `where` names the source for the message. */
export function validateLoraConfig(config: LoraConfig, where: string): void {
  if (!Number.isInteger(config.r) || config.r < 1) {
    throw new Error(`${where}: LoRA r must be a positive integer, got ${JSON.stringify(config.r)}`);
  }
  if (!Number.isFinite(config.lora_alpha) || config.lora_alpha <= 0) {
    throw new Error(`${where}: lora_alpha must be a positive number, got ${JSON.stringify(config.lora_alpha)}`);
  }
  if (!Number.isFinite(config.lora_dropout) || config.lora_dropout < 0 || config.lora_dropout >= 1) {
    throw new Error(`${where}: lora_dropout must be in [0, 1), got ${JSON.stringify(config.lora_dropout)}`);
  }
}

/** PEFT's rule: a target names a module when it equals the module path or is a dot-separated suffix of it. */
export function targetMatches(target: string, modulePath: string): boolean {
  return modulePath === target || modulePath.endsWith(`.${target}`);
}

/** An empty target list means PEFT's default targets for the architecture (its registry entry). */
function withDefaultTargets(model: CausalLM, targets: LoraConfig['target_modules']): LoraConfig['target_modules'] {
  return targets === 'all-linear' || targets.length > 0 ? targets : [...architectureOf(model.config).defaultLoraTargets];
}

/** The module paths an adapter with these targets adapts, in model order. Throws on a target that matches nothing. */
export function selectTargetModules(model: CausalLM, targets: LoraConfig['target_modules']): string[] {
  const paths = model.linearModules().map((m) => m.path);
  const names = withDefaultTargets(model, targets);
  if (names === 'all-linear') return paths;
  for (const target of names) {
    if (!paths.some((p) => targetMatches(target, p))) {
      const available = [...new Set(paths.map((p) => p.slice(p.lastIndexOf('.') + 1)))];
      throw new Error(
        `LoRA target_modules entry "${target}" matches no linear module of ${model.config.architecture}; ` +
          `available module names: ${available.join(', ')} (full paths look like "${paths[0]}"; ` +
          `or use "all-linear")`,
      );
    }
  }
  return paths.filter((p) => names.some((t) => targetMatches(t, p)));
}

/**
 * A fresh adapter, initialised as PEFT does (init_lora_weights=True): A from kaiming_uniform with
 * a = √5, which for a [r, in] matrix is U(−1/√in, 1/√in); B zero, so the adapted model starts equal
 * to the base. An empty target list means PEFT's default targets for the architecture, and the
 * adapter's config then lists them.
 */
export function createLoraAdapter(model: CausalLM, config: LoraConfig, seed: number): LoraAdapter {
  validateLoraConfig(config, 'LoRA config');
  const selected = new Set(selectTargetModules(model, config.target_modules));
  const rng = new Rng(seed);
  const modules = new Map<string, LoraPair>();
  for (const { path, inFeatures, outFeatures } of model.linearModules()) {
    if (!selected.has(path)) continue;
    const bound = 1 / Math.sqrt(inFeatures);
    const a = new Float32Array(config.r * inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
    modules.set(path, {
      A: variableFrom(tf.tensor2d(a, [config.r, inFeatures]), true),
      B: variableFrom(tf.zeros([outFeatures, config.r]), true),
    });
  }
  const target_modules = withDefaultTargets(model, config.target_modules);
  return { config: { ...config, target_modules }, scaling: loraScaling(config), modules };
}

/**
 * A copy whose variables are not trainable: TRL's frozen "ref" adapter when training continues from
 * an existing adapter (the reference is then the starting adapter, not the bare base model).
 */
export function cloneAdapterFrozen(adapter: LoraAdapter): LoraAdapter {
  const modules = new Map<string, LoraPair>();
  for (const [path, { A, B }] of adapter.modules) {
    modules.set(path, { A: variableFrom(A.clone(), false), B: variableFrom(B.clone(), false) });
  }
  return { config: { ...adapter.config }, scaling: adapter.scaling, modules };
}

export function disposeAdapter(adapter: LoraAdapter): void {
  for (const { A, B } of adapter.modules.values()) {
    A.dispose();
    B.dispose();
  }
  adapter.modules.clear();
}

/** A variable holding `initial`, which is released (the variable keeps its own reference to the data). */
export function variableFrom(initial: tf.Tensor, trainable: boolean): tf.Variable {
  const variable = tf.variable(initial, trainable);
  initial.dispose();
  return variable;
}

// The LoRA-aware linear layer lives in ./linear, which the architectures import without this module's
// registry lookups (default targets); re-exported for callers that reach it from here.
export { linearForward, loraDelta, type FrozenLinear } from './linear';
