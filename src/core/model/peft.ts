import * as tf from '@tensorflow/tfjs';
import { architectureOf, isFanInFanOutModule } from './architectures/registry';
import { loraScaling, validateLoraConfig, variableFrom } from './lora';
import { parseSafetensors, serializeSafetensors } from './safetensors';
import { filePath, readJsonFile } from './sources';
import type { CausalLM, FileSource, HostTensor, LoraAdapter, LoraConfig, LoraPair } from './types';

/**
 * Adapters in PEFT's on-disk format: adapter_config.json plus adapter_model.safetensors, with
 * tensors named base_model.model.<module path>.lora_A.weight / .lora_B.weight (PEFT drops the adapter
 * name when saving), so `PeftModel.from_pretrained(base, folder)` loads what the studio trained.
 */

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

const TENSOR_PREFIX = 'base_model.model.';

/** The PEFT version whose LoraConfig fields adapter_config.json carries (every field, as PEFT writes them). */
const PEFT_VERSION = '0.19.1';

/**
 * The adapter as PEFT's save_pretrained writes it. With "all-linear", PEFT saves the full paths of the
 * modules it adapted, and so does this. Weights are read back asynchronously, which WebGPU needs.
 */
export async function saveAdapter(adapter: LoraAdapter, baseModelName: string): Promise<Map<string, Uint8Array | string>> {
  const paths = [...adapter.modules.keys()];
  const { config } = adapter;
  // PEFT holds target_modules as a set, so names are unique; sorted here to make files reproducible.
  const targetModules = [...new Set(config.target_modules === 'all-linear' ? paths : config.target_modules)].sort();
  // PEFT sets fan_in_fan_out for GPT-2's Conv1D layers; the stored A and B are the same either way.
  const fanInFanOut = paths.length > 0 && paths.every(isFanInFanOutModule);
  const adapterConfig: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: baseModelName,
    bias: 'none',
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.lora_alpha,
    lora_bias: false,
    lora_dropout: config.lora_dropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    peft_version: PEFT_VERSION,
    qalora_group_size: 16,
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: targetModules,
    target_parameters: null,
    task_type: 'CAUSAL_LM',
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: config.use_rslora,
  };
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [path, { A, B }] of adapter.modules) {
    tensors.set(`${TENSOR_PREFIX}${path}.lora_A.weight`, { shape: A.shape, data: (await A.data()) as Float32Array });
    tensors.set(`${TENSOR_PREFIX}${path}.lora_B.weight`, { shape: B.shape, data: (await B.data()) as Float32Array });
  }
  // An adapter with NaN or infinite weights is never written: it would pass for a trained one.
  for (const [name, { data }] of tensors) assertFinite(data, `adapter tensor "${name}"`);
  return new Map<string, Uint8Array | string>([
    [ADAPTER_CONFIG_FILE, JSON.stringify(adapterConfig, null, 2)],
    [ADAPTER_WEIGHTS_FILE, serializeSafetensors(tensors, { metadata: { format: 'pt' } })],
  ]);
}

/** Throws, naming `what` and the first bad value's index, when a value is NaN or infinite. */
function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`${what} has a non-finite value (${values[i]} at index ${i}): not a usable adapter`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === false ||
    (Array.isArray(value) && value.length === 0) ||
    (isPlainObject(value) && Object.keys(value).length === 0)
  );
}

/** PEFT features that change the forward pass or add weights this studio does not model. */
const UNSUPPORTED_FEATURES: [field: string, what: string][] = [
  ['use_dora', 'DoRA'],
  ['lora_bias', 'LoRA bias terms'],
  ['rank_pattern', 'per-module ranks (rank_pattern)'],
  ['alpha_pattern', 'per-module alphas (alpha_pattern)'],
  ['modules_to_save', 'fully trained extra modules (modules_to_save)'],
  ['trainable_token_indices', 'trainable token embeddings'],
  ['layer_replication', 'layer replication'],
  ['use_qalora', 'QA-LoRA'],
  ['alora_invocation_tokens', 'activated LoRA'],
];

/** LoraConfig from adapter_config.json; `adaptedPaths` stands in for a regex target_modules. */
function parseAdapterConfig(json: unknown, where: string, adaptedPaths: () => string[]): LoraConfig {
  if (!isPlainObject(json)) throw new Error(`${where}: expected a JSON object`);
  if (json.peft_type !== 'LORA') {
    throw new Error(`${where}: peft_type is ${JSON.stringify(json.peft_type)}; only "LORA" adapters can be loaded`);
  }
  for (const [field, what] of UNSUPPORTED_FEATURES) {
    if (!isEmpty(json[field])) throw new Error(`${where}: ${what} is not supported (${field} = ${JSON.stringify(json[field])})`);
  }
  if (json.bias !== undefined && json.bias !== 'none') {
    throw new Error(`${where}: bias = ${JSON.stringify(json.bias)} is not supported (only "none")`);
  }
  const number = (field: string, fallback?: number): number => {
    const value = json[field] ?? fallback;
    if (typeof value !== 'number') throw new Error(`${where}: "${field}" must be a number, got ${JSON.stringify(json[field])}`);
    return value;
  };
  const targets = json.target_modules;
  let target_modules: LoraConfig['target_modules'];
  if (Array.isArray(targets) && targets.every((t) => typeof t === 'string')) {
    target_modules = targets;
  } else if (typeof targets === 'string') {
    // PEFT reads any other string as a regular expression over module paths: keep what it selected.
    target_modules = targets.toLowerCase() === 'all-linear' ? 'all-linear' : adaptedPaths();
  } else {
    throw new Error(`${where}: "target_modules" must be a list of module names or a string, got ${JSON.stringify(targets)}`);
  }
  const use_rslora = json.use_rslora ?? false;
  if (typeof use_rslora !== 'boolean') throw new Error(`${where}: "use_rslora" must be true or false`);
  const config: LoraConfig = {
    r: number('r'),
    lora_alpha: number('lora_alpha'),
    lora_dropout: number('lora_dropout', 0),
    target_modules,
    use_rslora,
  };
  validateLoraConfig(config, where);
  return config;
}

