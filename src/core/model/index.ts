export type * from './types';
export { parseModelConfig, loadModelConfig, loadTokenizerFiles } from './config';
export { parseSafetensors, serializeSafetensors, loadModelTensors, type TensorToSerialize } from './safetensors';
export { memorySource, subSource, urlSource, fileListSource, filePath, readJsonFile, type PickedFile } from './sources';
export { loadCausalLM, createCausalLM } from './load';
export { createLoraAdapter, cloneAdapterFrozen, disposeAdapter, loraScaling, selectTargetModules } from './lora';
export { saveAdapter, loadAdapter, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './peft';
export { randomCheckpoint, type RandomCheckpoint, type RandomCheckpointDims, type RandomCheckpointOptions } from './random-checkpoint';
export { generateIds, type GenerateOptions } from './generate';
