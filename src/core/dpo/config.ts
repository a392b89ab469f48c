/**
 * DPOConfig, by TRL's names. The schema (core/config) holds every option's type, default, range and
 * help; this module keeps the names the DPO code has always imported.
 */
export {
  DEFAULT_DPO_CONFIG,
  F_DIVERGENCE_TYPES,
  LOSS_TYPES,
  LR_SCHEDULER_TYPES,
  validateDpoConfig,
  type ConfigProblem,
  type DataConfig,
  type DPOConfig,
  type FDivergenceType,
  type LossConfig,
  type LossType,
  type LrSchedulerType,
  type TrainConfig,
} from '../config';