/** base_model.model.<path>.lora_A[.<adapter name>].weight, the prefix optional. */
const LORA_TENSOR_NAME = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[A-Za-z0-9_-]+)?\.weight$/;

/**
 * Loads a PEFT LoRA adapter for `model`, its variables trainable. Names, ranks and shapes are checked
 * against the model, with errors naming the file, tensor, and expected and actual shapes.
 */
export async function loadAdapter(src: FileSource, model: CausalLM): Promise<LoraAdapter> {
  const configPath = filePath(src, ADAPTER_CONFIG_FILE);
  const weightsPath = filePath(src, ADAPTER_WEIGHTS_FILE);
  const json = await readJsonFile(src, ADAPTER_CONFIG_FILE);
  if (json === null) throw new Error(`${configPath} is missing: not a PEFT adapter folder`);
  const bytes = await src.readBytes(ADAPTER_WEIGHTS_FILE);
  if (bytes === null) {
    const hasBin = (await src.readBytes('adapter_model.bin')) !== null;
    throw new Error(
      `${weightsPath} is missing` + (hasBin ? ': only adapter_model.bin was found; re-save the adapter with safe_serialization=True' : ''),
    );
  }
  const modulesByPath = new Map(model.linearModules().map((m) => [m.path, m]));
  // Adapters trained on original OpenAI GPT-2 checkpoints name modules without "transformer.".
  const { canonicalName } = architectureOf(model.config);
  const resolvePath = (path: string): string => (modulesByPath.has(path) ? path : canonicalName(path));

  const halves = new Map<string, { A?: [string, HostTensor]; B?: [string, HostTensor] }>();
  for (const [name, tensor] of parseSafetensors(bytes, weightsPath).tensors) {
    const match = LORA_TENSOR_NAME.exec(name);
    if (!match) throw new Error(`${weightsPath}: tensor "${name}" is not a LoRA A or B weight; only plain LoRA adapters are supported`);
    const path = resolvePath(match[1]);
    if (!modulesByPath.has(path)) {
      throw new Error(
        `${weightsPath}: tensor "${name}" adapts module "${match[1]}", which ${model.config.architecture} does not have ` +
          `(its linear modules look like "${model.linearModules()[0]?.path}")`,
      );
    }
    const entry = halves.get(path) ?? {};
    const half = match[2] as 'A' | 'B';
    if (entry[half]) throw new Error(`${weightsPath}: module "${path}" has two lora_${half} tensors ("${entry[half][0]}", "${name}")`);
    entry[half] = [name, tensor];
    halves.set(path, entry);
  }
  if (halves.size === 0) throw new Error(`${weightsPath} holds no LoRA tensors`);

  const config = parseAdapterConfig(json, configPath, () => [...halves.keys()]);
  const expectShape = ([name, tensor]: [string, HostTensor], shape: number[], why: string) => {
    if (tensor.shape.length !== 2 || tensor.shape[0] !== shape[0] || tensor.shape[1] !== shape[1]) {
      throw new Error(`${weightsPath}: tensor "${name}" has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}] (${why})`);
    }
  };
  // Model order, so that an adapter reads and saves the same way whatever order the file lists it in.
  const pairs: { path: string; A: HostTensor; B: HostTensor }[] = [];
  for (const { path, inFeatures, outFeatures } of model.linearModules()) {
    const { A, B } = halves.get(path) ?? {};
    if (!A && !B) continue;
    if (!A || !B) throw new Error(`${weightsPath}: module "${path}" has lora_${A ? 'A' : 'B'} but no lora_${A ? 'B' : 'A'}`);
    expectShape(A, [config.r, inFeatures], `[r, in_features] with r = ${config.r} from adapter_config.json`);
    expectShape(B, [outFeatures, config.r], `[out_features, r] with r = ${config.r} from adapter_config.json`);
    pairs.push({ path, A: A[1], B: B[1] });
  }
  for (const { path, A, B } of pairs) {
    assertFinite(A.data, `${weightsPath}: tensor of module "${path}" (lora_A)`);
    assertFinite(B.data, `${weightsPath}: tensor of module "${path}" (lora_B)`);
  }
  const modules = new Map<string, LoraPair>();
  for (const { path, A, B } of pairs) {
    modules.set(path, {
      A: variableFrom(tf.tensor2d(A.data, [A.shape[0], A.shape[1]]), true),
      B: variableFrom(tf.tensor2d(B.data, [B.shape[0], B.shape[1]]), true),
    });
  }
  return { config, scaling: loraScaling(config), modules };
}
