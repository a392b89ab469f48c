/**
 * Exports of a run (flow 7): the TRL script and its dataset file, metrics as CSV / JSON, and the
 * adapter merged into its base model. The adapter as PEFT files is saveAdapter in model/peft.ts.
 * Pure: no DOM, no Node built-ins; callers turn the strings and bytes into downloads or files.
 */
export { trlScript, type TrlScriptOptions } from './trl-script';
export { datasetJsonl, type JsonlPair } from './dataset-jsonl';
export { metricsCsv, metricsJson } from './metrics';
export { mergeAdapter, mergedModelFiles, type HostLoraAdapter, type HostLoraPair, type MergedTensor } from './merge';
