/**
 * config.json → ModelConfig, with the defaults Hugging Face's config classes apply for keys a file
 * leaves out, and the tokenizer files that travel with a model. Each architecture parses its own keys
 * (./architectures); this picks the architecture.
 */
import { architectureForModelType, getArchitecture } from './architectures/registry';
import type { ArchitectureSpec } from './architectures/spec';
import { ConfigKeys, isPlainObject } from './config-keys';
import { filePath, readJsonFile } from './sources';
import type { FileSource, ModelConfig } from './types';

function architectureFromKeys(keys: ConfigKeys): ArchitectureSpec {
  const listed = keys.raw.architectures;
  const modelType = keys.raw.model_type;
  let name: unknown;
  if (Array.isArray(listed) && listed.length > 0) name = listed[0];
  else if (typeof modelType === 'string') {
    // Configs without an "architectures" list: go by model_type.
    name = architectureForModelType(modelType)?.name ?? modelType;
  }
  if (typeof name !== 'string') {
    throw new Error(`${keys.source}: names no architecture (neither "architectures" nor a known "model_type")`);
  }
  return getArchitecture(name, keys.source);
}

/** Normalises a parsed config.json; `source` names it in errors. */
export function parseModelConfig(json: unknown, source: string): ModelConfig {
  if (!isPlainObject(json)) throw new Error(`${source}: config must be a JSON object`);
  const keys = new ConfigKeys(json, source);
  return architectureFromKeys(keys).parseConfig(keys);
}

/** Reads and parses config.json at the root of a model source. */
export async function loadModelConfig(src: FileSource): Promise<ModelConfig> {
  const json = await readJsonFile(src, 'config.json');
  if (json === null) throw new Error(`${src.name}: config.json is missing`);
  return parseModelConfig(json, filePath(src, 'config.json'));
}

/**
 * The tokenizer files of a model: tokenizer.json and tokenizer_config.json are required;
 * generation_config.json and chat_template.jinja (where newer transformers keep the template) are not.
 */
export async function loadTokenizerFiles(src: FileSource): Promise<{
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  generationConfig: unknown | null;
  chatTemplate: string | null;
}> {
  const tokenizerJson = await readJsonFile(src, 'tokenizer.json');
  if (tokenizerJson === null) {
    throw new Error(`${src.name}: tokenizer.json is missing (a fast-tokenizer file is needed; tokenizer.model alone is not enough)`);
  }
  const tokenizerConfig = await readJsonFile(src, 'tokenizer_config.json');
  if (tokenizerConfig === null) throw new Error(`${src.name}: tokenizer_config.json is missing`);
  const generationConfig = await readJsonFile(src, 'generation_config.json');
  const chatTemplate = await src.readText('chat_template.jinja');
  return { tokenizerJson, tokenizerConfig, generationConfig, chatTemplate };
}
