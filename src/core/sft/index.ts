export { collateSft, sftTokenIndex, type SftBatch, type SftCollateOptions, type SftTokenIndex } from './batch';
export { DEFAULT_SFT_CONFIG, validateSftConfig, type SFTConfig } from './config';
export { sftLoss, type SftLossOptions } from './loss';
export { tokenizeSftExamples, type SftExample, type TokenizedSftExample } from './tokenize';
export { SFTTrainer, type SftLogEntry, type SftTrainerInit } from './trainer';
export { localGradients, type GradientSource, type SummedGradients } from './gradients';
export { withScatterGatherGradient } from './gather-gradient';
