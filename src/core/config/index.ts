export * from './types';
export {
  DPO_OPTIONS,
  LORA_OPTIONS,
  SFT_OPTIONS,
  optionList,
  type ConfigOption,
  type OptionGroup,
  type OptionTable,
  type OptionType,
  type Range,
} from './schema';
export {
  checkOptions,
  optionProblem,
  requirement,
  shownValue,
  validateDpoConfig,
  validateLoraConfig,
  validateLoraOptions,
  validateSftConfig,
} from './validate';
export {
  DEFAULT_DPO_CONFIG,
  DEFAULT_LORA_CONFIG,
  DEFAULT_LORA_OPTIONS,
  DEFAULT_SFT_CONFIG,
  defaultsOf,
  loraConfigOf,
  loraOptionsOf,
} from './defaults';
export { defaultText, formatNumber, formatValue, optionHint, optionLabel, trlDefaultText, versionNote } from './format';
export { compareVersions, firstReleaseWithout, inVersionRange, type VersionRange } from './versions';
